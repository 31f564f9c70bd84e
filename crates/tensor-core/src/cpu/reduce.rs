//! Reductions along a set of axes.

use crate::ops::ReduceOp;
use crate::shape::StridedOffsets;
use crate::{Element, Shape};

/// Reduces `x` (of `shape`) over the axes where `kept` has a 1 and `shape` may not; `kept` is
/// the keep-dims result shape, and the result is laid out row-major in it.
pub(crate) fn reduce<T: Element>(op: ReduceOp, x: &[T], shape: &Shape, kept: &Shape) -> Vec<T> {
    let init = match op {
        ReduceOp::Sum => T::zero(),
        ReduceOp::Max => T::neg_infinity(),
    };
    let mut out = vec![init; kept.numel()];
    // Reading the output through broadcast strides maps every input position to its slot.
    let slots = StridedOffsets::new(shape.dims(), &kept.broadcast_strides(shape));
    for (&v, slot) in x.iter().zip(slots) {
        let acc = &mut out[slot];
        *acc = match op {
            ReduceOp::Sum => *acc + v,
            ReduceOp::Max => acc.max(v),
        };
    }
    out
}
