//! Reductions along a set of axes.

use crate::backend::{ReduceOp, Rows};
use crate::shape::StridedOffsets;
use crate::{Element, Shape};

/// Reduces `x` (of `shape`) over the axes where `kept` has a 1 and `shape` may not; `kept` is
/// the keep-dims result shape, and the result is laid out row-major in it.
pub(crate) fn reduce<T: Element>(op: ReduceOp, x: &[T], shape: &Shape, kept: &Shape) -> Vec<T> {
    // Reading the output through broadcast strides maps every input position to its slot.
    let slots = StridedOffsets::new(shape.dims(), &kept.broadcast_strides(shape));
    if op == ReduceOp::Max {
        let mut out = vec![T::neg_infinity(); kept.numel()];
        // NaN wins and stays, as in NumPy and Keras (`max` would drop it).
        for (&v, slot) in x.iter().zip(slots) {
            if v.is_nan() || v > out[slot] {
                out[slot] = v;
            }
        }
        return out;
    }
    // Sums accumulate in f64 (see `cpu::sum`).
    let mut sums = vec![0.0f64; kept.numel()];
    for (&v, slot) in x.iter().zip(slots) {
        sums[slot] += v.f64();
    }
    // A mean is the sum times the reciprocal of the count (NaN for an empty reduction, as in
    // Keras).
    let scale = if op == ReduceOp::Mean && !sums.is_empty() {
        1.0 / (shape.numel() / sums.len()) as f64
    } else {
        1.0
    };
    sums.into_iter().map(|s| T::of(s * scale)).collect()
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
