//! Batch normalization in training mode, fused: per-channel batch statistics, then the
//! normalized, scaled and shifted output, in two passes over the input.

use crate::Element;
use crate::cpu::layout::AxisSplit;

/// What the kernel needs besides the data: the input seen as (outer, channels, inner) around the
/// channel axis, and the epsilon added to the variance.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct BatchNormParams {
    pub(crate) split: AxisSplit,
    pub(crate) epsilon: f64,
}

/// The output `gamma * (x - mean) / sqrt(var + eps) + beta` and the per-channel batch mean and
/// biased variance it used (what Keras computes with `ops.moments`).
pub(crate) fn batch_norm_train<T: Element>(
    p: BatchNormParams,
    x: &[T],
    gamma: &[T],
    beta: &[T],
) -> (Vec<T>, Vec<T>, Vec<T>) {
    let AxisSplit { outer, len: channels, inner } = p.split;
    let count = T::of((outer * inner) as f64);
    let at = |o: usize, c: usize| (o * channels + c) * inner;
    let channel_sum = |c: usize, f: &dyn Fn(T) -> T| {
        (0..outer).flat_map(|o| &x[at(o, c)..at(o, c) + inner]).fold(T::zero(), |s, &v| s + f(v))
    };
    let mean: Vec<T> = (0..channels).map(|c| channel_sum(c, &|v| v) / count).collect();
    let var: Vec<T> =
        (0..channels).map(|c| channel_sum(c, &|v| (v - mean[c]) * (v - mean[c])) / count).collect();
    let scale: Vec<T> = (0..channels).map(|c| gamma[c] / (var[c] + T::of(p.epsilon)).sqrt()).collect();
    let y = x
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let c = i / inner % channels;
            (v - mean[c]) * scale[c] + beta[c]
        })
        .collect();
    (y, mean, var)
}
