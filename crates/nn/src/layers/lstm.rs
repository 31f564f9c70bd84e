//! LSTM: the long short-term memory layer over (timesteps, features) sequences.

use tensor_core::Tensor;

use super::base::{LayerBase, kernel_builders, layer_basics, layer_builders, weight_builders};
use super::config::{Fields, config, kernel_config};
use super::rnn::{
    Outputs, cell_activation, gate_width, output_shape, project, recurrent_settings, sequence_dims,
    step_input, walk,
};
use super::{Config, Spec};
use crate::activations::Activation;
use crate::initializers::Initializer;
use crate::regularizers::Regularizer;
use crate::{ForwardCtx, Layer, Result};

const KERNEL: usize = 0;
const RECURRENT_KERNEL: usize = 1;
const BIAS: usize = 2;

/// Keras's `LSTM` over inputs of shape (timesteps, features), from zero states. Each step
/// computes the gates `x_t · kernel + h · recurrent_kernel + bias`, packed in Keras's order
/// input, forget, cell, output (kernel (features, 4 * units), recurrent kernel
/// (units, 4 * units), bias (4 * units,)), and then the cell state
/// `c = f * c + i * activation(c̃)` and the output `h = o * activation(c)` (gates through
/// `recurrent_activation`) in one fused op. Gives the last output (units,), or every output
/// (timesteps, units) with `return_sequences(true)`.
pub struct LSTM {
    base: LayerBase,
    units: usize,
    activation: Spec<Activation>,
    recurrent_activation: Spec<Activation>,
    use_bias: bool,
    unit_forget_bias: bool,
    return_sequences: bool,
    go_backwards: bool,
    kernel_initializer: Spec<Initializer>,
    recurrent_initializer: Spec<Initializer>,
    bias_initializer: Spec<Initializer>,
    kernel_regularizer: Option<Spec<Regularizer>>,
    recurrent_regularizer: Option<Spec<Regularizer>>,
    bias_regularizer: Option<Spec<Regularizer>>,
}

impl LSTM {
    /// Keras's defaults: tanh, sigmoid gates, a bias whose forget gate starts at 1, the last
    /// output only, glorot_uniform kernel, orthogonal recurrent kernel, zero bias.
    pub fn new(units: usize) -> LSTM {
        LSTM {
            base: LayerBase::new("lstm"),
            units,
            activation: Spec::Value(Activation::Tanh),
            recurrent_activation: Spec::Value(Activation::Sigmoid),
            use_bias: true,
            unit_forget_bias: true,
            return_sequences: false,
            go_backwards: false,
            kernel_initializer: Spec::Value(Initializer::GlorotUniform),
            recurrent_initializer: Spec::Value(Initializer::orthogonal()),
            bias_initializer: Spec::Value(Initializer::Zeros),
            kernel_regularizer: None,
            recurrent_regularizer: None,
            bias_regularizer: None,
        }
    }

    /// Whether the forget gate's bias starts at 1 rather than at the bias initializer's value
    /// (true by default, as in Keras).
    pub fn unit_forget_bias(mut self, unit_forget_bias: bool) -> Self {
        self.unit_forget_bias = unit_forget_bias;
        self
    }

    /// Keras's `LSTM.from_config`: the layer a [`Layer::config`] describes, unbuilt. `units` is
    /// required; other settings missing from the config take their defaults.
    pub fn from_config(config: &Config) -> Result<LSTM> {
        let mut fields = Fields::layer("LSTM", config);
        let mut layer = LSTM::new(fields.required("units")?);
        fields.update("unit_forget_bias", &mut layer.unit_forget_bias)?;
        layer.read_gated_config(&mut fields)?;
        layer.read_kernel_config(&mut fields)?;
        layer.base.read_weighted_config(&mut fields)?;
        fields.finish()?;
        Ok(layer)
    }
}

layer_builders!(LSTM);
kernel_builders!(LSTM);
weight_builders!(LSTM);
kernel_config!(LSTM);
recurrent_settings!(LSTM, gated);

impl Layer for LSTM {
    layer_basics!("LSTM", "lstm");

    fn config(&self) -> Result<Config> {
        let mut config = self.base.weighted_config();
        config.extend(self.kernel_config());
        config.extend(self.gated_config());
        config.extend(config!(
            "units": self.units,
            "unit_forget_bias": self.unit_forget_bias,
        ));
        Ok(config)
    }

    fn build(&mut self, inputs: &[Vec<usize>]) -> Result<Vec<usize>> {
        let (timesteps, features) = sequence_dims(&self.base, inputs, self.units)?;
        cell_activation(&self.base, "activation", &self.activation)?;
        cell_activation(&self.base, "recurrent_activation", &self.recurrent_activation)?;
        for regularizer in [&self.kernel_regularizer, &self.recurrent_regularizer, &self.bias_regularizer] {
            self.base.resolve_regularizer(regularizer)?;
        }
        let units = self.units;
        let width = gate_width(&self.base, units, 4)?;
        self.base.build_weights(inputs, |base| {
            base.add_weight("kernel", &[features, width], &self.kernel_initializer, true)?;
            base.add_weight("recurrent_kernel", &[units, width], &self.recurrent_initializer, true)?;
            if self.use_bias {
                base.add_weight("bias", &[width], &self.bias_initializer, true)?;
                if self.unit_forget_bias {
                    // Keras starts the forget gate open, so that the cell remembers from the
                    // first step on.
                    let bias = base.weight(BIAS)?.value();
                    let opened = Tensor::concat(
                        &[
                            &bias.slice(0, 0, units)?,
                            &bias.slice(0, units, 2 * units)?.ones_like()?,
                            &bias.slice(0, 2 * units, width)?,
                        ],
                        0,
                    )?;
                    bias.assign(&opened)?;
                }
            }
            Ok(())
        })?;
        Ok(output_shape(timesteps, units, self.return_sequences))
    }

    fn forward(&self, inputs: &[Tensor], ctx: &mut ForwardCtx<'_>) -> Result<Tensor> {
        self.base.check_inputs(inputs)?;
        let x = &inputs[0];
        let (batch, timesteps, units) = (x.dims()[0], x.dims()[1], self.units);
        let activation = cell_activation(&self.base, "activation", &self.activation)?;
        let recurrent_activation =
            cell_activation(&self.base, "recurrent_activation", &self.recurrent_activation)?;
        let recurrent = ctx.weight(self.base.weight(RECURRENT_KERNEL)?);
        let bias = if self.use_bias { Some(ctx.weight(self.base.weight(BIAS)?)) } else { None };
        let projected = project(x, &ctx.weight(self.base.weight(KERNEL)?), bias.as_ref())?;
        let mut outputs = Outputs::new(self.return_sequences);
        // The states start at zero, so the first step has no recurrent product.
        let mut state: Option<(Tensor, Tensor)> = None;
        for t in walk(timesteps, self.go_backwards) {
            let gates = step_input(&projected, t)?;
            let (gates, c_prev) = match &state {
                None => (gates, Tensor::zeros([batch, units], x.dtype(), x.device())?),
                Some((h, c)) => (gates.add(&h.matmul(&recurrent)?)?, c.clone()),
            };
            let hc = gates.lstm_cell(&c_prev, activation, recurrent_activation)?;
            let h = hc.slice(1, 0, units)?;
            outputs.push(&h)?;
            state = Some((h, hc.slice(1, units, 2 * units)?));
        }
        let Some((last, _)) = state else {
            return Err(self.base.error("needs at least one timestep"));
        };
        outputs.finish(last)
    }

    fn regularization_loss(&self, ctx: &mut ForwardCtx<'_>) -> Result<Option<Tensor>> {
        let terms = [
            (KERNEL, self.base.resolve_regularizer(&self.kernel_regularizer)?),
            (RECURRENT_KERNEL, self.base.resolve_regularizer(&self.recurrent_regularizer)?),
            (BIAS, self.base.resolve_regularizer(&self.bias_regularizer)?),
        ];
        self.base.penalties(ctx, &terms)
    }
}
