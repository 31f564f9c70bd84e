//! Whole-model files, Keras's `model.save(path)` / `keras.models.load_model(path)` in one
//! safetensors file: the weights under "layer/weight" (as in a weight file), the optimizer's
//! slots under "optimizer/layer/weight/slot", and in the metadata the architecture
//! ("architecture") and, for a compiled model, the training config ("training_config") as JSON.
//!
//! A loaded model predicts as the saved one did, and its `fit` with `initial_epoch` set to the
//! epochs already run goes on exactly where the saved one stopped: the optimizer's slots and step
//! count come back, and with them the seeds of shuffling and dropout.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use serde_json::Value;
use tensor_core::Tensor;

use super::declared::build_declared_model;
use super::tensors::{self, File};
use super::weights::{metadata, read_weights};
use super::{OPTIMIZER_PREFIX, io_error, named_weights};
use crate::layers::Config;
use crate::{Model, NnError, Result};

const ARCHITECTURE: &str = "architecture";
const TRAINING_CONFIG: &str = "training_config";
/// Where a whole-model file keeps the entries given to [`save_model_with_metadata`].
const EXTRA_PREFIX: &str = "extra/";

/// Saves `model` whole to a safetensors file at `path`: architecture, every weight, and for a
/// compiled model its training config and optimizer state. An error if a layer cannot describe
/// its config.
pub fn save_model(model: &Model, path: impl AsRef<Path>) -> Result<()> {
    save_model_with_metadata(model, path, &BTreeMap::new())
}

/// [`save_model`], with `extra` string entries kept in the file beside the model (what a
/// training program needs to resume a run: its settings, the history so far). They live in
/// their own namespace, so no key can clash with the model's own; [`load_model_metadata`] reads
/// them back, and [`load_model`] ignores them.
pub fn save_model_with_metadata(
    model: &Model,
    path: impl AsRef<Path>,
    extra: &BTreeMap<String, String>,
) -> Result<()> {
    let weights = named_weights(model);
    let mut tensors: Vec<(String, &Tensor)> =
        weights.iter().map(|(name, weight)| (name.clone(), weight.value())).collect();
    let mut metadata = metadata(model);
    metadata.insert(ARCHITECTURE.into(), Value::Object(model.architecture()?).to_string());
    if let (Some(compiled), Some(training)) = (&model.compiled, model.training_config()) {
        for (name, weight) in &weights {
            for (slot, tensor) in compiled.optimizer.slots(weight.id()) {
                tensors.push((format!("{OPTIMIZER_PREFIX}{name}/{slot}"), tensor));
            }
        }
        metadata.insert(TRAINING_CONFIG.into(), Value::Object(training).to_string());
    }
    metadata.extend(extra.iter().map(|(key, value)| (format!("{EXTRA_PREFIX}{key}"), value.clone())));
    tensors::write(path.as_ref(), &tensors, metadata)
}

/// Loads a model saved by [`save_model`], on the CPU (move it with `to_device`): its layers, its
/// weights, and, if it was compiled, its compile settings, optimizer state and step count.
///
/// Errors name the file: one that is not a safetensors file, one without an architecture (a
/// weight file: build the model and use `load_weights`), an unknown layer class or a bad config
/// field, missing or misshapen tensors, and tensors the model does not have.
pub fn load_model(path: impl AsRef<Path>) -> Result<Model> {
    let path = path.as_ref();
    let bytes = tensors::read(path)?;
    let file = File::parse(&bytes, path)?;
    let in_file = |e: NnError| io_error(path, e);
    let architecture = file.metadata(ARCHITECTURE).ok_or_else(|| {
        io_error(
            path,
            "holds no model architecture, only weights (a file from save_weights?); expected a file from \
             save_model, or build the model and call load_weights",
        )
    })?;
    let mut model = build_declared_model(architecture, &file).map_err(in_file)?;
    let mut used: HashSet<String> = HashSet::new();
    for (name, weight, value) in read_weights(&model, &file)? {
        weight.assign(&value)?;
        used.insert(name);
    }
    if let Some(training) = file.metadata(TRAINING_CONFIG) {
        let config: Config = serde_json::from_str(training)
            .map_err(|e| io_error(path, format!("its training config is not a JSON object: {e}")))?;
        model.compile_from_training_config(&config).map_err(in_file)?;
        restore_optimizer(&mut model, &file, &mut used)?;
    }
    if let Some(extra) = file.names().into_iter().find(|name| !used.contains(*name)) {
        return Err(io_error(
            path,
            format!("has tensor {extra}, which is neither a weight of the model nor a slot of its optimizer"),
        ));
    }
    Ok(model)
}

/// Gives every weight with slots in `file` its optimizer state back, noting the tensors read in
/// `used`. A weight without slots there had none: it was never updated.
fn restore_optimizer(model: &mut Model, file: &File<'_>, used: &mut HashSet<String>) -> Result<()> {
    let weights: Vec<(String, u64, Tensor)> =
        named_weights(model).into_iter().map(|(name, w)| (name, w.id(), w.value().clone())).collect();
    let names = file.names();
    let optimizer = &mut model.require_compiled_mut("load_model")?.optimizer;
    for (name, id, value) in &weights {
        let prefix = format!("{OPTIMIZER_PREFIX}{name}/");
        if !names.iter().any(|n| n.starts_with(&prefix)) {
            continue;
        }
        optimizer.restore(*id, value, |slot, fresh| {
            let key = format!("{prefix}{slot}");
            let tensor = file.tensor_like(&key, fresh, "optimizer slot")?;
            used.insert(key);
            Ok(tensor)
        })?;
    }
    Ok(())
}

/// The entries a file from [`save_model_with_metadata`] keeps beside its model (none for a file
/// from [`save_model`]). An error if the file is not a safetensors file.
pub fn load_model_metadata(path: impl AsRef<Path>) -> Result<BTreeMap<String, String>> {
    let path = path.as_ref();
    let bytes = tensors::read(path)?;
    let file = File::parse(&bytes, path)?;
    Ok(file
        .metadata_entries()
        .filter_map(|(key, value)| Some((key.strip_prefix(EXTRA_PREFIX)?.to_string(), value.to_string())))
        .collect())
}
