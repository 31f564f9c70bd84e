//! Reshaping layers: Flatten (every axis but the batch axis into one), Reshape and UpSampling2D.

use tensor_core::Tensor;

use super::Config;
use super::base::{LayerBase, batch_shape, layer_basics, layer_builders};
use super::config::Fields;
use crate::{ForwardCtx, Layer, Result};

/// Flattens each sample: (N, d1, d2, ...) to (N, d1 * d2 * ...), row-major as Keras.
pub struct Flatten {
    base: LayerBase,
}

impl Flatten {
    /// Flattens every axis but the batch axis.
    pub fn new() -> Flatten {
        Flatten { base: LayerBase::new("flatten") }
    }

    /// Keras's `Flatten.from_config`: the layer a [`Layer::config`] describes.
    pub fn from_config(config: &Config) -> Result<Flatten> {
        let mut fields = Fields::layer("Flatten", config);
        let mut layer = Flatten::new();
        layer.base.read_config(&mut fields)?;
        fields.finish()?;
        Ok(layer)
    }
}

impl Default for Flatten {
    fn default() -> Self {
        Self::new()
    }
}

layer_builders!(Flatten);

impl Layer for Flatten {
    layer_basics!("Flatten", "flatten");

    fn config(&self) -> Result<Config> {
        Ok(self.base.config())
    }

    fn build(&mut self, inputs: &[Vec<usize>]) -> Result<Vec<usize>> {
        let input = self.base.single(inputs)?;
        let size = input.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)).ok_or_else(|| {
            self.base.error(format!(
                "flattening input shape {} gives more features than memory can address",
                batch_shape(input)
            ))
        })?;
        self.base.build_weights(inputs, |_| Ok(()))?;
        Ok(vec![size])
    }

    fn forward(&self, inputs: &[Tensor], _ctx: &mut ForwardCtx<'_>) -> Result<Tensor> {
        self.base.check_inputs(inputs)?;
        let x = &inputs[0];
        Ok(x.reshape([x.dims()[0], x.dims()[1..].iter().product()])?)
    }
}

/// Keras's `Reshape`: each sample to `target_shape` (batch axis excluded), row-major; one
/// entry may be -1, inferred from the others.
pub struct Reshape {
    base: LayerBase,
    target_shape: Vec<isize>,
}

impl Reshape {
    pub fn new(target_shape: &[isize]) -> Reshape {
        Reshape { base: LayerBase::new("reshape"), target_shape: target_shape.to_vec() }
    }

    /// Keras's `Reshape.from_config`; `target_shape` is required.
    pub fn from_config(config: &Config) -> Result<Reshape> {
        let mut fields = Fields::layer("Reshape", config);
        let target: Vec<isize> = fields.required("target_shape")?;
        let mut layer = Reshape::new(&target);
        layer.base.read_config(&mut fields)?;
        fields.finish()?;
        Ok(layer)
    }

    /// The target shape with its -1 resolved for a sample of `size` elements, or an error
    /// naming both shapes.
    fn resolve(&self, input: &[usize]) -> Result<Vec<usize>> {
        let size: usize = input.iter().product();
        let describe = |dims: &[isize]| dims.iter().map(isize::to_string).collect::<Vec<_>>().join(", ");
        let mismatch = || {
            self.base.error(format!(
                "cannot reshape samples of shape ({}) ({size} values) to ({})",
                input.iter().map(usize::to_string).collect::<Vec<_>>().join(", "),
                describe(&self.target_shape)
            ))
        };
        let unknown = self.target_shape.iter().filter(|&&d| d == -1).count();
        if unknown > 1 || self.target_shape.iter().any(|&d| d < -1 || d == 0) {
            return Err(self.base.error(format!(
                "target_shape ({}) must be positive sizes with at most one -1",
                describe(&self.target_shape)
            )));
        }
        let known = self
            .target_shape
            .iter()
            .filter(|&&d| d > 0)
            .try_fold(1usize, |product, &d| product.checked_mul(d as usize))
            .ok_or_else(mismatch)?;
        let inferred = if unknown == 1 && size.is_multiple_of(known) { size / known } else { 1 };
        let target: Vec<usize> =
            self.target_shape.iter().map(|&d| if d == -1 { inferred } else { d as usize }).collect();
        if target.iter().product::<usize>() != size {
            return Err(mismatch());
        }
        Ok(target)
    }
}

layer_builders!(Reshape);

impl Layer for Reshape {
    layer_basics!("Reshape", "reshape");

    fn config(&self) -> Result<Config> {
        let mut config = self.base.config();
        config.insert("target_shape".into(), super::config::ToValue::to_value(&self.target_shape));
        Ok(config)
    }

    fn build(&mut self, inputs: &[Vec<usize>]) -> Result<Vec<usize>> {
        let output = self.resolve(self.base.single(inputs)?)?;
        self.base.build_weights(inputs, |_| Ok(()))?;
        Ok(output)
    }

    fn forward(&self, inputs: &[Tensor], _ctx: &mut ForwardCtx<'_>) -> Result<Tensor> {
        self.base.check_inputs(inputs)?;
        let x = &inputs[0];
        let target = self.resolve(&x.dims()[1..])?;
        Ok(x.reshape([&[x.dims()[0]], target.as_slice()].concat())?)
    }
}

/// Keras's `UpSampling2D` with nearest-neighbour interpolation: each pixel of (N, H, W, C)
/// images repeated `size` times down and across, to (N, H * sh, W * sw, C). Its gradient sums
/// each block back onto its pixel.
pub struct UpSampling2D {
    base: LayerBase,
    size: super::Size2,
}

impl UpSampling2D {
    /// Doubles height and width (Keras's default size (2, 2)).
    pub fn new() -> UpSampling2D {
        UpSampling2D { base: LayerBase::new("up_sampling2d"), size: super::Size2(2, 2) }
    }

    pub fn size(mut self, size: impl Into<super::Size2>) -> Self {
        self.size = size.into();
        self
    }

    /// Keras's `UpSampling2D.from_config`: `interpolation` must be "nearest" and
    /// `data_format` "channels_last" (or absent).
    pub fn from_config(config: &Config) -> Result<UpSampling2D> {
        let mut fields = Fields::layer("UpSampling2D", config);
        let mut layer = UpSampling2D::new();
        fields.update("size", &mut layer.size)?;
        let interpolation: Option<String> = fields.get("interpolation")?;
        if let Some(other) = interpolation.filter(|i| i != "nearest") {
            return Err(layer
                .base
                .error(format!("interpolation \"{other}\" is not supported; expected \"nearest\"")));
        }
        layer.base.read_channels_last(&mut fields)?;
        layer.base.read_config(&mut fields)?;
        fields.finish()?;
        Ok(layer)
    }
}

impl Default for UpSampling2D {
    fn default() -> Self {
        UpSampling2D::new()
    }
}

layer_builders!(UpSampling2D);

impl Layer for UpSampling2D {
    layer_basics!("UpSampling2D", "up_sampling2d");

    fn config(&self) -> Result<Config> {
        use super::config::ToValue;
        let mut config = self.base.config();
        config.insert("size".into(), self.size.to_value());
        config.insert("data_format".into(), "channels_last".to_string().to_value());
        config.insert("interpolation".into(), "nearest".to_string().to_value());
        Ok(config)
    }

    fn build(&mut self, inputs: &[Vec<usize>]) -> Result<Vec<usize>> {
        let input = self.base.single(inputs)?;
        let &[h, w, c] = input else {
            return Err(self.base.shape_error("images (height, width, channels)", input));
        };
        let super::Size2(sh, sw) = self.size;
        if sh == 0 || sw == 0 {
            return Err(self.base.error(format!("size must be at least (1, 1), got ({sh}, {sw})")));
        }
        let (Some(out_h), Some(out_w)) = (h.checked_mul(sh), w.checked_mul(sw)) else {
            return Err(self.base.error(format!("({h}, {w}) images upsampled by ({sh}, {sw}) overflow")));
        };
        self.base.build_weights(inputs, |_| Ok(()))?;
        Ok(vec![out_h, out_w, c])
    }

    fn forward(&self, inputs: &[Tensor], _ctx: &mut ForwardCtx<'_>) -> Result<Tensor> {
        self.base.check_inputs(inputs)?;
        let x = &inputs[0];
        let &[n, h, w, c] = x.dims() else {
            return Err(self.base.shape_error("a batch of images (N, H, W, C)", x.dims()));
        };
        let super::Size2(sh, sw) = self.size;
        // Repeats as a broadcast over two new axes of size 1, whose gradient sums them away.
        let spread = x.reshape([n, h, 1, w, 1, c])?.broadcast_to(&[n, h, sh, w, sw, c].into())?;
        Ok(spread.reshape([n, h * sh, w * sw, c])?)
    }
}
