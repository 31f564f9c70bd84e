//! SimpleRNN, a fully connected recurrent layer over (timesteps, features) sequences, and what
//! every recurrent layer (SimpleRNN, LSTM, GRU) shares: its input's checks, the walk over the
//! timesteps, and the gathering of its output.

use tensor_core::Tensor;

use super::base::{LayerBase, kernel_builders, layer_basics, layer_builders, weight_builders};
use super::config::{Fields, config, kernel_config};
use super::{Config, Spec};
use crate::activations::Activation;
use crate::initializers::Initializer;
use crate::regularizers::Regularizer;
use crate::{ForwardCtx, Layer, Result};

/// The settings every recurrent layer has beside its kernel's (whether it returns every state,
/// how its recurrent kernel starts and is penalised) and, with `gated`, those of LSTM and GRU
/// (the gates' activation, the direction of the walk): their builder methods, their config and
/// its reading, written once.
macro_rules! recurrent_settings {
    ($layer:ty) => {
        impl $layer {
            /// Whether to output the state after every timestep rather than only the last.
            pub fn return_sequences(mut self, return_sequences: bool) -> Self {
                self.return_sequences = return_sequences;
                self
            }

            /// How the recurrent kernel starts (orthogonal by default).
            pub fn recurrent_initializer(
                mut self,
                init: impl Into<$crate::layers::Spec<$crate::initializers::Initializer>>,
            ) -> Self {
                self.recurrent_initializer = init.into();
                self
            }

            /// A penalty on the recurrent kernel added to the loss.
            pub fn recurrent_regularizer(
                mut self,
                regularizer: impl Into<$crate::layers::Spec<$crate::regularizers::Regularizer>>,
            ) -> Self {
                self.recurrent_regularizer = Some(regularizer.into());
                self
            }

            fn recurrent_config(&self) -> $crate::layers::Config {
                $crate::layers::config::config!(
                    "return_sequences": self.return_sequences,
                    "recurrent_initializer": self.recurrent_initializer,
                    "recurrent_regularizer": self.recurrent_regularizer,
                )
            }

            fn read_recurrent_config(&mut self, fields: &mut $crate::layers::Fields<'_>) -> $crate::Result<()> {
                fields.update("return_sequences", &mut self.return_sequences)?;
                fields.update("recurrent_initializer", &mut self.recurrent_initializer)?;
                fields.update("recurrent_regularizer", &mut self.recurrent_regularizer)
            }
        }
    };
    ($layer:ty, gated) => {
        recurrent_settings!($layer);

        impl $layer {
            /// The gates' activation (sigmoid by default), by value or Keras name.
            pub fn recurrent_activation(
                mut self,
                activation: impl Into<$crate::layers::Spec<$crate::activations::Activation>>,
            ) -> Self {
                self.recurrent_activation = activation.into();
                self
            }

            /// Whether to walk the sequence from its last timestep to its first (the outputs
            /// then come in that order too, as in Keras).
            pub fn go_backwards(mut self, go_backwards: bool) -> Self {
                self.go_backwards = go_backwards;
                self
            }

            fn gated_config(&self) -> $crate::layers::Config {
                let mut config = self.recurrent_config();
                config.extend($crate::layers::config::config!(
                    "recurrent_activation": self.recurrent_activation,
                    "go_backwards": self.go_backwards,
                ));
                config
            }

            fn read_gated_config(&mut self, fields: &mut $crate::layers::Fields<'_>) -> $crate::Result<()> {
                self.read_recurrent_config(fields)?;
                fields.update("recurrent_activation", &mut self.recurrent_activation)?;
                fields.update("go_backwards", &mut self.go_backwards)
            }
        }
    };
}
pub(crate) use recurrent_settings;

const KERNEL: usize = 0;
const RECURRENT_KERNEL: usize = 1;
const BIAS: usize = 2;

/// `h_t = activation(x_t · kernel + h_{t-1} · recurrent_kernel + bias)` from `h_0 = 0`, over
/// inputs of shape (timesteps, features), as Keras's `SimpleRNN`. Gives the last state
/// (units,), or every state (timesteps, units) with `return_sequences(true)`.
pub struct SimpleRNN {
    base: LayerBase,
    units: usize,
    activation: Spec<Activation>,
    use_bias: bool,
    return_sequences: bool,
    kernel_initializer: Spec<Initializer>,
    recurrent_initializer: Spec<Initializer>,
    bias_initializer: Spec<Initializer>,
    kernel_regularizer: Option<Spec<Regularizer>>,
    recurrent_regularizer: Option<Spec<Regularizer>>,
    bias_regularizer: Option<Spec<Regularizer>>,
}

impl SimpleRNN {
    /// Keras's defaults: tanh, a bias, the last state only, glorot_uniform kernel, orthogonal
    /// recurrent kernel, zero bias.
    pub fn new(units: usize) -> SimpleRNN {
        SimpleRNN {
            base: LayerBase::new("simple_rnn"),
            units,
            activation: Spec::Value(Activation::Tanh),
            use_bias: true,
            return_sequences: false,
            kernel_initializer: Spec::Value(Initializer::GlorotUniform),
            recurrent_initializer: Spec::Value(Initializer::orthogonal()),
            bias_initializer: Spec::Value(Initializer::Zeros),
            kernel_regularizer: None,
            recurrent_regularizer: None,
            bias_regularizer: None,
        }
    }

    /// Keras's `SimpleRNN.from_config`: the layer a [`Layer::config`] describes, unbuilt.
    /// `units` is required; other settings missing from the config take their defaults.
    pub fn from_config(config: &Config) -> Result<SimpleRNN> {
        let mut fields = Fields::layer("SimpleRNN", config);
        let mut layer = SimpleRNN::new(fields.required("units")?);
        layer.read_recurrent_config(&mut fields)?;
        layer.read_kernel_config(&mut fields)?;
        layer.base.read_weighted_config(&mut fields)?;
        fields.finish()?;
        Ok(layer)
    }
}

layer_builders!(SimpleRNN);
kernel_builders!(SimpleRNN);
weight_builders!(SimpleRNN);
kernel_config!(SimpleRNN);
recurrent_settings!(SimpleRNN);

impl Layer for SimpleRNN {
    layer_basics!("SimpleRNN", "simple_rnn");

    fn config(&self) -> Result<Config> {
        let mut config = self.base.weighted_config();
        config.extend(self.kernel_config());
        config.extend(self.recurrent_config());
        config.extend(config!("units": self.units));
        Ok(config)
    }

    fn build(&mut self, inputs: &[Vec<usize>]) -> Result<Vec<usize>> {
        let (timesteps, features) = sequence_dims(&self.base, inputs, self.units)?;
        self.base.resolve(&self.activation)?;
        for regularizer in [&self.kernel_regularizer, &self.recurrent_regularizer, &self.bias_regularizer] {
            self.base.resolve_regularizer(regularizer)?;
        }
        let units = self.units;
        self.base.build_weights(inputs, |base| {
            base.add_weight("kernel", &[features, units], &self.kernel_initializer, true)?;
            base.add_weight("recurrent_kernel", &[units, units], &self.recurrent_initializer, true)?;
            if self.use_bias {
                base.add_weight("bias", &[units], &self.bias_initializer, true)?;
            }
            Ok(())
        })?;
        Ok(output_shape(timesteps, units, self.return_sequences))
    }

    fn forward(&self, inputs: &[Tensor], ctx: &mut ForwardCtx<'_>) -> Result<Tensor> {
        self.base.check_inputs(inputs)?;
        let x = &inputs[0];
        let timesteps = x.dims()[1];
        let activation = self.base.resolve(&self.activation)?;
        let recurrent = ctx.weight(self.base.weight(RECURRENT_KERNEL)?);
        let bias = if self.use_bias { Some(ctx.weight(self.base.weight(BIAS)?)) } else { None };
        let projected = project(x, &ctx.weight(self.base.weight(KERNEL)?), bias.as_ref())?;
        // h_0 = 0, so the first step has no recurrent term.
        let mut state = activation.apply(&step_input(&projected, 0)?)?;
        let mut outputs = Outputs::new(self.return_sequences);
        outputs.push(&state)?;
        for t in 1..timesteps {
            state = activation.apply(&step_input(&projected, t)?.add(&state.matmul(&recurrent)?)?)?;
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

/// The (timesteps, features) of a recurrent layer's one input, or an error naming the layer
/// when it is not a sequence or when the layer has no timestep or no unit.
pub(super) fn sequence_dims(base: &LayerBase, inputs: &[Vec<usize>], units: usize) -> Result<(usize, usize)> {
    let input = base.single(inputs)?;
    let &[timesteps, features] = input else {
        return Err(base.shape_error("sequences of shape (timesteps, features)", input));
    };
    if timesteps == 0 || units == 0 {
        return Err(base.error(format!(
            "needs at least one timestep and one unit, got {timesteps} timesteps and {units} units"
        )));
    }
    Ok((timesteps, features))
}

/// The width of `gates` gates of `units` units side by side (an LSTM's kernel has 4 * units
/// columns), or an error naming the layer when it overflows.
pub(super) fn gate_width(base: &LayerBase, units: usize, gates: usize) -> Result<usize> {
    units.checked_mul(gates).ok_or_else(|| base.error(format!("{gates} gates of {units} units overflow")))
}

/// A recurrent layer's output shape: every state (timesteps, units), or the last (units,).
pub(super) fn output_shape(timesteps: usize, units: usize, return_sequences: bool) -> Vec<usize> {
    if return_sequences { vec![timesteps, units] } else { vec![units] }
}

/// The input projections `x · kernel + bias` of every timestep in one product: (N, T, width).
pub(super) fn project(x: &Tensor, kernel: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    let projected = x.matmul(kernel)?;
    Ok(match bias {
        Some(bias) => projected.add(bias)?,
        None => projected,
    })
}

/// The timesteps in the order a layer walks them: last to first with `go_backwards`.
pub(super) fn walk(timesteps: usize, go_backwards: bool) -> Vec<usize> {
    if go_backwards { (0..timesteps).rev().collect() } else { (0..timesteps).collect() }
}

/// The activation a fused cell applies, or an error naming the layer and the setting when the
/// cell cannot apply it (softmax is not elementwise, a step has no gradient).
pub(super) fn cell_activation(
    base: &LayerBase,
    setting: &str,
    spec: &Spec<Activation>,
) -> Result<tensor_core::Activation> {
    let activation = base.resolve(spec)?;
    activation.fusable().ok_or_else(|| {
        base.error(format!(
            "{setting} {activation:?} cannot run in the recurrent cell; expected linear, relu, leaky_relu (slope \
             >= 0), sigmoid or tanh"
        ))
    })
}

/// Timestep `t` of the (N, T, width) projections of a batch of sequences, as (N, width).
pub(super) fn step_input(projected: &Tensor, t: usize) -> Result<Tensor> {
    let (batch, width) = (projected.dims()[0], projected.dims()[2]);
    Ok(projected.slice(1, t, t + 1)?.reshape([batch, width])?)
}

/// A recurrent layer's output, gathered one state at a time: every state in the order the
/// layer computed them with `return_sequences`, else only the last.
pub(super) struct Outputs {
    states: Option<Vec<Tensor>>,
}

impl Outputs {
    pub(super) fn new(return_sequences: bool) -> Outputs {
        Outputs { states: return_sequences.then(Vec::new) }
    }

    /// Keeps the (N, units) `state` if every state is wanted.
    pub(super) fn push(&mut self, state: &Tensor) -> Result<()> {
        if let Some(states) = &mut self.states {
            let dims = state.dims();
            states.push(state.reshape([dims[0], 1, dims[1]])?);
        }
        Ok(())
    }

    /// The (N, T, units) sequence of states, or the `last` one.
    pub(super) fn finish(self, last: Tensor) -> Result<Tensor> {
        match self.states {
            None => Ok(last),
            Some(states) => {
                let states: Vec<&Tensor> = states.iter().collect();
                Ok(Tensor::concat(&states, 1)?)
            }
        }
    }
}
