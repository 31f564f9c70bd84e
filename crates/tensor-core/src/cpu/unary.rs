//! Elementwise unary kernels: arithmetic and activations.

use crate::Element;
use crate::ops::UnaryOp;

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
        UnaryOp::Clip(low, high) => x.max(T::of(low)).min(T::of(high)),
    }
}

pub(crate) fn map<T: Element>(op: UnaryOp, x: &[T]) -> Vec<T> {
    x.iter().map(|&v| apply(op, v)).collect()
}
