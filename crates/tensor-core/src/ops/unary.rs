//! Elementwise functions of one tensor: arithmetic, scalar arithmetic and activations.

use crate::autodiff::{Backward, record};
use crate::cpu::{self, for_dtype};
use crate::gpu;
use crate::storage::Storage;
use crate::{Error, Result, Tensor};

/// The elementwise unary kernels every backend provides. Scalars ride along as f64.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum UnaryOp {
    Neg,
    Exp,
    Log,
    Sqrt,
    Abs,
    /// -1, 0 or 1.
    Sign,
    Square,
    Powf(f64),
    AddScalar(f64),
    MulScalar(f64),
    Relu,
    LeakyRelu(f64),
    Sigmoid,
    Tanh,
    /// 1 where `x >= threshold`, else 0: the McCulloch–Pitts unit.
    Step(f64),
    /// `x` clamped to `[low, high]`.
    Clip(f64, f64),
}

impl UnaryOp {
    fn name(self) -> &'static str {
        match self {
            UnaryOp::Neg => "neg",
            UnaryOp::Exp => "exp",
            UnaryOp::Log => "log",
            UnaryOp::Sqrt => "sqrt",
            UnaryOp::Abs => "abs",
            UnaryOp::Sign => "sign",
            UnaryOp::Square => "square",
            UnaryOp::Powf(_) => "powf",
            UnaryOp::AddScalar(_) => "add_scalar",
            UnaryOp::MulScalar(_) => "mul_scalar",
            UnaryOp::Relu => "relu",
            UnaryOp::LeakyRelu(_) => "leaky_relu",
            UnaryOp::Sigmoid => "sigmoid",
            UnaryOp::Tanh => "tanh",
            UnaryOp::Step(_) => "step",
            UnaryOp::Clip(..) => "clip",
        }
    }
}

/// Runs the kernel without recording anything.
fn forward(op: UnaryOp, x: &Tensor) -> Result<Tensor> {
    let storage = match &*x.storage() {
        Storage::Cpu(s) => {
            Storage::Cpu(for_dtype!(x.dtype(), T => T::into_storage(cpu::unary::map::<T>(op, s.typed()))))
        }
        Storage::Gpu(s) => Storage::Gpu(gpu::kernels::unary::unary(op, s)?),
    };
    Ok(Tensor::from_storage(storage, x.shape().clone()))
}

/// Runs the kernel and records its rule.
fn unary(op: UnaryOp, x: &Tensor) -> Result<Tensor> {
    let out = forward(op, x)?;
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
        let (x, out) = (&self.x, &self.out);
        let d = match self.op {
            UnaryOp::Neg => grad.neg()?,
            UnaryOp::Exp => grad.mul(out)?,
            UnaryOp::Log => grad.div(x)?,
            UnaryOp::Sqrt => grad.div(out)?.mul_scalar(0.5)?,
            UnaryOp::Abs => grad.mul(&x.sign()?)?,
            UnaryOp::Sign | UnaryOp::Step(_) => grad.zeros_like()?,
            UnaryOp::Square => grad.mul(x)?.mul_scalar(2.0)?,
            UnaryOp::Powf(p) => grad.mul(&x.powf(p - 1.0)?)?.mul_scalar(p)?,
            UnaryOp::AddScalar(_) => grad.clone(),
            UnaryOp::MulScalar(c) => grad.mul_scalar(c)?,
            // relu'(0) = 0, as in Keras and PyTorch.
            UnaryOp::Relu => grad.mul(&x.neg()?.step(0.0)?.neg()?.add_scalar(1.0)?)?,
            UnaryOp::LeakyRelu(alpha) => {
                let not_positive = x.neg()?.step(0.0)?;
                grad.mul(&not_positive.mul_scalar(alpha - 1.0)?.add_scalar(1.0)?)?
            }
            UnaryOp::Sigmoid => grad.mul(&out.mul(&out.neg()?.add_scalar(1.0)?)?)?,
            UnaryOp::Tanh => grad.mul(&out.square()?.neg()?.add_scalar(1.0)?)?,
            UnaryOp::Clip(low, high) => {
                let inside = x.step(low)?.mul(&x.neg()?.step(-high)?)?;
                grad.mul(&inside)?
            }
        };
        Ok(vec![Some(d)])
    }
}
