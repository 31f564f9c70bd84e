//! An application's weights, once its model is built: loaded from a Keras weight file as
//! Keras's `model.load_weights(path)` does, or left random with a warning saying so.

use super::Weights;
use crate::io::{KerasWeightsOptions, load_keras_weights};
use crate::{Model, Result};

/// Fills `model`'s weights as `weights` says. A file is read as Keras's `load_weights` reads
/// it: legacy HDF5 files (Keras's own weight files for the applications) layer by layer in
/// order, Keras 3 `.weights.h5` files by each layer's key; a file of another architecture (a
/// top where the model has none, other classes) is an error naming the layer and both shapes.
pub(super) fn load(model: &Model, weights: &Weights) -> Result<()> {
    match weights.path() {
        None => {
            log::warn!(
                "{}: no weights given, so the model's weights are random (Keras's weights=None); pass \
                 Weights::ImageNet(path) or Weights::File(path) for trained ones",
                model.name()
            );
            Ok(())
        }
        Some(path) => load_keras_weights(model, path, KerasWeightsOptions::default()).map(|_| ()),
    }
}
