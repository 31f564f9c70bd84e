//! The result of a backward sweep: the gradients of the tensors that asked for one.

use std::collections::HashMap;

use crate::Tensor;

/// Gradients of a loss with respect to the tensors watched on one tape.
#[derive(Debug, Default)]
pub struct Gradients {
    pub(crate) tape_id: u64,
    pub(crate) by_node: HashMap<usize, Tensor>,
}

impl Gradients {
    /// The gradient for `tensor` (a tensor returned by [`crate::Tape::watch`]), or `None` if the
    /// loss does not depend on it or it was never watched on this tape.
    pub fn get(&self, tensor: &Tensor) -> Option<&Tensor> {
        let link = tensor.link.as_ref()?;
        if link.tape_id != self.tape_id {
            return None;
        }
        self.by_node.get(&link.node)
    }

    /// Takes the gradient for `tensor` out of the store.
    pub fn remove(&mut self, tensor: &Tensor) -> Option<Tensor> {
        let link = tensor.link.as_ref()?;
        if link.tape_id != self.tape_id {
            return None;
        }
        self.by_node.remove(&link.node)
    }

    pub fn len(&self) -> usize {
        self.by_node.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_node.is_empty()
    }
}
