//! Elementwise unary kernels: arithmetic and activations.

use crate::Element;
use crate::backend::{Activation, UnaryOp};

fn apply<T: Element>(op: UnaryOp, x: T) -> T {
    let zero = T::zero();
    let one = T::one();
    match op {
        UnaryOp::Neg => -x,
        UnaryOp::Exp => x.exp(),
        UnaryOp::Log => x.ln(),
        UnaryOp::Sqrt => x.sqrt(),
        UnaryOp::Abs => x.abs(),
        UnaryOp::Sign => {
            if x > zero {
                one
            } else if x < zero {
                -one
            } else {
                zero
            }
        }
        UnaryOp::Square => x * x,
        UnaryOp::Powf(p) => x.powf(T::of(p)),
        UnaryOp::AddScalar(c) => x + T::of(c),
        UnaryOp::MulScalar(c) => x * T::of(c),
        // NaN passes through relu and clip, as in NumPy and Keras (`max` would drop it).
        UnaryOp::Relu if x.is_nan() => x,
        UnaryOp::Relu => x.max(zero),
        UnaryOp::LeakyRelu(alpha) => {
            if x > zero {
                x
            } else {
                x * T::of(alpha)
            }
        }
        UnaryOp::Sigmoid => {
            // Split by sign so exp never overflows.
            if x >= zero {
                one / (one + (-x).exp())
            } else {
                let e = x.exp();
                e / (one + e)
            }
        }
        UnaryOp::Tanh => x.tanh(),
        UnaryOp::Step(threshold) => {
            if x >= T::of(threshold) {
                one
            } else {
                zero
            }
        }
        UnaryOp::Clip(..) if x.is_nan() => x,
        UnaryOp::Clip(low, high) => x.max(T::of(low)).min(T::of(high)),
    }
}

pub(crate) fn map<T: Element>(op: UnaryOp, x: &[T]) -> Vec<T> {
    x.iter().map(|&v| apply(op, v)).collect()
}

/// `grad` times the derivative of `op` at `x`, whose output was `out`: the op's backward rule,
/// elementwise. Activations' derivatives come from their output where that is exact (sigmoid,
/// tanh, exp, sqrt), the others' from their input; relu'(0) = 0, as in Keras and PyTorch.
pub(crate) fn backward<T: Element>(op: UnaryOp, x: &[T], out: &[T], grad: &[T]) -> Vec<T> {
    x.iter().zip(out).zip(grad).map(|((&x, &y), &g)| derivative_times(op, x, y, g)).collect()
}

/// `g` times the derivative of `op` at `x`, whose output was `y`: [`backward`] for one element.
fn derivative_times<T: Element>(op: UnaryOp, x: T, y: T, g: T) -> T {
    let (zero, one) = (T::zero(), T::one());
    match op {
        UnaryOp::Neg => -g,
        UnaryOp::Exp => g * y,
        UnaryOp::Log => g / x,
        UnaryOp::Sqrt => g / y * T::of(0.5),
        UnaryOp::Abs => g * apply(UnaryOp::Sign, x),
        UnaryOp::Sign | UnaryOp::Step(_) => zero,
        UnaryOp::Square => g * x * T::of(2.0),
        UnaryOp::Powf(p) => g * x.powf(T::of(p - 1.0)) * T::of(p),
        UnaryOp::AddScalar(_) => g,
        UnaryOp::MulScalar(c) => g * T::of(c),
        UnaryOp::Relu => g * if x > zero { one } else { zero },
        UnaryOp::LeakyRelu(alpha) => g * if x > zero { one } else { T::of(alpha) },
        UnaryOp::Sigmoid => g * (y * (one - y)),
        UnaryOp::Tanh => g * (one - y * y),
        UnaryOp::Clip(low, high) => {
            let inside = x >= T::of(low) && x <= T::of(high);
            if inside { g } else { zero }
        }
    }
}

/// `activation(v)` of one element.
pub(crate) fn activate_one<T: Element>(activation: Activation, v: T) -> T {
    activation.as_unary().map_or(v, |op| apply(op, v))
}

/// `g` times the activation's derivative, from its output `y` alone, for one element (see
/// [`activation_backward`]).
pub(crate) fn activation_derivative_times<T: Element>(activation: Activation, y: T, g: T) -> T {
    activation.as_unary().map_or(g, |op| derivative_times(op, y, y, g))
}

/// `activation(x)` for every element.
pub(crate) fn activate<T: Element>(activation: Activation, x: Vec<T>) -> Vec<T> {
    match activation.as_unary() {
        Some(op) => x.into_iter().map(|v| apply(op, v)).collect(),
        None => x,
    }
}

/// `grad` times the activation's derivative, computed from the activation's output `out` alone
/// (which a fused activation allows: see [`Activation`]): the gradient that reaches the product
/// the activation was fused into.
pub(crate) fn activation_backward<T: Element>(activation: Activation, out: &[T], grad: &[T]) -> Vec<T> {
    match activation.as_unary() {
        Some(op) => backward(op, out, out, grad),
        None => grad.to_vec(),
    }
}
