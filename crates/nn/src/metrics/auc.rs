//! Keras's `AUC` metric with its defaults (keras/src/metrics/confusion_metrics.py): the area under
//! the ROC curve from true/false positive and negative counts at 200 thresholds, by the
//! trapezoidal rule ("interpolation"). Every output element is one binary decision; a target is
//! positive where it is not 0. The counts add up over batches, so the area is that of everything
//! seen, not a mean of per-batch areas.

use tensor_core::Tensor;

use crate::Result;

/// Keras's default `num_thresholds`.
pub(crate) const NUM_THRESHOLDS: usize = 200;

/// Keras's thresholds: `i / (n - 1)` for `i` in `1..n - 1`, with `-1e-7` before and `1 + 1e-7`
/// after, so that predictions of exactly 0 and 1 fall inside.
fn thresholds(num_thresholds: usize) -> Vec<f64> {
    let inner = (1..num_thresholds - 1).map(|i| i as f64 / (num_thresholds - 1) as f64);
    std::iter::once(-crate::losses::EPSILON)
        .chain(inner)
        .chain(std::iter::once(1.0 + crate::losses::EPSILON))
        .collect()
}

/// The batch's counts at each threshold, on the device: true positives, false positives, true
/// negatives and false negatives (each of shape `(num_thresholds,)`), for predictions `y_pred` and
/// 0/1 targets `positive` of the same shape. A prediction is positive above a threshold (strictly).
pub(crate) fn counts(positive: &Tensor, y_pred: &Tensor, num_thresholds: usize) -> Result<Vec<Tensor>> {
    let n = y_pred.numel();
    let thresholds = Tensor::from_slice(&thresholds(num_thresholds), [1, num_thresholds], y_pred.device())?
        .to_dtype(y_pred.dtype())?;
    let predictions = y_pred.reshape([n, 1])?;
    let actual = positive.reshape([n, 1])?;
    // threshold - prediction >= 0 is prediction <= threshold; its complement is above.
    let below = thresholds.sub(&predictions)?.step(0.0)?;
    let above = below.neg()?.add_scalar(1.0)?;
    let negative = actual.neg()?.add_scalar(1.0)?;
    let total = |t: Tensor| -> Result<Tensor> { Ok(t.sum(&[0], false)?) };
    Ok(vec![
        total(above.mul(&actual)?)?,
        total(above.mul(&negative)?)?,
        total(below.mul(&negative)?)?,
        total(below.mul(&actual)?)?,
    ])
}

/// The interpolated area under the ROC curve from accumulated counts (Keras's `result`): the
/// rates at each threshold (0 where undefined), then `sum((fpr[i] - fpr[i+1]) * (tpr[i] + tpr[i+1]) / 2)`.
pub(crate) fn area(sums: &[Vec<f64>]) -> f64 {
    let [tp, fp, tn, fn_] = [&sums[0], &sums[1], &sums[2], &sums[3]];
    let ratio = |num: f64, den: f64| if den != 0.0 { num / den } else { 0.0 };
    let tpr: Vec<f64> = tp.iter().zip(fn_).map(|(&tp, &fn_)| ratio(tp, tp + fn_)).collect();
    let fpr: Vec<f64> = fp.iter().zip(tn).map(|(&fp, &tn)| ratio(fp, fp + tn)).collect();
    (0..tpr.len().saturating_sub(1)).map(|i| (fpr[i] - fpr[i + 1]) * (tpr[i] + tpr[i + 1]) / 2.0).sum()
}

#[cfg(test)]
mod tests {
    use tensor_core::Device;

    use super::*;

    /// Keras's docstring: `AUC(num_thresholds=3)` on targets [0, 0, 1, 1] and predictions
    /// [0, 0.5, 0.3, 0.9]: thresholds [-1e-7, 0.5, 1 + 1e-7], tp [2, 1, 0], fp [2, 0, 0],
    /// tn [0, 2, 2], fn [0, 1, 2], area 0.75. Counts are exact; the area is f64 on the host.
    #[test]
    fn keras_docstring_example() {
        let t = |v: &[f64]| Tensor::from_slice(v, [4], &Device::Cpu).unwrap();
        let counts = counts(&t(&[0.0, 0.0, 1.0, 1.0]), &t(&[0.0, 0.5, 0.3, 0.9]), 3).unwrap();
        let sums: Vec<Vec<f64>> = counts.iter().map(|c| c.to_vec_f64().unwrap()).collect();
        assert_eq!(
            sums,
            vec![vec![2.0, 1.0, 0.0], vec![2.0, 0.0, 0.0], vec![0.0, 2.0, 2.0], vec![0.0, 1.0, 2.0]]
        );
        assert!((area(&sums) - 0.75).abs() < 1e-12);
    }
}
