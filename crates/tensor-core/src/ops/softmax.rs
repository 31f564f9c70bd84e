//! Softmax and log-softmax along one axis, each a fused kernel (no intermediate exp or sum
//! tensors, and stable for inputs of any magnitude).

use crate::autodiff::{Backward, record};
use crate::backend::AxisSplit;
use crate::{Result, Tensor};

/// The two fused kernels every backend provides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SoftmaxOp {
    Softmax,
    LogSoftmax,
}

impl SoftmaxOp {
    fn name(self) -> &'static str {
        match self {
            SoftmaxOp::Softmax => "softmax",
            SoftmaxOp::LogSoftmax => "log_softmax",
        }
    }
}

/// Runs the kernel and records its rule, which needs only the output.
fn softmax(op: SoftmaxOp, x: &Tensor, axis: isize) -> Result<Tensor> {
    let axis = x.shape().axis(op.name(), axis)?;
    let split = AxisSplit::new(x.shape(), axis);
    let storage = x.storage().softmax(split, op == SoftmaxOp::LogSoftmax)?;
    let out = Tensor::from_storage(storage, x.shape().clone());
    let saved = out.detach();
    record(out, &[x], || Box::new(SoftmaxBackward { op, out: saved, axis: axis as isize }))
}

impl Tensor {
    /// `exp(x) / sum(exp(x))` along `axis` (negative axes count from the end).
    pub fn softmax(&self, axis: isize) -> Result<Tensor> {
        softmax(SoftmaxOp::Softmax, self, axis)
    }

    /// `log(softmax(x))` along `axis`, computed directly so that it stays finite where softmax
    /// underflows to zero.
    pub fn log_softmax(&self, axis: isize) -> Result<Tensor> {
        softmax(SoftmaxOp::LogSoftmax, self, axis)
    }
}

struct SoftmaxBackward {
    op: SoftmaxOp,
    out: Tensor,
    axis: isize,
}

impl Backward for SoftmaxBackward {
    fn name(&self) -> &'static str {
        self.op.name()
    }

    fn backward(&self, grad: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let axes = [self.axis];
        let d = match self.op {
            // y * (g - sum(g * y))
            SoftmaxOp::Softmax => {
                let y = &self.out;
                y.mul(&grad.sub(&grad.mul(y)?.sum(&axes, true)?)?)?
            }
            // g - softmax * sum(g), with softmax = exp(log_softmax)
            SoftmaxOp::LogSoftmax => grad.sub(&self.out.exp()?.mul(&grad.sum(&axes, true)?)?)?,
        };
        Ok(vec![Some(d)])
    }
}
