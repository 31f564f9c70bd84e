//! `tf.math.confusion_matrix`: counts of (true class, predicted class) pairs.

use tensor_core::Tensor;

use crate::{NnError, Result};

/// The largest matrix made: 2^28 cells (16,384 classes).
const MAX_CELLS: usize = 1 << 28;

/// The confusion matrix of class ids `labels` against class ids `predictions` (both of shape
/// `(N,)`), as `tf.math.confusion_matrix`: row `i`, column `j` counts the samples of class `i`
/// predicted as `j`. `num_classes` defaults to one more than the largest id. The result is a
/// `(num_classes, num_classes)` tensor in the labels' dtype on their device. Predicted
/// probabilities become ids with `argmax(-1)`:
///
/// ```ignore
/// let matrix = confusion_matrix(&y_test, &model.predict(&x_test, 32)?.argmax(-1)?, Some(10))?;
/// ```
///
/// Errors: shapes that are not `(N,)` alike, ids that are not whole numbers in `[0, num_classes)`.
pub fn confusion_matrix(labels: &Tensor, predictions: &Tensor, num_classes: Option<usize>) -> Result<Tensor> {
    let what = "confusion_matrix";
    if labels.rank() != 1 || labels.dims() != predictions.dims() {
        return Err(NnError::Data(format!(
            "{what}: expected labels and predictions of one shape (N,), got {} and {}",
            labels.shape(),
            predictions.shape()
        )));
    }
    let ids = |t: &Tensor, name: &str| -> Result<Vec<usize>> {
        t.to_vec_f64()?
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                if v.fract() == 0.0 && v >= 0.0 {
                    Ok(v as usize)
                } else {
                    Err(NnError::Data(format!(
                        "{what}: {name}[{i}] is {v}, not a class id (a whole number >= 0)"
                    )))
                }
            })
            .collect()
    };
    let (truth, predicted) = (ids(labels, "labels")?, ids(predictions, "predictions")?);
    let largest = truth.iter().chain(&predicted).max().map_or(0, |&m| m.saturating_add(1));
    let classes = num_classes.unwrap_or(largest);
    if largest > classes {
        return Err(NnError::Data(format!(
            "{what}: class id {} is out of range for num_classes = {classes}",
            largest - 1
        )));
    }
    // A stray huge id must not ask for an impossible matrix.
    let cells = classes.checked_mul(classes).filter(|&cells| cells <= MAX_CELLS).ok_or_else(|| {
        NnError::Data(format!("{what}: {classes} classes make a matrix of more than {MAX_CELLS} cells"))
    })?;
    let mut counts = vec![0.0f64; cells];
    for (&t, &p) in truth.iter().zip(&predicted) {
        counts[t * classes + p] += 1.0;
    }
    Ok(Tensor::from_slice(&counts, [classes, classes], labels.device())?.to_dtype(labels.dtype())?)
}

#[cfg(test)]
mod tests {
    use tensor_core::Device;

    use super::*;

    fn ids(v: &[f32]) -> Tensor {
        Tensor::from_slice(v, [v.len()], &Device::Cpu).unwrap()
    }

    /// tf.math.confusion_matrix's docstring: labels [1, 2, 4], predictions [2, 2, 4] give a 5 x 5
    /// matrix with ones at (1, 2), (2, 2) and (4, 4). Counts are exact.
    #[test]
    fn tensorflow_docstring_example() {
        let matrix = confusion_matrix(&ids(&[1.0, 2.0, 4.0]), &ids(&[2.0, 2.0, 4.0]), None).unwrap();
        assert_eq!(matrix.dims(), [5, 5]);
        let mut expected = vec![0.0f32; 25];
        for (row, column) in [(1, 2), (2, 2), (4, 4)] {
            expected[row * 5 + column] = 1.0;
        }
        assert_eq!(matrix.to_vec::<f32>().unwrap(), expected);
        let wider = confusion_matrix(&ids(&[0.0, 0.0]), &ids(&[1.0, 0.0]), Some(3)).unwrap();
        assert_eq!(wider.to_vec::<f32>().unwrap(), vec![1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn ids_that_do_not_fit_are_errors() {
        let err = confusion_matrix(&ids(&[0.0, 3.0]), &ids(&[0.0, 1.0]), Some(3)).unwrap_err().to_string();
        assert!(err.contains("class id 3 is out of range for num_classes = 3"), "{err}");
        let err = confusion_matrix(&ids(&[0.5]), &ids(&[0.0]), None).unwrap_err().to_string();
        assert!(err.contains("labels[0] is 0.5, not a class id"), "{err}");
        let err = confusion_matrix(&ids(&[1e9]), &ids(&[0.0]), None).unwrap_err().to_string();
        assert!(err.contains("1000000001 classes make a matrix of more than 268435456 cells"), "{err}");
        let err = confusion_matrix(&ids(&[0.0, 1.0]), &ids(&[0.0]), None).unwrap_err().to_string();
        assert!(
            err.contains("expected labels and predictions of one shape (N,), got (2,) and (1,)"),
            "{err}"
        );
    }
}
