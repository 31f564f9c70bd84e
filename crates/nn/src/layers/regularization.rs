//! Dropout and SpatialDropout2D: random zeroing in training, nothing at inference.

use tensor_core::{Shape, Tensor};

use super::Config;
use super::base::{LayerBase, layer_basics, layer_builders};
use super::config::{Fields, ToValue};
use crate::{ForwardCtx, Layer, Result};

/// Checks a dropout rate: Keras accepts [0, 1]; a rate of 1 would scale by 1 / 0.
fn check_rate(base: &LayerBase, rate: f64) -> Result<()> {
    if (0.0..1.0).contains(&rate) {
        Ok(())
    } else {
        Err(base.error(format!("rate must be in [0, 1), got {rate}")))
    }
}

/// In training, zeroes each element with probability `rate` and scales the others by
/// `1 / (1 - rate)` (inverted dropout, as Keras); at inference, passes its input through.
pub struct Dropout {
    base: LayerBase,
    rate: f64,
}

impl Dropout {
    /// Drops each element with probability `rate`, in [0, 1).
    pub fn new(rate: f64) -> Dropout {
        Dropout { base: LayerBase::new("dropout"), rate }
    }

    /// Keras's `Dropout.from_config`: the layer a [`Layer::config`] describes; `rate` is
    /// required.
    pub fn from_config(config: &Config) -> Result<Dropout> {
        let mut fields = Fields::layer("Dropout", config);
        let mut layer = Dropout::new(fields.required("rate")?);
        layer.base.read_config(&mut fields)?;
        fields.finish()?;
        Ok(layer)
    }
}

layer_builders!(Dropout);

impl Layer for Dropout {
    layer_basics!("Dropout", "dropout");

    fn config(&self) -> Result<Config> {
        let mut config = self.base.config();
        config.insert("rate".into(), self.rate.to_value());
        Ok(config)
    }

    fn build(&mut self, inputs: &[Vec<usize>]) -> Result<Vec<usize>> {
        let output = self.base.single(inputs)?.to_vec();
        check_rate(&self.base, self.rate)?;
        self.base.build_weights(inputs, |_| Ok(()))?;
        Ok(output)
    }

    fn forward(&self, inputs: &[Tensor], ctx: &mut ForwardCtx<'_>) -> Result<Tensor> {
        self.base.check_inputs(inputs)?;
        if !ctx.is_training() || self.rate == 0.0 {
            return Ok(inputs[0].clone());
        }
        Ok(inputs[0].dropout(self.rate, ctx.next_seed())?)
    }
}

/// Dropout of whole feature maps: in training each (sample, channel) of (H, W, C) images is
/// kept or zeroed as a whole (mask (N, 1, 1, C)), as Keras's `SpatialDropout2D`.
pub struct SpatialDropout2D {
    base: LayerBase,
    rate: f64,
}

impl SpatialDropout2D {
    /// Drops each feature map with probability `rate`, in [0, 1).
    pub fn new(rate: f64) -> SpatialDropout2D {
        SpatialDropout2D { base: LayerBase::new("spatial_dropout2d"), rate }
    }

    /// Keras's `SpatialDropout2D.from_config`: the layer a [`Layer::config`] describes; `rate`
    /// is required.
    pub fn from_config(config: &Config) -> Result<SpatialDropout2D> {
        let mut fields = Fields::layer("SpatialDropout2D", config);
        let mut layer = SpatialDropout2D::new(fields.required("rate")?);
        layer.base.read_config(&mut fields)?;
        fields.finish()?;
        Ok(layer)
    }
}

layer_builders!(SpatialDropout2D);

impl Layer for SpatialDropout2D {
    layer_basics!("SpatialDropout2D", "spatial_dropout2d");

    fn config(&self) -> Result<Config> {
        let mut config = self.base.config();
        config.insert("rate".into(), self.rate.to_value());
        Ok(config)
    }

    fn build(&mut self, inputs: &[Vec<usize>]) -> Result<Vec<usize>> {
        let input = self.base.single(inputs)?;
        if input.len() != 3 {
            return Err(self.base.shape_error("images of shape (height, width, channels)", input));
        }
        let output = input.to_vec();
        check_rate(&self.base, self.rate)?;
        self.base.build_weights(inputs, |_| Ok(()))?;
        Ok(output)
    }

    fn forward(&self, inputs: &[Tensor], ctx: &mut ForwardCtx<'_>) -> Result<Tensor> {
        self.base.check_inputs(inputs)?;
        let x = &inputs[0];
        if !ctx.is_training() || self.rate == 0.0 {
            return Ok(x.clone());
        }
        let mask = Shape::new([x.dims()[0], 1, 1, x.dims()[3]]);
        Ok(x.dropout_broadcast(self.rate, ctx.next_seed(), &mask)?)
    }
}
