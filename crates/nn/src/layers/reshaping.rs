//! Flatten: every axis but the batch axis into one.

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
