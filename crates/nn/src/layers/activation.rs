//! Activation: an activation function as a layer of its own.

use tensor_core::Tensor;

use super::Spec;
use super::base::{LayerBase, layer_basics, layer_builders};
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
}

layer_builders!(ActivationLayer);

impl Layer for ActivationLayer {
    layer_basics!("Activation", "activation");

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
