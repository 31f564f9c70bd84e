//! Elementwise binary kernels with NumPy broadcasting.

use crate::backend::BinaryOp;
use crate::shape::StridedOffsets;
use crate::{Element, Shape};

fn apply<T: Element>(op: BinaryOp, a: T, b: T) -> T {
    match op {
        BinaryOp::Add => a + b,
        BinaryOp::Sub => a - b,
        BinaryOp::Mul => a * b,
        BinaryOp::Div => a / b,
        BinaryOp::Equal => {
            if a == b {
                T::one()
            } else {
                T::zero()
            }
        }
    }
}

/// `op(a, b)` at every position of `out_shape`, reading `a` and `b` through broadcast strides.
pub(crate) fn broadcast<T: Element>(
    op: BinaryOp,
    a: &[T],
    a_shape: &Shape,
    b: &[T],
    b_shape: &Shape,
    out_shape: &Shape,
) -> Vec<T> {
    if a_shape == b_shape {
        return a.iter().zip(b).map(|(&x, &y)| apply(op, x, y)).collect();
    }
    let a_offsets = StridedOffsets::new(out_shape.dims(), &a_shape.broadcast_strides(out_shape));
    let b_offsets = StridedOffsets::new(out_shape.dims(), &b_shape.broadcast_strides(out_shape));
    a_offsets.zip(b_offsets).map(|(i, j)| apply(op, a[i], b[j])).collect()
}

/// `x` (of `shape`) repeated along broadcast axes to fill `target`, each value times `scale`
/// (exactly the value itself when `scale` is 1).
pub(crate) fn expand<T: Element>(x: &[T], shape: &Shape, target: &Shape, scale: f64) -> Vec<T> {
    let offsets = StridedOffsets::new(target.dims(), &shape.broadcast_strides(target));
    if scale == 1.0 {
        return offsets.map(|i| x[i]).collect();
    }
    offsets.map(|i| x[i] * T::of(scale)).collect()
}
