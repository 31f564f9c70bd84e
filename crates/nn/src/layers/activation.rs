//! Activation: an activation function as a layer of its own.

use tensor_core::Tensor;

use super::base::{LayerBase, layer_basics, layer_builders};
use super::config::{Fields, ToValue};
use super::{Config, Spec};
use crate::activations::Activation;
use crate::{ForwardCtx, Layer, Result};

/// Applies an activation to its input (Keras's `Activation` layer; named `ActivationLayer`
/// here because [`Activation`] is the function itself).
pub struct ActivationLayer {
    base: LayerBase,
    activation: Spec<Activation>,
}

impl ActivationLayer {
    /// The layer for `activation`, by value or Keras name ("relu").
    pub fn new(activation: impl Into<Spec<Activation>>) -> ActivationLayer {
        ActivationLayer { base: LayerBase::new("activation"), activation: activation.into() }
    }

    /// Keras's `Activation.from_config`: the layer a [`Layer::config`] describes; `activation`
    /// is required.
    pub fn from_config(config: &Config) -> Result<ActivationLayer> {
        let mut fields = Fields::layer("Activation", config);
        let mut layer = ActivationLayer::new(fields.required::<Spec<Activation>>("activation")?);
        layer.base.read_config(&mut fields)?;
        fields.finish()?;
        Ok(layer)
    }
}

layer_builders!(ActivationLayer);

impl Layer for ActivationLayer {
    layer_basics!("Activation", "activation");

    fn config(&self) -> Result<Config> {
        let mut config = self.base.config();
        config.insert("activation".into(), self.activation.to_value());
        Ok(config)
    }

    fn build(&mut self, inputs: &[Vec<usize>]) -> Result<Vec<usize>> {
        let output = self.base.single(inputs)?.to_vec();
        self.base.resolve(&self.activation)?;
        self.base.build_weights(inputs, |_| Ok(()))?;
        Ok(output)
    }

    fn forward(&self, inputs: &[Tensor], ctx: &mut ForwardCtx<'_>) -> Result<Tensor> {
        self.base.check_inputs(inputs)?;
        ctx.activate(self.base.resolve(&self.activation)?, &inputs[0])
    }
}
