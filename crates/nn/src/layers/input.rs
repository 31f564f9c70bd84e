//! Input: where a model's data comes in.

use tensor_core::Tensor;

use super::base::{LayerBase, layer_basics};
use crate::{ForwardCtx, Layer, Result};

/// A model input of a given shape (batch axis excluded), Keras's `InputLayer`. It starts a
/// Sequential model (`Input::new(&[28, 28, 1])` as the first layer) or, through
/// [`Input::symbolic`](crate::SymbolicTensor), a functional one.
pub struct Input {
    base: LayerBase,
}

impl Input {
    /// An input taking samples of `shape` (batch axis excluded).
    pub fn new(shape: &[usize]) -> Input {
        let mut base = LayerBase::new("input_layer");
        base.declared_input = Some(shape.to_vec());
        Input { base }
    }

    /// Names the input (otherwise its model names it: input_layer, input_layer_1, ...).
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.base.name = name.into();
        self
    }

    /// The input's shape, batch axis excluded.
    pub fn shape(&self) -> &[usize] {
        self.base.declared_input.as_deref().unwrap_or_default()
    }
}

impl Layer for Input {
    layer_basics!("InputLayer", "input_layer");

    /// Takes no input, or one of exactly its own shape; gives its shape.
    fn build(&mut self, inputs: &[Vec<usize>]) -> Result<Vec<usize>> {
        let shape = self.shape().to_vec();
        if !(inputs.is_empty() || inputs == [shape.clone()]) {
            return Err(self.base.error(format!(
                "an input of shape {shape:?} takes no input of its own, got shapes {inputs:?}"
            )));
        }
        self.base.build_weights(std::slice::from_ref(&shape), |_| Ok(()))?;
        Ok(shape)
    }

    fn forward(&self, inputs: &[Tensor], _ctx: &mut ForwardCtx<'_>) -> Result<Tensor> {
        self.base.check_inputs(inputs)?;
        Ok(inputs[0].clone())
    }
}
