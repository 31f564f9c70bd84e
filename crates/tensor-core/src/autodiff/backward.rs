//! The contract every differentiable op implements once.

use crate::{Result, Tensor};

/// The backward rule of one recorded op, holding whatever the forward pass saved for it.
///
/// Rules are written with tensor ops, so one rule serves every backend, and the gradient checks
/// of the CPU backend vouch for the rule the GPU runs.
pub trait Backward: Send + Sync {
    /// The op's name, for error messages.
    fn name(&self) -> &'static str;

    /// Given the gradient of the loss with respect to the op's output, returns the gradient with
    /// respect to each input, in the order the op recorded them. `needs[i]` says whether input `i`
    /// wants one; a rule may return `None` there to skip the work.
    fn backward(&self, grad: &Tensor, needs: &[bool]) -> Result<Vec<Option<Tensor>>>;
}
