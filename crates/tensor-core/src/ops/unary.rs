//! Elementwise functions of one tensor: arithmetic, scalar arithmetic and activations.

use crate::autodiff::{Backward, record};
use crate::backend::UnaryOp;
use crate::{Error, Result, Tensor};

/// Runs the kernel and records its rule.
fn unary(op: UnaryOp, x: &Tensor) -> Result<Tensor> {
    let out = Tensor::from_storage(x.storage().unary(op)?, x.shape().clone());
    let saved = out.detach();
    record(out, &[x], || Box::new(UnaryBackward { op, x: x.detach(), out: saved }))
}

impl Tensor {
    pub fn neg(&self) -> Result<Tensor> {
        unary(UnaryOp::Neg, self)
    }

    pub fn exp(&self) -> Result<Tensor> {
        unary(UnaryOp::Exp, self)
    }

    /// Natural logarithm.
    pub fn log(&self) -> Result<Tensor> {
        unary(UnaryOp::Log, self)
    }

    pub fn sqrt(&self) -> Result<Tensor> {
        unary(UnaryOp::Sqrt, self)
    }

    pub fn abs(&self) -> Result<Tensor> {
        unary(UnaryOp::Abs, self)
    }

    /// -1, 0 or 1 by sign; its gradient is zero.
    pub fn sign(&self) -> Result<Tensor> {
        unary(UnaryOp::Sign, self)
    }

    pub fn square(&self) -> Result<Tensor> {
        unary(UnaryOp::Square, self)
    }

    /// `self` raised to the power `exponent`.
    pub fn powf(&self, exponent: f64) -> Result<Tensor> {
        unary(UnaryOp::Powf(exponent), self)
    }

    pub fn add_scalar(&self, c: f64) -> Result<Tensor> {
        unary(UnaryOp::AddScalar(c), self)
    }

    pub fn mul_scalar(&self, c: f64) -> Result<Tensor> {
        unary(UnaryOp::MulScalar(c), self)
    }

    pub fn relu(&self) -> Result<Tensor> {
        unary(UnaryOp::Relu, self)
    }

    /// `x` where positive, `alpha * x` elsewhere.
    pub fn leaky_relu(&self, alpha: f64) -> Result<Tensor> {
        unary(UnaryOp::LeakyRelu(alpha), self)
    }

    pub fn sigmoid(&self) -> Result<Tensor> {
        unary(UnaryOp::Sigmoid, self)
    }

    pub fn tanh(&self) -> Result<Tensor> {
        unary(UnaryOp::Tanh, self)
    }

    /// 1 where `self >= threshold`, else 0. Its gradient is zero almost everywhere, so it trains
    /// nothing by backpropagation; it is the threshold unit of a McCulloch–Pitts neuron.
    pub fn step(&self, threshold: f64) -> Result<Tensor> {
        unary(UnaryOp::Step(threshold), self)
    }

    /// Clamps into `[low, high]`; the gradient passes only where the value was inside.
    pub fn clip(&self, low: f64, high: f64) -> Result<Tensor> {
        if low.is_nan() || high.is_nan() || low > high {
            return Err(Error::argument("clip", format!("low ({low}) must not exceed high ({high})")));
        }
        unary(UnaryOp::Clip(low, high), self)
    }
}

/// The op's backward rule, one fused kernel: the incoming gradient times the op's derivative.
struct UnaryBackward {
    op: UnaryOp,
    x: Tensor,
    out: Tensor,
}

impl Backward for UnaryBackward {
    fn name(&self) -> &'static str {
        self.op.name()
    }

    fn backward(&self, grad: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let d = match self.op {
            UnaryOp::AddScalar(_) => grad.clone(),
            op => {
                let storage = self.x.storage().unary_backward(op, &self.out.storage(), &grad.storage())?;
                Tensor::from_storage(storage, self.x.shape().clone())
            }
        };
        Ok(vec![Some(d)])
    }
}
