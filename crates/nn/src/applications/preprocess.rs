//! Keras's `imagenet_utils.preprocess_input`: the input scaling each application's weights
//! were trained with, as tensor ops (so it runs on the tensor's device and is differentiable).

use tensor_core::Tensor;

use crate::{NnError, Result};

/// Half the range of pixel values, which Keras's "tf" mode divides by.
const TF_HALF_RANGE: f64 = 127.5;

/// The ImageNet mean of each channel in BGR order, which Keras's "caffe" mode subtracts.
const CAFFE_BGR_MEAN: [f64; 3] = [103.939, 116.779, 123.68];

/// Keras's "caffe" mode: channels-last RGB images with values in [0, 255] (any rank, the last
/// axis holding the 3 channels) to BGR, each channel less its ImageNet mean, unscaled.
/// `model` names the caller in errors.
pub(super) fn caffe(model: &str, x: &Tensor) -> Result<Tensor> {
    if x.dims().last() != Some(&3) {
        return Err(NnError::Data(format!(
            "{model}.preprocess_input: expects channels-last RGB images, their last axis of 3 channels; got \
             shape {:?}",
            x.dims()
        )));
    }
    let channel = |c: usize| x.slice(-1, c, c + 1);
    let bgr = Tensor::concat(&[&channel(2)?, &channel(1)?, &channel(0)?], -1)?;
    let mean = Tensor::from_slice(&CAFFE_BGR_MEAN, [3], &tensor_core::Device::Cpu)?
        .to_dtype(x.dtype())?
        .to(x.device())?;
    Ok(bgr.sub(&mean)?)
}

/// Keras's "tf" mode: values in [0, 255] to [-1, 1], as `x / 127.5 - 1` (a division, as Keras
/// computes it, so the values round as Keras's do), any shape.
pub(super) fn tf(x: &Tensor) -> Result<Tensor> {
    let half_range = Tensor::scalar(TF_HALF_RANGE, x.dtype(), x.device())?;
    Ok(x.div(&half_range)?.add_scalar(-1.0)?)
}
