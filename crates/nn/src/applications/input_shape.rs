//! Keras's checks of an application's options, from `keras.applications.imagenet_utils`:
//! `obtain_input_shape` (which input shapes a model takes) and `validate_activation` (which
//! classifier activations pretrained weights allow), and the checks of `weights` and `classes`
//! every application starts with, with Keras's messages as errors.

use super::Weights;
use crate::{NnError, Result};

/// The sizes an application's input shape is checked against.
pub(super) struct InputSizes {
    /// The height and width the model was trained at (224 for VGG16 and MobileNet).
    pub(super) default: usize,
    /// The smallest height and width the model's downsampling leaves non-empty.
    pub(super) min: usize,
}

/// The classes of ImageNet, which the ImageNet weights' classifiers predict.
pub(super) const IMAGENET_CLASSES: usize = 1000;

/// The checks every application makes of `weights` first: a file to load must exist, and
/// ImageNet weights with the top predict ImageNet's 1000 classes.
pub(super) fn validate_weights(
    model: &str,
    weights: &Weights,
    include_top: bool,
    classes: usize,
) -> Result<()> {
    if let Some(path) = weights.path()
        && !path.exists()
    {
        return Err(usage(
            model,
            format!(
                "weights should be random, ImageNet's or those of a file to load; the file {} does not \
                 exist",
                path.display()
            ),
        ));
    }
    if matches!(weights, Weights::ImageNet(_)) && include_top && classes != IMAGENET_CLASSES {
        return Err(usage(
            model,
            format!(
                "with ImageNet weights and include_top=true, classes should be {IMAGENET_CLASSES}; received \
                 classes={classes}"
            ),
        ));
    }
    Ok(())
}

/// Keras's `obtain_input_shape` for channels-last images: the input shape `model` takes, given
/// the `input_shape` asked for (or none), whether a classifier top follows (`require_flatten`)
/// and where the weights come from. tessera's inputs have static shapes, so where Keras would
/// take `(None, None, 3)` (no shape given, no top) the default `(224, 224, 3)` is taken.
pub(super) fn obtain_input_shape(
    model: &str,
    input_shape: Option<[usize; 3]>,
    sizes: &InputSizes,
    require_flatten: bool,
    weights: &Weights,
) -> Result<[usize; 3]> {
    let imagenet = matches!(weights, Weights::ImageNet(_));
    let default_shape = match input_shape {
        Some([_, _, channels]) if !imagenet => {
            if channels != 1 && channels != 3 {
                log::warn!(
                    "{model}: this model usually expects 1 or 3 input channels, but input_shape {} has \
                     {channels}",
                    shape_text(&[sizes.default, sizes.default, channels])
                );
            }
            [sizes.default, sizes.default, channels]
        }
        _ => [sizes.default, sizes.default, 3],
    };
    if imagenet && require_flatten {
        if let Some(shape) = input_shape
            && shape != default_shape
        {
            return Err(usage(
                model,
                format!(
                    "when setting include_top=true and loading ImageNet weights, input_shape should be {}; \
                     received input_shape={}",
                    shape_text(&default_shape),
                    shape_text(&shape)
                ),
            ));
        }
        return Ok(default_shape);
    }
    let Some(shape) = input_shape else { return Ok(default_shape) };
    if imagenet && shape[2] != 3 {
        return Err(usage(
            model,
            format!("the input must have 3 channels; received input_shape={}", shape_text(&shape)),
        ));
    }
    if shape[0] < sizes.min || shape[1] < sizes.min {
        return Err(usage(
            model,
            format!(
                "input size must be at least {min}x{min}; received input_shape={}",
                shape_text(&shape),
                min = sizes.min
            ),
        ));
    }
    Ok(shape)
}

/// Keras's `validate_activation`: with pretrained weights (ImageNet or a file), the classifier
/// takes no activation or softmax, the ones its weights were trained under.
pub(super) fn validate_activation(model: &str, activation: Option<&str>, weights: &Weights) -> Result<()> {
    match (weights, activation) {
        (Weights::Random, _) | (_, None | Some("softmax")) => Ok(()),
        (_, Some(other)) => Err(usage(
            model,
            format!(
                "only no activation (None) and softmax are allowed for classifier_activation when using \
                 pretrained weights, with include_top=true; received classifier_activation=\"{other}\""
            ),
        )),
    }
}

/// `(h, w, c)`, as Keras prints a shape tuple.
pub(super) fn shape_text(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    format!("({})", dims.join(", "))
}

/// An error in the options of `model`.
pub(super) fn usage(model: &str, detail: impl std::fmt::Display) -> NnError {
    NnError::Usage(format!("{model}: {detail}"))
}
