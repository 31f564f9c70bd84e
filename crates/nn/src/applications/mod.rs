//! Keras's `keras.applications`: well-known image models built as Keras builds them — the same
//! layer names, output shapes and parameter counts, so Keras's own weight files for them load
//! unchanged — with Keras's rules for their options and Keras's input preprocessing.
//!
//! Keras downloads its ImageNet weights when asked for `weights="imagenet"`; tessera fetches
//! nothing from the network, so the file Keras would download is given by path
//! ([`Weights::ImageNet`]), which applies Keras's ImageNet rules, or any Keras weight file for
//! the model is ([`Weights::File`]).

mod input_shape;
pub mod mobilenet;
mod preprocess;
pub mod vgg16;
mod weights;

use std::path::PathBuf;

/// Where a model's weights come from: Keras's `weights=` argument.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Weights {
    /// Random initialisation (Keras's `weights=None`); the model logs a warning saying so,
    /// since such a model is only a starting point for training from scratch.
    #[default]
    Random,
    /// Keras's ImageNet weights (`weights="imagenet"`) from the file Keras downloads for them
    /// (`vgg16_weights_tf_dim_ordering_tf_kernels.h5`, or `..._notop.h5` without the top;
    /// `mobilenet_1_0_224_tf.h5` or `..._tf_no_top.h5` for MobileNet at alpha 1 and 224x224),
    /// kept wherever you keep it. Keras's ImageNet rules apply: with the top, 1000 classes and
    /// the default input shape; 3 input channels; a softmax or no classifier activation.
    ImageNet(PathBuf),
    /// A Keras weight file of the same architecture (Keras's `weights=path`): the legacy HDF5
    /// layout of Keras 2 and `keras.applications`, or Keras 3's `.weights.h5`.
    File(PathBuf),
}

impl Weights {
    /// The file to load, if any.
    fn path(&self) -> Option<&PathBuf> {
        match self {
            Weights::Random => None,
            Weights::ImageNet(path) | Weights::File(path) => Some(path),
        }
    }
}

/// How a model without its top reduces the last convolutional block's feature maps: Keras's
/// `pooling=` argument.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Pooling {
    /// The feature maps themselves, (height, width, channels) (Keras's `pooling=None`).
    #[default]
    None,
    /// Their mean per channel, by a `GlobalAveragePooling2D` layer (`pooling="avg"`).
    Avg,
    /// Their maximum per channel, by a `GlobalMaxPooling2D` layer (`pooling="max"`).
    Max,
}
