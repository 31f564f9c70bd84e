//! Fused softmax cross-entropy from logits, per sample, and its gradient: one pass over each row,
//! with no softmax or log tensor in between.

use crate::Element;
use crate::backend::Rows;

/// `log(sum(exp(z)))`, shifted by the maximum so that no exponential overflows.
fn log_sum_exp<T: Element>(z: &[T]) -> T {
    let max = z.iter().fold(T::neg_infinity(), |m, &v| m.max(v));
    max + super::sum(z.iter().map(|&v| (v - max).exp())).ln()
}

/// The class id a label encodes; the op has checked that it is an integer in range.
fn class_id<T: Element>(label: T) -> usize {
    label.f64() as usize
}

/// Per-sample `-sum_j y_j * log_softmax(z)_j = sum_j y_j * (lse(z) - z_j)`.
pub(crate) fn softmax_cross_entropy<T: Element>(p: Rows, logits: &[T], labels: &[T]) -> Vec<T> {
    (0..p.rows)
        .map(|r| {
            let row = r * p.classes..(r + 1) * p.classes;
            let (z, y) = (&logits[row.clone()], &labels[row]);
            let lse = log_sum_exp(z);
            super::sum(z.iter().zip(y).map(|(&zj, &yj)| yj * (lse - zj)))
        })
        .collect()
}

/// Gradient of [`softmax_cross_entropy`] with respect to the logits, given the gradient `grad`
/// of each sample's loss: `(softmax(z) * sum(y) - y) * grad`. For labels that sum to one (one-hot
/// or probabilities) that is the familiar `softmax(z) - y`.
pub(crate) fn softmax_cross_entropy_grad<T: Element>(
    p: Rows,
    logits: &[T],
    labels: &[T],
    grad: &[T],
) -> Vec<T> {
    (0..p.rows)
        .flat_map(|r| {
            let row = r * p.classes..(r + 1) * p.classes;
            let (z, y, g) = (&logits[row.clone()], &labels[row], grad[r]);
            let lse = log_sum_exp(z);
            let total = super::sum(y.iter().copied());
            z.iter().zip(y).map(move |(&zj, &yj)| ((zj - lse).exp() * total - yj) * g)
        })
        .collect()
}

/// Per-sample `lse(z) - z[id]`, with `ids` holding one class id per sample.
pub(crate) fn sparse_softmax_cross_entropy<T: Element>(p: Rows, logits: &[T], ids: &[T]) -> Vec<T> {
    (0..p.rows)
        .map(|r| {
            let z = &logits[r * p.classes..(r + 1) * p.classes];
            log_sum_exp(z) - z[class_id(ids[r])]
        })
        .collect()
}

/// Gradient of [`sparse_softmax_cross_entropy`] with respect to the logits:
/// `(softmax(z) - onehot(id)) * grad`.
pub(crate) fn sparse_softmax_cross_entropy_grad<T: Element>(
    p: Rows,
    logits: &[T],
    ids: &[T],
    grad: &[T],
) -> Vec<T> {
    (0..p.rows)
        .flat_map(|r| {
            let z = &logits[r * p.classes..(r + 1) * p.classes];
            let (lse, id, g) = (log_sum_exp(z), class_id(ids[r]), grad[r]);
            z.iter().enumerate().map(move |(j, &zj)| {
                let target = if j == id { T::one() } else { T::zero() };
                ((zj - lse).exp() - target) * g
            })
        })
        .collect()
}
