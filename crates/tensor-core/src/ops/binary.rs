//! Elementwise arithmetic between two tensors, with NumPy broadcasting.

use crate::autodiff::{Backward, record};
use crate::backend::BinaryOp;
use crate::{Result, Tensor};

/// Runs the kernel without recording anything.
fn forward(op: BinaryOp, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    a.same_kind(op.name(), b)?;
    let shape = a.shape().broadcast(op.name(), b.shape())?;
    if shape.numel() > a.numel().max(b.numel()) {
        crate::tensor::reserve_output(op.name(), &shape, a.dtype(), a.device())?;
    }
    let storage = a.storage().binary(op, a.shape(), &b.storage(), b.shape(), &shape)?;
    Ok(Tensor::from_storage(storage, shape))
}

impl Tensor {
    /// `self + rhs`, broadcasting.
    pub fn add(&self, rhs: &Tensor) -> Result<Tensor> {
        let out = forward(BinaryOp::Add, self, rhs)?;
        record(out, &[self, rhs], || {
            Box::new(AddBackward { lhs: self.shape().clone(), rhs: rhs.shape().clone() })
        })
    }

    /// `self - rhs`, broadcasting.
    pub fn sub(&self, rhs: &Tensor) -> Result<Tensor> {
        let out = forward(BinaryOp::Sub, self, rhs)?;
        record(out, &[self, rhs], || {
            Box::new(SubBackward { lhs: self.shape().clone(), rhs: rhs.shape().clone() })
        })
    }

    /// `self * rhs`, elementwise, broadcasting.
    pub fn mul(&self, rhs: &Tensor) -> Result<Tensor> {
        let out = forward(BinaryOp::Mul, self, rhs)?;
        record(out, &[self, rhs], || Box::new(MulBackward { lhs: self.detach(), rhs: rhs.detach() }))
    }

    /// `self / rhs`, elementwise, broadcasting.
    pub fn div(&self, rhs: &Tensor) -> Result<Tensor> {
        let out = forward(BinaryOp::Div, self, rhs)?;
        record(out, &[self, rhs], || Box::new(DivBackward { lhs: self.detach(), rhs: rhs.detach() }))
    }

    /// 1 where `self == rhs`, else 0, broadcasting. Not differentiable: the result is untracked.
    pub fn eq(&self, rhs: &Tensor) -> Result<Tensor> {
        forward(BinaryOp::Equal, self, rhs)
    }
}

struct AddBackward {
    lhs: crate::Shape,
    rhs: crate::Shape,
}

impl Backward for AddBackward {
    fn name(&self) -> &'static str {
        "add"
    }

    fn backward(&self, grad: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(grad.sum_to(&self.lhs)?), Some(grad.sum_to(&self.rhs)?)])
    }
}

struct SubBackward {
    lhs: crate::Shape,
    rhs: crate::Shape,
}

impl Backward for SubBackward {
    fn name(&self) -> &'static str {
        "sub"
    }

    fn backward(&self, grad: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(grad.sum_to(&self.lhs)?), Some(grad.neg()?.sum_to(&self.rhs)?)])
    }
}

struct MulBackward {
    lhs: Tensor,
    rhs: Tensor,
}

impl Backward for MulBackward {
    fn name(&self) -> &'static str {
        "mul"
    }

    fn backward(&self, grad: &Tensor, needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let d_lhs = needs[0].then(|| grad.mul(&self.rhs)?.sum_to(self.lhs.shape())).transpose()?;
        let d_rhs = needs[1].then(|| grad.mul(&self.lhs)?.sum_to(self.rhs.shape())).transpose()?;
        Ok(vec![d_lhs, d_rhs])
    }
}

struct DivBackward {
    lhs: Tensor,
    rhs: Tensor,
}

impl Backward for DivBackward {
    fn name(&self) -> &'static str {
        "div"
    }

    fn backward(&self, grad: &Tensor, needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let d_lhs = needs[0].then(|| grad.div(&self.rhs)?.sum_to(self.lhs.shape())).transpose()?;
        // d(a/b)/db = -a / b^2
        let d_rhs = needs[1]
            .then(|| grad.mul(&self.lhs)?.div(&self.rhs.square()?)?.neg()?.sum_to(self.rhs.shape()))
            .transpose()?;
        Ok(vec![d_lhs, d_rhs])
    }
}
