//! Keras's own model files, read by content rather than by name: `.keras` archives (Keras 3's
//! `model.save`), `.weights.h5` files (Keras 3's `save_weights`), and the legacy HDF5 layout of
//! Keras 2 and `keras.applications` (whole models with `model_config`, or weights alone); and
//! the first two written ([`save_keras`], [`save_keras_weights`]).
//! Keras's configs are translated into the crate's ([`config`]), so a model loads through the
//! same `from_config` as tessera's own files; Keras stores Dense kernels as (in, out), Conv2D
//! kernels as (height, width, in, out) and BatchNormalization as gamma, beta, moving mean,
//! moving variance, which is tessera's layout too, so weights load as they are.

mod archive;
mod compile;
mod config;
mod h5;
mod save;
mod weights;

use std::path::Path;

use super::declared::check_not_larger;
use super::io_error;
use crate::layers::with_weight_gate;
use crate::{Model, Result};
use h5::H5;
pub use save::{save_keras, save_keras_weights};
pub use weights::KerasWeightsOptions;
use weights::{FileLayer, Matching, assign, keras3_layers, legacy_layers, numbered_datasets};

/// Where a Keras 3 weights layout keeps the optimizer's variables, and legacy files their group.
const OPTIMIZER_VARS: &str = "optimizer/vars";
const LEGACY_OPTIMIZER: &str = "optimizer_weights";
const LEGACY_WEIGHTS: &str = "model_weights";

/// Keras's `keras.models.load_model`: the model in a `.keras` archive or a legacy whole-model
/// `.h5` file, on the CPU, with its weights and, when Keras compiled it, its compile settings
/// and optimizer state (step count, learning rate, slots) for an optimizer tessera has.
///
/// Errors name the file and what was wrong in it: not a Keras file, a layer class or setting
/// tessera lacks, weights missing or of another shape, a damaged archive or HDF5 structure.
pub fn load_keras(path: impl AsRef<Path>) -> Result<Model> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| io_error(path, e))?;
    if bytes.starts_with(archive::MAGIC) {
        let archive = archive::read(&bytes, path)?;
        let keras = config::read_model(&parse_json(&archive.config, path, "config.json")?)
            .map_err(|e| io_error(path, format!("config.json: {e}")))?;
        let h5 = H5::parse(archive.weights, &path.join("model.weights.h5"))?;
        let layers = keras3_layers(&h5, "layers")?;
        let mut model = build(&keras.architecture, &h5, &layers)?;
        assign(&model, &h5, &layers, KerasWeightsOptions::default(), Matching::Keys)?;
        if let Some(compile_config) = &keras.compile_config {
            let optimizer = if h5.has_group(OPTIMIZER_VARS) {
                numbered_datasets(&h5, OPTIMIZER_VARS)?
            } else {
                Vec::new()
            };
            restore_compiled(&mut model, &h5, compile_config, &optimizer)?;
        }
        Ok(model)
    } else if bytes.starts_with(h5::MAGIC) {
        let h5 = H5::parse(bytes, path)?;
        let config = h5.string_attr("/", "model_config")?.ok_or_else(|| {
            h5.error(
                "holds no model_config attribute, only weights; build the model and use load_keras_weights",
            )
        })?;
        let keras = config::read_model(&parse_json(&config, path, "model_config")?)
            .map_err(|e| io_error(path, format!("model_config: {e}")))?;
        let layers = legacy_layers(&h5, LEGACY_WEIGHTS)?;
        let mut model = build(&keras.architecture, &h5, &layers)?;
        assign(&model, &h5, &layers, KerasWeightsOptions::default(), Matching::Legacy)?;
        if let Some(training) = h5.string_attr("/", "training_config")? {
            let training = parse_json(&training, path, "training_config")?;
            let training =
                training.as_object().ok_or_else(|| io_error(path, "training_config is not a JSON object"))?;
            // A model saved before its first training step has no optimizer weights yet.
            let optimizer = if h5.has_group(LEGACY_OPTIMIZER) {
                let names = h5.strings_attr(LEGACY_OPTIMIZER, "weight_names")?.ok_or_else(|| {
                    h5.error(format!("group {LEGACY_OPTIMIZER} has no weight_names attribute"))
                })?;
                names.iter().map(|n| weights::join(LEGACY_OPTIMIZER, n)).collect()
            } else {
                Vec::new()
            };
            restore_compiled(&mut model, &h5, training, &optimizer)?;
        }
        Ok(model)
    } else {
        Err(io_error(path, "is neither a .keras archive (zip) nor an HDF5 file"))
    }
}

/// Keras's `model.load_weights`: fills the weights of a built `model` from a Keras 3
/// `.weights.h5` file, a `.keras` archive, or a legacy HDF5 file (a whole model's or weights
/// alone), as `options` says; returns the layers `skip_mismatch` left as they were, each with
/// why. Nothing is changed on an error.
pub fn load_keras_weights(
    model: &Model,
    path: impl AsRef<Path>,
    options: KerasWeightsOptions,
) -> Result<Vec<String>> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| io_error(path, e))?;
    let h5 = if bytes.starts_with(archive::MAGIC) {
        H5::parse(archive::read(&bytes, path)?.weights, &path.join("model.weights.h5"))?
    } else if bytes.starts_with(h5::MAGIC) {
        H5::parse(bytes, path)?
    } else {
        return Err(io_error(path, "is neither a Keras weights file (HDF5) nor a .keras archive (zip)"));
    };
    if h5.has_group("layers") {
        assign(model, &h5, &keras3_layers(&h5, "layers")?, options, Matching::Keys)
    } else {
        let group = if h5.has_group(LEGACY_WEIGHTS) { LEGACY_WEIGHTS } else { "/" };
        assign(model, &h5, &legacy_layers(&h5, group)?, options, Matching::Legacy)
    }
}

/// The model `architecture` describes, each weight refused before it is allocated if it is
/// larger than every weight `layers` of `h5` hold (it could never load). A dataset can hold no
/// more elements than the file has bytes (larger ones are refused when read), whatever its
/// header claims.
fn build(architecture: &crate::layers::Config, h5: &H5, layers: &[FileLayer]) -> Result<Model> {
    let mut largest = 0;
    for dataset in layers.iter().flat_map(|l| &l.datasets) {
        let elements = h5.shape(dataset)?.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
        largest = largest.max(elements.unwrap_or(usize::MAX).min(h5.byte_len()));
    }
    let architecture = architecture.clone();
    with_weight_gate(
        move |layer, weight, shape| check_not_larger(largest, layer, weight, shape),
        || Model::from_architecture(&architecture),
    )
    .map_err(|e| h5.error(e))
}

/// Compiles `model` as Keras's compile settings say and restores the optimizer's variables.
fn restore_compiled(
    model: &mut Model,
    h5: &H5,
    compile_config: &crate::layers::Config,
    optimizer: &[String],
) -> Result<()> {
    let iterations = if optimizer.is_empty() { 0 } else { compile::iterations(h5, optimizer)? };
    compile::compile(model, compile_config, iterations).map_err(|e| h5.error(e))?;
    if !optimizer.is_empty() {
        compile::restore_optimizer(model, h5, optimizer)?;
    }
    Ok(())
}

fn parse_json(text: &str, path: &Path, what: &str) -> Result<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| io_error(path, format!("{what} is not JSON: {e}")))
}
