//! Dense: a fully connected layer on the last axis.

use tensor_core::Tensor;

use super::base::{LayerBase, kernel_builders, layer_basics, layer_builders, weight_builders};
use super::config::{Fields, ToValue, kernel_config};
use super::{Config, Spec};
use crate::activations::Activation;
use crate::initializers::Initializer;
use crate::regularizers::Regularizer;
use crate::{ForwardCtx, Layer, Result};

const KERNEL: usize = 0;
const BIAS: usize = 1;

/// `activation(x · kernel + bias)` on the last axis of its input: (..., features) to
/// (..., units), as Keras's `Dense` (so on (20, 20, 3) images it maps each pixel's 3 channels).
pub struct Dense {
    base: LayerBase,
    units: usize,
    activation: Spec<Activation>,
    use_bias: bool,
    kernel_initializer: Spec<Initializer>,
    bias_initializer: Spec<Initializer>,
    kernel_regularizer: Option<Spec<Regularizer>>,
    bias_regularizer: Option<Spec<Regularizer>>,
}

impl Dense {
    /// A Dense layer of `units` outputs: no activation, a bias, glorot_uniform kernel.
    pub fn new(units: usize) -> Dense {
        Dense {
            base: LayerBase::new("dense"),
            units,
            activation: Spec::Value(Activation::Linear),
            use_bias: true,
            kernel_initializer: Spec::Value(Initializer::GlorotUniform),
            bias_initializer: Spec::Value(Initializer::Zeros),
            kernel_regularizer: None,
            bias_regularizer: None,
        }
    }

    /// Keras's `Dense.from_config`: the layer a [`Layer::config`] describes, unbuilt. `units` is
    /// required; other settings missing from the config take their defaults.
    pub fn from_config(config: &Config) -> Result<Dense> {
        let mut fields = Fields::layer("Dense", config);
        let mut layer = Dense::new(fields.required("units")?);
        layer.read_kernel_config(&mut fields)?;
        layer.base.read_weighted_config(&mut fields)?;
        fields.finish()?;
        Ok(layer)
    }
}

layer_builders!(Dense);
kernel_builders!(Dense);
weight_builders!(Dense);
kernel_config!(Dense);

impl Layer for Dense {
    layer_basics!("Dense", "dense");

    fn config(&self) -> Result<Config> {
        let mut config = self.base.weighted_config();
        config.extend(self.kernel_config());
        config.insert("units".into(), self.units.to_value());
        Ok(config)
    }

    fn build(&mut self, inputs: &[Vec<usize>]) -> Result<Vec<usize>> {
        let input = self.base.single(inputs)?;
        let Some((&features, leading)) = input.split_last() else {
            return Err(self.base.shape_error("an input with a feature axis (rank 1 or more)", input));
        };
        if self.units == 0 {
            return Err(self.base.error("units must be at least 1, got 0"));
        }
        self.base.resolve(&self.activation)?;
        self.base.resolve_regularizer(&self.kernel_regularizer)?;
        self.base.resolve_regularizer(&self.bias_regularizer)?;
        let output = [leading, &[self.units]].concat();
        let units = self.units;
        self.base.build_weights(inputs, |base| {
            base.add_weight("kernel", &[features, units], &self.kernel_initializer, true)?;
            if self.use_bias {
                base.add_weight("bias", &[units], &self.bias_initializer, true)?;
            }
            Ok(())
        })?;
        Ok(output)
    }

    fn forward(&self, inputs: &[Tensor], ctx: &mut ForwardCtx<'_>) -> Result<Tensor> {
        self.base.check_inputs(inputs)?;
        let kernel = ctx.weight(self.base.weight(KERNEL)?);
        let bias = if self.use_bias { Some(ctx.weight(self.base.weight(BIAS)?)) } else { None };
        let activation = self.base.resolve(&self.activation)?;
        ctx.product_then(activation, |fused| inputs[0].affine(&kernel, bias.as_ref(), fused))
    }

    fn regularization_loss(&self, ctx: &mut ForwardCtx<'_>) -> Result<Option<Tensor>> {
        let terms = [
            (KERNEL, self.base.resolve_regularizer(&self.kernel_regularizer)?),
            (BIAS, self.base.resolve_regularizer(&self.bias_regularizer)?),
        ];
        self.base.penalties(ctx, &terms)
    }
}
