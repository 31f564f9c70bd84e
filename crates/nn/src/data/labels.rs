//! Class labels as tensors: one-hot rows for categorical cross-entropy, or the indices
//! themselves for the sparse variant.

use std::fmt::Debug;

use tensor_core::{Device, Tensor, cpu};

use crate::{NnError, Result};

/// One-hot encoding, as Keras's `to_categorical`: an f32 tensor `[labels.len(), num_classes]`
/// with a 1 in column `labels[i]` of row `i`. Labels may be any integer type; a negative label
/// or one of `num_classes` or more is an error naming its position.
pub fn to_categorical<L>(labels: &[L], num_classes: usize, device: &Device) -> Result<Tensor>
where
    L: Copy + Debug + TryInto<usize>,
{
    if num_classes == 0 {
        return Err(NnError::Data("to_categorical: num_classes must be at least 1".into()));
    }
    // num_classes is the caller's number: the product is checked and reserved fallibly.
    let len = labels.len().checked_mul(num_classes).ok_or_else(|| {
        NnError::Data(format!(
            "to_categorical: {} labels of {num_classes} classes are more values than memory can address",
            labels.len()
        ))
    })?;
    let what = format_args!("{} one-hot rows of {num_classes} classes", labels.len());
    let mut one_hot = cpu::host_vec::<f32>("to_categorical", &what, len)?;
    one_hot.resize(len, 0.0);
    for (i, &label) in labels.iter().enumerate() {
        let class = class_index("to_categorical", i, label)?;
        if class >= num_classes {
            return Err(NnError::Data(format!(
                "to_categorical: label {class} at position {i} is out of range for {num_classes} classes \
                 (0..{num_classes})"
            )));
        }
        one_hot[i * num_classes + class] = 1.0;
    }
    Ok(Tensor::from_vec(one_hot, [labels.len(), num_classes], device)?)
}

/// Class indices as an f32 tensor `[labels.len()]`, the targets of sparse categorical
/// cross-entropy; a negative label is an error.
pub fn labels_to_tensor<L>(labels: &[L], device: &Device) -> Result<Tensor>
where
    L: Copy + Debug + TryInto<usize>,
{
    let values = labels
        .iter()
        .enumerate()
        .map(|(i, &label)| class_index("labels_to_tensor", i, label).map(|c| c as f32))
        .collect::<Result<Vec<f32>>>()?;
    Ok(Tensor::from_vec(values, [labels.len()], device)?)
}

/// `label` (at `position`) as a class index.
fn class_index<L>(op: &str, position: usize, label: L) -> Result<usize>
where
    L: Copy + Debug + TryInto<usize>,
{
    label.try_into().map_err(|_| {
        NnError::Data(format!(
            "{op}: label {label:?} at position {position} is not a class index (0, 1, 2...)"
        ))
    })
}
