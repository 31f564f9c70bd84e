//! Reshaping: the same elements in the same order under a new shape, sharing storage.

use crate::autodiff::{Backward, record};
use crate::{Error, Result, Shape, Tensor};

impl Tensor {
    /// The same data viewed with `shape`, which must hold as many elements.
    pub fn reshape(&self, shape: impl Into<Shape>) -> Result<Tensor> {
        let shape = shape.into();
        let numel = shape.checked_numel("reshape")?;
        if numel != self.numel() {
            return Err(Error::shape(
                "reshape",
                format!(
                    "cannot reshape {} ({} elements) into {shape} ({numel} elements)",
                    self.shape(),
                    self.numel()
                ),
            ));
        }
        let out = self.with_shape(shape);
        record(out, &[self], || Box::new(ReshapeBackward { input: self.shape().clone() }))
    }
}

struct ReshapeBackward {
    input: Shape,
}

impl Backward for ReshapeBackward {
    fn name(&self) -> &'static str {
        "reshape"
    }

    fn backward(&self, grad: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(grad.reshape(self.input.clone())?)])
    }
}
