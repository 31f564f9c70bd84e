//! Inverted dropout with a mask drawn from the counter-based generator in [`crate::rng`], so the
//! same seed drops the same elements on every backend.

use crate::{Error, Result, Shape, Tensor};

/// Resolution of [`crate::rng::uniform`]: its samples are multiples of `1 / 2^24`.
const UNIFORM_STEPS: f64 = (1u32 << 24) as f64;

impl Tensor {
    /// Zeroes each element with probability `rate` and scales the rest by `1 / (1 - rate)`, so the
    /// expected value is unchanged (inverted dropout, as Keras). Element `i` is dropped iff
    /// `rng::uniform(seed, i) < rate`; the backward pass multiplies by the same mask.
    pub fn dropout(&self, rate: f64, seed: u64) -> Result<Tensor> {
        self.dropout_broadcast(rate, seed, &self.shape().clone())
    }

    /// Dropout with a mask of `mask_shape` broadcast over this tensor (Keras's `noise_shape`):
    /// (N, 1, 1, C) on (N, H, W, C) images drops whole feature maps, as SpatialDropout2D does.
    /// Mask element `i` (row-major in `mask_shape`) is dropped iff `rng::uniform(seed, i) < rate`.
    pub fn dropout_broadcast(&self, rate: f64, seed: u64, mask_shape: &Shape) -> Result<Tensor> {
        let op = "dropout";
        if !(0.0..1.0).contains(&rate) {
            return Err(Error::argument(op, format!("rate must be in [0, 1), got {rate}")));
        }
        if self.shape().broadcast(op, mask_shape)? != *self.shape() {
            return Err(Error::shape(
                op,
                format!("mask shape {mask_shape} does not broadcast to the input's shape {}", self.shape()),
            ));
        }
        if rate == 0.0 {
            return Ok(self.clone());
        }
        // The samples are multiples of 2^-24, so `u < rate` iff `u < threshold`; the threshold is
        // exact in f32 too, so both dtypes (and a shader comparing in f32) drop the same elements.
        let threshold = (rate * UNIFORM_STEPS).ceil() / UNIFORM_STEPS;
        let keep = Tensor::uniform(mask_shape.clone(), 0.0, 1.0, seed, self.dtype(), self.device())?
            .step(threshold)?
            .mul_scalar(1.0 / (1.0 - rate))?;
        self.mul(&keep)
    }
}
