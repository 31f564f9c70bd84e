//! The tape: a flat list of recorded ops, and the one reverse sweep over it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use super::{Backward, Gradients, NoGradGuard, no_grad};
use crate::{Error, Result, Shape, Tensor};

static NEXT_TAPE_ID: AtomicU64 = AtomicU64::new(1);

/// One entry of the tape: a watched tensor (no rule) or an op's output (its rule and inputs).
struct Node {
    shape: Shape,
    rule: Option<Box<dyn Backward>>,
    /// For each input of the op, its node on this tape, or `None` if it was not tracked.
    inputs: Vec<Option<usize>>,
    /// Watched tensors keep their gradient in the result; intermediates are freed in the sweep.
    watched: bool,
}

struct TapeInner {
    id: u64,
    nodes: Mutex<Option<Vec<Node>>>,
}

impl TapeInner {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Vec<Node>>> {
        self.nodes.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A tensor's place on a tape. Held weakly, so tensors never keep a dropped tape alive.
#[derive(Clone)]
pub(crate) struct TapeLink {
    tape: Weak<TapeInner>,
    pub(crate) tape_id: u64,
    pub(crate) node: usize,
}

impl TapeLink {
    pub(crate) fn is_live(&self) -> bool {
        self.tape.upgrade().is_some_and(|t| t.lock().is_some())
    }
}

/// Records the ops applied to watched tensors, then computes gradients in one reverse sweep.
///
/// ```
/// use tensor_core::{Device, DType, Tape, Tensor};
/// let x = Tensor::from_vec(vec![3.0f64], [1], &Device::Cpu).unwrap();
/// let tape = Tape::new();
/// let x = tape.watch(&x);
/// let y = x.mul(&x).unwrap();
/// let grads = tape.backward(&y).unwrap();
/// assert_eq!(grads.get(&x).unwrap().to_vec::<f64>().unwrap(), vec![6.0]);
/// ```
///
/// A tape is swept once: afterwards ops on its tensors are no longer recorded, and what it held
/// (saved activations, intermediate gradients) has been freed.
pub struct Tape {
    inner: Arc<TapeInner>,
}

impl Default for Tape {
    fn default() -> Self {
        Self::new()
    }
}

impl Tape {
    pub fn new() -> Tape {
        Tape {
            inner: Arc::new(TapeInner {
                id: NEXT_TAPE_ID.fetch_add(1, Ordering::Relaxed),
                nodes: Mutex::new(Some(Vec::new())),
            }),
        }
    }

    /// Starts recording ops on `tensor`. Returns the tensor to compute with (same storage); its
    /// gradient is in the [`Gradients`] that [`Tape::backward`] returns.
    pub fn watch(&self, tensor: &Tensor) -> Tensor {
        let mut guard = self.inner.lock();
        let Some(nodes) = guard.as_mut() else {
            return tensor.detach();
        };
        nodes.push(Node { shape: tensor.shape().clone(), rule: None, inputs: Vec::new(), watched: true });
        let mut watched = tensor.detach();
        watched.link = Some(self.link(nodes.len() - 1));
        watched
    }

    fn link(&self, node: usize) -> TapeLink {
        TapeLink { tape: Arc::downgrade(&self.inner), tape_id: self.inner.id, node }
    }

    /// Number of records on the tape (0 once it has been swept).
    pub fn len(&self) -> usize {
        self.inner.lock().as_ref().map_or(0, Vec::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Gradients of `loss` with respect to every watched tensor it depends on. A loss with more
    /// than one element is treated as the sum of its elements (its seed gradient is all ones).
    pub fn backward(&self, loss: &Tensor) -> Result<Gradients> {
        let root = match &loss.link {
            Some(link) if link.tape_id == self.inner.id => link.node,
            _ => {
                return Err(Error::Autodiff(
                    "backward: the loss was not computed from any tensor watched on this tape".into(),
                ));
            }
        };
        let mut nodes = self.inner.lock().take().ok_or_else(|| {
            Error::Autodiff("backward: this tape was already swept; record a new one".into())
        })?;
        let _no_grad = NoGradGuard::new();
        let mut grads: Vec<Option<Tensor>> = vec![None; root + 1];
        grads[root] = Some(loss.detach().ones_like()?);
        let mut by_node = HashMap::new();
        for index in (0..=root).rev() {
            let Some(grad) = grads[index].take() else { continue };
            let node = &mut nodes[index];
            // Dropping the rule frees what the forward pass saved for it.
            if let Some(rule) = node.rule.take() {
                let needs: Vec<bool> = node.inputs.iter().map(Option::is_some).collect();
                let input_grads = rule.backward(&grad, &needs)?;
                if input_grads.len() != node.inputs.len() {
                    return Err(Error::Autodiff(format!(
                        "{}: backward returned {} gradients for {} inputs",
                        rule.name(),
                        input_grads.len(),
                        node.inputs.len()
                    )));
                }
                let inputs = std::mem::take(&mut node.inputs);
                for (input, input_grad) in inputs.into_iter().zip(input_grads) {
                    let (Some(input), Some(input_grad)) = (input, input_grad) else { continue };
                    if input_grad.shape() != &nodes[input].shape {
                        return Err(Error::Autodiff(format!(
                            "{}: backward gave a gradient of shape {} for an input of shape {}",
                            rule.name(),
                            input_grad.shape(),
                            nodes[input].shape
                        )));
                    }
                    grads[input] = Some(match grads[input].take() {
                        None => input_grad,
                        Some(sum) => sum.add(&input_grad)?,
                    });
                }
            }
            if nodes[index].watched {
                by_node.insert(index, grad);
            }
        }
        Ok(Gradients { tape_id: self.inner.id, by_node })
    }
}

/// Links `output` to the tape its tracked `inputs` are on, recording the rule `make` builds.
/// Returns `output` untracked when no input is tracked or recording is off (see [`no_grad`]).
pub(crate) fn record(
    mut output: Tensor,
    inputs: &[&Tensor],
    make: impl FnOnce() -> Box<dyn Backward>,
) -> Result<Tensor> {
    if super::no_grad::is_active() {
        return Ok(output);
    }
    let mut tape: Option<Arc<TapeInner>> = None;
    for link in inputs.iter().filter_map(|t| t.link.as_ref()) {
        let Some(inner) = link.tape.upgrade() else { continue };
        match &tape {
            Some(t) if t.id != inner.id => {
                return Err(Error::Autodiff("an op mixed tensors watched on two different tapes".into()));
            }
            _ => tape = Some(inner),
        }
    }
    let Some(inner) = tape else { return Ok(output) };
    let input_nodes: Vec<Option<usize>> =
        inputs.iter().map(|t| t.link.as_ref().filter(|l| l.tape_id == inner.id).map(|l| l.node)).collect();
    // The rule saves detached tensors, so nothing it holds points back at the tape.
    let rule = no_grad(make);
    let mut guard = inner.lock();
    let Some(nodes) = guard.as_mut() else { return Ok(output) };
    nodes.push(Node { shape: output.shape().clone(), rule: Some(rule), inputs: input_nodes, watched: false });
    output.link = Some(TapeLink { tape: Arc::downgrade(&inner), tape_id: inner.id, node: nodes.len() - 1 });
    drop(guard);
    Ok(output)
}
