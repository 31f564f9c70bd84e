//! Broadcasting as ops of their own: expanding to a shape, and its adjoint, summing back to one.

use crate::autodiff::{Backward, record};
use crate::{Error, Result, Shape, Tensor};

impl Tensor {
    /// This tensor repeated along broadcast axes to fill `shape` (NumPy rules).
    pub fn broadcast_to(&self, shape: &Shape) -> Result<Tensor> {
        if self.shape().broadcast("broadcast_to", shape)? != *shape {
            return Err(Error::shape(
                "broadcast_to",
                format!("{} cannot be broadcast to {shape} without growing the target", self.shape()),
            ));
        }
        if self.shape() == shape {
            return Ok(self.clone());
        }
        // The target is the caller's number: its size is checked before the kernel allocates it.
        crate::tensor::new_len("broadcast_to", shape, self.dtype(), self.device())?;
        let out = self.expanded(shape, 1.0)?;
        record(out, &[self], || Box::new(BroadcastBackward { input: self.shape().clone() }))
    }

    /// This tensor repeated along broadcast axes to fill `shape`, times `scale`, untracked: the
    /// kernel behind broadcasting, and (scaled) the gradient of a mean. The caller has checked
    /// that `shape` broadcasts from this one's.
    pub(crate) fn expanded(&self, shape: &Shape, scale: f64) -> Result<Tensor> {
        Ok(Tensor::from_storage(self.storage().expand(self.shape(), shape, scale)?, shape.clone()))
    }

    /// Sums this tensor down to `shape`, the inverse of broadcasting `shape` up to this one's.
    /// Used by backward rules of broadcasting ops.
    pub fn sum_to(&self, shape: &Shape) -> Result<Tensor> {
        if self.shape() == shape {
            return Ok(self.clone());
        }
        if self.shape().broadcast("sum_to", shape)? != *self.shape() {
            return Err(Error::shape("sum_to", format!("{} does not broadcast to {}", shape, self.shape())));
        }
        let lead = self.rank() - shape.rank();
        let axes: Vec<isize> = (0..self.rank())
            .filter(|&i| i < lead || (shape.dim(i - lead) == 1 && self.shape().dim(i) != 1))
            .map(|i| i as isize)
            .collect();
        self.sum(&axes, true)?.reshape(shape.clone())
    }
}

struct BroadcastBackward {
    input: Shape,
}

impl Backward for BroadcastBackward {
    fn name(&self) -> &'static str {
        "broadcast_to"
    }

    fn backward(&self, grad: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(grad.sum_to(&self.input)?)])
    }
}
