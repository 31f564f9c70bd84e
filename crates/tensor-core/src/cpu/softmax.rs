//! Fused softmax and log-softmax along one axis, shifted by each lane's maximum so that exp never
//! overflows, whatever the magnitude of the inputs.

use crate::Element;
use crate::backend::AxisSplit;

/// The offsets of every lane: the `len` elements along the axis at one (outer, inner) position.
fn lanes(split: AxisSplit) -> impl Iterator<Item = impl Iterator<Item = usize> + Clone> {
    let AxisSplit { outer, len, inner } = split;
    (0..outer).flat_map(move |o| (0..inner).map(move |i| (0..len).map(move |j| (o * len + j) * inner + i)))
}

/// The lane's maximum, and the sum over the lane of `exp(x - max)` (at least 1).
fn max_and_shifted_sum<T: Element>(x: &[T], lane: impl Iterator<Item = usize> + Clone) -> (T, T) {
    let max = lane.clone().map(|k| x[k]).fold(T::neg_infinity(), T::max);
    let sum = super::sum(lane.map(|k| (x[k] - max).exp()));
    (max, sum)
}

/// `exp(x) / sum(exp(x))` along the split axis.
pub(crate) fn softmax<T: Element>(x: &[T], split: AxisSplit) -> Vec<T> {
    let mut out = vec![T::zero(); x.len()];
    for lane in lanes(split) {
        let (max, sum) = max_and_shifted_sum(x, lane.clone());
        for k in lane {
            out[k] = (x[k] - max).exp() / sum;
        }
    }
    out
}

/// `x - log(sum(exp(x)))` along the split axis.
pub(crate) fn log_softmax<T: Element>(x: &[T], split: AxisSplit) -> Vec<T> {
    let mut out = vec![T::zero(); x.len()];
    for lane in lanes(split) {
        let (max, sum) = max_and_shifted_sum(x, lane.clone());
        let log_sum = sum.ln();
        for k in lane {
            out[k] = x[k] - max - log_sum;
        }
    }
    out
}
