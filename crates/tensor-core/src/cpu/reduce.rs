//! Reductions along a set of axes.

use crate::backend::{ReduceOp, Rows};
use crate::shape::StridedOffsets;
use crate::{Element, Shape};

/// Reduces `x` (of `shape`) over the axes where `kept` has a 1 and `shape` may not; `kept` is
/// the keep-dims result shape, and the result is laid out row-major in it.
pub(crate) fn reduce<T: Element>(op: ReduceOp, x: &[T], shape: &Shape, kept: &Shape) -> Vec<T> {
    let init = match op {
        ReduceOp::Sum | ReduceOp::Mean => T::zero(),
        ReduceOp::Max => T::neg_infinity(),
    };
    let mut out = vec![init; kept.numel()];
    // Reading the output through broadcast strides maps every input position to its slot.
    let slots = StridedOffsets::new(shape.dims(), &kept.broadcast_strides(shape));
    for (&v, slot) in x.iter().zip(slots) {
        let acc = &mut out[slot];
        *acc = match op {
            ReduceOp::Sum | ReduceOp::Mean => *acc + v,
            ReduceOp::Max => acc.max(v),
        };
    }
    if op == ReduceOp::Mean && !out.is_empty() {
        // The sum times the reciprocal of the count (NaN for an empty reduction, as in Keras).
        let scale = T::of(1.0 / (shape.numel() / out.len()) as f64);
        out.iter_mut().for_each(|v| *v = *v * scale);
    }
    out
}

/// The index of each row's first maximum, as a float (rows of `classes` values). NaN counts as
/// greater than every number, as in NumPy, so a row holding one gives its first NaN's index.
pub(crate) fn argmax<T: Element>(x: &[T], rows: Rows) -> Vec<T> {
    x.chunks(rows.classes.max(1))
        .take(rows.rows)
        .map(|row| {
            let mut best = 0;
            for (j, &v) in row.iter().enumerate() {
                if row[best].is_nan() {
                    break;
                }
                if v.is_nan() || v > row[best] {
                    best = j;
                }
            }
            T::of(best as f64)
        })
        .collect()
}
