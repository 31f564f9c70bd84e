//! GRU: the gated recurrent unit layer over (timesteps, features) sequences.

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

/// Keras's `GRU` over inputs of shape (timesteps, features), from a zero state. Each step
/// computes the input's projection `x_t · kernel + input_bias` and the state's
/// `h · recurrent_kernel + recurrent_bias`, packed in Keras's order update, reset, candidate
/// (kernel (features, 3 * units), recurrent kernel (units, 3 * units), bias (2, 3 * units): the
/// input's row, then the state's), and then, in one fused op,
/// `h = z * h + (1 - z) * activation(x_h + r * inner_h)` (gates through
/// `recurrent_activation`). With `reset_after(false)` (the original GRU, Keras's
/// `reset_after=False`) the reset gate applies to the state before its candidate projection,
/// `activation(x_h + (r * h) · recurrent_kernel_h)`, and the bias is one row (3 * units,); that
/// order needs the reset gate before the last product, so it takes a few elementwise ops per
/// step besides the fused one. Gives the last state (units,), or every state
/// (timesteps, units) with `return_sequences(true)`.
pub struct GRU {
    base: LayerBase,
    units: usize,
    activation: Spec<Activation>,
    recurrent_activation: Spec<Activation>,
    use_bias: bool,
    reset_after: bool,
    return_sequences: bool,
    go_backwards: bool,
    kernel_initializer: Spec<Initializer>,
    recurrent_initializer: Spec<Initializer>,
    bias_initializer: Spec<Initializer>,
    kernel_regularizer: Option<Spec<Regularizer>>,
    recurrent_regularizer: Option<Spec<Regularizer>>,
    bias_regularizer: Option<Spec<Regularizer>>,
}

impl GRU {
    /// Keras's defaults: tanh, sigmoid gates, a bias, the reset gate applied after the state's
    /// projection, the last state only, glorot_uniform kernel, orthogonal recurrent kernel,
    /// zero bias.
    pub fn new(units: usize) -> GRU {
        GRU {
            base: LayerBase::new("gru"),
            units,
            activation: Spec::Value(Activation::Tanh),
            recurrent_activation: Spec::Value(Activation::Sigmoid),
            use_bias: true,
            reset_after: true,
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

    /// Whether the reset gate scales the state's projection (true, Keras's default, with a
    /// bias row for the input and one for the state) or the state before its projection
    /// (false, the original GRU, one bias row).
    pub fn reset_after(mut self, reset_after: bool) -> Self {
        self.reset_after = reset_after;
        self
    }

    /// Keras's `GRU.from_config`: the layer a [`Layer::config`] describes, unbuilt. `units` is
    /// required; other settings missing from the config take their defaults.
    pub fn from_config(config: &Config) -> Result<GRU> {
        let mut fields = Fields::layer("GRU", config);
        let mut layer = GRU::new(fields.required("units")?);
        fields.update("reset_after", &mut layer.reset_after)?;
        layer.read_gated_config(&mut fields)?;
        layer.read_kernel_config(&mut fields)?;
        layer.base.read_weighted_config(&mut fields)?;
        fields.finish()?;
        Ok(layer)
    }
}

layer_builders!(GRU);
kernel_builders!(GRU);
weight_builders!(GRU);
kernel_config!(GRU);
recurrent_settings!(GRU, gated);

impl Layer for GRU {
    layer_basics!("GRU", "gru");

    fn config(&self) -> Result<Config> {
        let mut config = self.base.weighted_config();
        config.extend(self.kernel_config());
        config.extend(self.gated_config());
        config.extend(config!(
            "units": self.units,
            "reset_after": self.reset_after,
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
        let width = gate_width(&self.base, units, 3)?;
        self.base.build_weights(inputs, |base| {
            base.add_weight("kernel", &[features, width], &self.kernel_initializer, true)?;
            base.add_weight("recurrent_kernel", &[units, width], &self.recurrent_initializer, true)?;
            if self.use_bias {
                let bias: &[usize] = if self.reset_after { &[2, width] } else { &[width] };
                base.add_weight("bias", bias, &self.bias_initializer, true)?;
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
        // With reset_after the bias has a row for the input and one for the state.
        let (input_bias, recurrent_bias) = match &bias {
            Some(bias) if self.reset_after => {
                let row = |k: usize| -> Result<Tensor> { Ok(bias.slice(0, k, k + 1)?.reshape([3 * units])?) };
                (Some(row(0)?), Some(row(1)?))
            }
            other => (other.clone(), None),
        };
        let projected = project(x, &ctx.weight(self.base.weight(KERNEL)?), input_bias.as_ref())?;
        let mut outputs = Outputs::new(self.return_sequences);
        let mut state = Tensor::zeros([batch, units], x.dtype(), x.device())?;
        let reset_before = if self.reset_after {
            None
        } else {
            let gates = self.base.resolve(&self.recurrent_activation)?;
            Some((gates, recurrent.slice(1, 0, 2 * units)?, recurrent.slice(1, 2 * units, 3 * units)?))
        };
        for t in walk(timesteps, self.go_backwards) {
            let input = step_input(&projected, t)?;
            let inner = match &reset_before {
                None => project(&state, &recurrent, recurrent_bias.as_ref())?,
                // The reset gate, r = recurrent_activation(x_r + h · U_r), scales the state
                // before the candidate's product; the cell takes that product as its inner_h.
                Some((gates, update_reset, candidate)) => {
                    let inner_zr = state.matmul(update_reset)?;
                    let reset_input = input.slice(1, units, 2 * units)?;
                    let reset = gates.apply(&reset_input.add(&inner_zr.slice(1, units, 2 * units)?)?)?;
                    let inner_h = reset.mul(&state)?.matmul(candidate)?;
                    Tensor::concat(&[&inner_zr, &inner_h], 1)?
                }
            };
            state = input.gru_cell(&inner, &state, activation, recurrent_activation, self.reset_after)?;
            outputs.push(&state)?;
        }
        outputs.finish(state)
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
