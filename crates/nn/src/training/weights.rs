//! Keras's `class_weight`: a weight per class turned into a weight per sample, from the targets
//! (keras/src/trainers/data_adapters/data_adapter_utils.py `class_weight_to_sample_weights`).

use std::collections::BTreeMap;

use tensor_core::Tensor;

use crate::losses::AnyLoss;
use crate::{Model, NnError, Result};

/// [`class_sample_weights`] for `model`'s targets (one tensor per output): Keras weighs classes
/// of a model of one output only.
pub(crate) fn class_weights_for(
    model: &Model,
    class_weight: &BTreeMap<usize, f64>,
    targets: &[Tensor],
    call: &str,
) -> Result<Tensor> {
    let loss = model.require_compiled(call)?.single_loss("class_weight")?;
    let [targets] = targets else {
        return Err(NnError::Usage(format!("{call}: class_weight needs the targets of one output")));
    };
    class_sample_weights(class_weight, targets, loss, &model.output_shape())
}

/// One weight per sample of `targets`: the weight of its class, or 1 for a class the map leaves
/// out. The class is a sparse target's id, the arg-max of a target row (the first maximum), or a
/// single-column target rounded (0 or 1). `output` is the model's output shape without the batch
/// axis; a class index it cannot produce is an error, as is a weight that is not finite.
pub(crate) fn class_sample_weights(
    class_weight: &BTreeMap<usize, f64>,
    targets: &Tensor,
    loss: &AnyLoss,
    output: &[usize],
) -> Result<Tensor> {
    let columns = output.last().copied().unwrap_or(1);
    // One output column is a binary decision: classes 0 and 1.
    let classes = if columns == 1 { 2 } else { columns };
    if let Some((&class, _)) = class_weight.range(classes..).next() {
        return Err(NnError::Usage(format!(
            "fit: class_weight names class {class}, but the model's output of shape (N, {}) has classes 0 to {}",
            output.iter().map(usize::to_string).collect::<Vec<_>>().join(", "),
            classes - 1
        )));
    }
    if let Some((class, weight)) = class_weight.iter().find(|(_, w)| !w.is_finite()) {
        return Err(NnError::Usage(format!(
            "fit: class_weight for class {class} must be finite, got {weight}"
        )));
    }
    let dims = targets.dims();
    let samples = dims.first().copied().unwrap_or(0);
    let per_sample: usize = dims.iter().skip(1).product();
    let one_id_per_sample = loss.is_sparse() || per_sample == 1;
    if !one_id_per_sample && dims.len() != 2 {
        return Err(NnError::Usage(format!(
            "fit: class_weight needs one class per sample: targets of shape (N, classes) or (N,), got {}",
            targets.shape()
        )));
    }
    if loss.is_sparse() && per_sample != 1 {
        return Err(NnError::Usage(format!(
            "fit: class_weight needs one class id per sample, got targets of shape {}",
            targets.shape()
        )));
    }
    let values = targets.to_vec_f64()?;
    let weights: Vec<f64> = values
        .chunks(per_sample.max(1))
        .map(|row| {
            let class = if one_id_per_sample { row[0].round() } else { first_argmax(row) as f64 };
            if class < 0.0 { 1.0 } else { class_weight.get(&(class as usize)).copied().unwrap_or(1.0) }
        })
        .collect();
    Ok(Tensor::from_slice(&weights, [samples], targets.device())?.to_dtype(targets.dtype())?)
}

/// The index of the first maximum of `row` (NumPy's `argmax`).
fn first_argmax(row: &[f64]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best
}
