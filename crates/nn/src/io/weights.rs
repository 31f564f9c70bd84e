//! Weight files: every weight of a model under "layer/weight", for a model of the same layers to
//! load (Keras's `save_weights` / `load_weights`).

use std::collections::HashMap;
use std::path::Path;

use tensor_core::Tensor;

use super::tensors::{self, File};
use super::{OPTIMIZER_PREFIX, io_error, named_weights};
use crate::{Model, Result, Weight};

/// The metadata every file of a model carries: the format and the model's name.
pub(super) fn metadata(model: &Model) -> HashMap<String, String> {
    HashMap::from([("format".to_string(), "tessera".to_string()), ("model".into(), model.name().into())])
}

/// Saves every weight of `model` (trainable or not) to a safetensors file at `path`.
pub fn save_weights(model: &Model, path: impl AsRef<Path>) -> Result<()> {
    let tensors: Vec<(String, &Tensor)> =
        named_weights(model).into_iter().map(|(name, weight)| (name, weight.value())).collect();
    tensors::write(path.as_ref(), &tensors, metadata(model))
}

/// Loads weights saved by [`save_weights`] into `model`, which must have the same layers and
/// weight shapes; the weights of a file from [`super::save_model`] load too (its optimizer state
/// is left aside, as Keras's `load_weights` does). Nothing is changed unless every weight is
/// found and fits.
pub fn load_weights(model: &Model, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let bytes = tensors::read(path)?;
    let file = File::parse(&bytes, path)?;
    let loaded = read_weights(model, &file)?;
    let extra = file.names().into_iter().find(|name| {
        !name.starts_with(OPTIMIZER_PREFIX) && !loaded.iter().any(|(known, _, _)| known == name)
    });
    if let Some(extra) = extra {
        return Err(io_error(path, format!("has weight {extra}, which the model does not have")));
    }
    for (_, weight, value) in loaded {
        weight.assign(&value)?;
    }
    Ok(())
}

/// Every weight of `model` under its key, with its value in `file`: all found and of the right
/// shape, none assigned yet.
pub(super) fn read_weights<'m>(
    model: &'m Model,
    file: &File<'_>,
) -> Result<Vec<(String, &'m Weight, Tensor)>> {
    named_weights(model)
        .into_iter()
        .map(|(name, weight)| {
            let value = file.tensor_like(&name, weight.value(), "weight")?;
            Ok((name, weight, value))
        })
        .collect()
}
