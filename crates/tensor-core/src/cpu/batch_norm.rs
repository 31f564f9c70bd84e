//! Batch normalization in training mode, fused: per-channel batch statistics, then the
//! normalized, scaled and shifted output, in two passes over the input.

use crate::Element;
use crate::backend::{AxisSplit, BatchNormConfig};

/// The output `gamma * (x - mean) / sqrt(var + eps) + beta` and the per-channel batch mean and
/// biased variance it used (what Keras computes with `ops.moments`).
pub(crate) fn batch_norm_train<T: Element>(
    p: BatchNormConfig,
    x: &[T],
    gamma: &[T],
    beta: &[T],
) -> (Vec<T>, Vec<T>, Vec<T>) {
    let AxisSplit { outer, len: channels, inner } = p.split;
    let count = T::of((outer * inner) as f64);
    let at = |o: usize, c: usize| (o * channels + c) * inner;
    let channel_sum = |c: usize, f: &dyn Fn(T) -> T| {
        super::sum((0..outer).flat_map(|o| &x[at(o, c)..at(o, c) + inner]).map(|&v| f(v)))
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

/// The gradients of [`batch_norm_train`] with respect to `x`, gamma and beta, given the output's
/// gradient `grad` and the batch statistics: with `rstd = (var + eps)^-1/2` and
/// `x_hat = (x - mean) * rstd`, `d_beta = sum(g)`, `d_gamma = sum(g * x_hat)` and
/// `dx = (M * g - d_beta - x_hat * d_gamma) * (gamma * rstd / M)`, summing over the M values of
/// each channel.
pub(crate) fn batch_norm_backward<T: Element>(
    p: BatchNormConfig,
    x: &[T],
    gamma: &[T],
    mean: &[T],
    var: &[T],
    grad: &[T],
) -> (Vec<T>, Vec<T>, Vec<T>) {
    let AxisSplit { len: channels, inner, .. } = p.split;
    let count = T::of((p.split.outer * inner) as f64);
    let channel = |i: usize| i / inner % channels;
    let rstd: Vec<T> = var.iter().map(|&v| (v + T::of(p.epsilon)).powf(T::of(-0.5))).collect();
    let x_hat = |i: usize| (x[i] - mean[channel(i)]) * rstd[channel(i)];
    // Sums in f64, as `cpu::sum` does.
    let (mut d_gamma, mut d_beta) = (vec![0.0f64; channels], vec![0.0f64; channels]);
    for (i, &g) in grad.iter().enumerate() {
        d_beta[channel(i)] += g.f64();
        d_gamma[channel(i)] += (g * x_hat(i)).f64();
    }
    let d_gamma: Vec<T> = d_gamma.into_iter().map(T::of).collect();
    let d_beta: Vec<T> = d_beta.into_iter().map(T::of).collect();
    let scale: Vec<T> = (0..channels).map(|c| gamma[c] * rstd[c] * (T::one() / count)).collect();
    let dx = grad
        .iter()
        .enumerate()
        .map(|(i, &g)| {
            let c = channel(i);
            (g * count - d_beta[c] - x_hat(i) * d_gamma[c]) * scale[c]
        })
        .collect();
    (dx, d_gamma, d_beta)
}
