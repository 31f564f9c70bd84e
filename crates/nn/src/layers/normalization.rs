//! BatchNormalization, with Keras 3's defaults and moving statistics.

use tensor_core::Tensor;

use super::base::{LayerBase, layer_basics, layer_builders, weight_builders};
use super::config::{Fields, config};
use super::{Config, Spec};
use crate::initializers::Initializer;
use crate::{ForwardCtx, Layer, Result};

const GAMMA: usize = 0;
const BETA: usize = 1;
const MOVING_MEAN: usize = 2;
const MOVING_VARIANCE: usize = 3;

/// Normalizes each channel (the `axis`, the last by default): in training with the batch's mean
/// and biased variance, updating `moving = moving * momentum + batch * (1 - momentum)`; at
/// inference, and whenever the layer is frozen (as Keras 3), with the moving statistics. Then
/// scales by `gamma` and shifts by `beta` (trainable); the moving statistics never train.
pub struct BatchNormalization {
    base: LayerBase,
    axis: isize,
    momentum: f64,
    epsilon: f64,
    gamma_initializer: Spec<Initializer>,
    beta_initializer: Spec<Initializer>,
    moving_mean_initializer: Spec<Initializer>,
    moving_variance_initializer: Spec<Initializer>,
}

impl BatchNormalization {
    /// Keras's defaults: axis -1, momentum 0.99, epsilon 1e-3, gamma ones, beta zeros.
    pub fn new() -> BatchNormalization {
        BatchNormalization {
            base: LayerBase::new("batch_normalization"),
            axis: -1,
            momentum: 0.99,
            epsilon: 1e-3,
            gamma_initializer: Spec::Value(Initializer::Ones),
            beta_initializer: Spec::Value(Initializer::Zeros),
            moving_mean_initializer: Spec::Value(Initializer::Zeros),
            moving_variance_initializer: Spec::Value(Initializer::Ones),
        }
    }

    /// The channel axis, counted on the batch including its batch axis (-1: the last).
    pub fn axis(mut self, axis: isize) -> Self {
        self.axis = axis;
        self
    }

    /// How much of the moving statistics each training step keeps (0.99 by default).
    pub fn momentum(mut self, momentum: f64) -> Self {
        self.momentum = momentum;
        self
    }

    /// Added to the variance before its square root (1e-3 by default).
    pub fn epsilon(mut self, epsilon: f64) -> Self {
        self.epsilon = epsilon;
        self
    }

    /// How the scale starts (ones by default).
    pub fn gamma_initializer(mut self, init: impl Into<Spec<Initializer>>) -> Self {
        self.gamma_initializer = init.into();
        self
    }

    /// How the shift starts (zeros by default).
    pub fn beta_initializer(mut self, init: impl Into<Spec<Initializer>>) -> Self {
        self.beta_initializer = init.into();
        self
    }

    /// How the moving mean starts (zeros by default).
    pub fn moving_mean_initializer(mut self, init: impl Into<Spec<Initializer>>) -> Self {
        self.moving_mean_initializer = init.into();
        self
    }

    /// How the moving variance starts (ones by default).
    pub fn moving_variance_initializer(mut self, init: impl Into<Spec<Initializer>>) -> Self {
        self.moving_variance_initializer = init.into();
        self
    }

    /// Keras's `BatchNormalization.from_config`: the layer a [`Layer::config`] describes,
    /// unbuilt; settings missing from the config take their defaults.
    pub fn from_config(config: &Config) -> Result<BatchNormalization> {
        let mut fields = Fields::layer("BatchNormalization", config);
        let mut layer = BatchNormalization::new();
        fields.update("axis", &mut layer.axis)?;
        fields.update("momentum", &mut layer.momentum)?;
        fields.update("epsilon", &mut layer.epsilon)?;
        fields.update("gamma_initializer", &mut layer.gamma_initializer)?;
        fields.update("beta_initializer", &mut layer.beta_initializer)?;
        fields.update("moving_mean_initializer", &mut layer.moving_mean_initializer)?;
        fields.update("moving_variance_initializer", &mut layer.moving_variance_initializer)?;
        layer.base.read_weighted_config(&mut fields)?;
        fields.finish()?;
        Ok(layer)
    }

    /// The channel axis of a batch of samples of shape `input`, counted with the batch axis.
    fn channel_axis(&self, input: &[usize]) -> Result<usize> {
        let rank = input.len() as isize + 1;
        let axis = if self.axis < 0 { self.axis + rank } else { self.axis };
        if axis < 1 || axis >= rank {
            return Err(self.base.shape_error(
                &format!("an input with a channel axis {} (the batch axis 0 cannot be one)", self.axis),
                input,
            ));
        }
        Ok(axis as usize)
    }
}

impl Default for BatchNormalization {
    fn default() -> Self {
        Self::new()
    }
}

layer_builders!(BatchNormalization);
weight_builders!(BatchNormalization);

impl Layer for BatchNormalization {
    layer_basics!("BatchNormalization", "batch_normalization");

    fn config(&self) -> Result<Config> {
        let mut config = self.base.weighted_config();
        config.extend(config!(
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "gamma_initializer": self.gamma_initializer,
            "beta_initializer": self.beta_initializer,
            "moving_mean_initializer": self.moving_mean_initializer,
            "moving_variance_initializer": self.moving_variance_initializer,
        ));
        Ok(config)
    }

    fn build(&mut self, inputs: &[Vec<usize>]) -> Result<Vec<usize>> {
        let input = self.base.single(inputs)?;
        let channels = input[self.channel_axis(input)? - 1];
        if !((0.0..=1.0).contains(&self.momentum) && self.epsilon.is_finite() && self.epsilon >= 0.0) {
            return Err(self.base.error(format!(
                "momentum must be in [0, 1] and epsilon finite and >= 0, got momentum {} and epsilon {}",
                self.momentum, self.epsilon
            )));
        }
        let output = input.to_vec();
        self.base.build_weights(inputs, |base| {
            base.add_weight("gamma", &[channels], &self.gamma_initializer, true)?;
            base.add_weight("beta", &[channels], &self.beta_initializer, true)?;
            base.add_weight("moving_mean", &[channels], &self.moving_mean_initializer, false)?;
            base.add_weight("moving_variance", &[channels], &self.moving_variance_initializer, false)
        })?;
        Ok(output)
    }

    fn forward(&self, inputs: &[Tensor], ctx: &mut ForwardCtx<'_>) -> Result<Tensor> {
        self.base.check_inputs(inputs)?;
        let x = &inputs[0];
        let axis = self.channel_axis(&x.dims()[1..])? as isize;
        let gamma = ctx.weight(self.base.weight(GAMMA)?);
        let beta = ctx.weight(self.base.weight(BETA)?);
        let (moving_mean, moving_variance) =
            (self.base.weight(MOVING_MEAN)?, self.base.weight(MOVING_VARIANCE)?);
        if !(ctx.is_training() && self.base.trainable) {
            let (mean, variance) = (ctx.weight(moving_mean), ctx.weight(moving_variance));
            return Ok(x.batch_norm_infer(&gamma, &beta, &mean, &variance, axis, self.epsilon)?);
        }
        let (y, mean, variance) = x.batch_norm_train(&gamma, &beta, axis, self.epsilon)?;
        // The new moving statistics go to the context: a training step commits them, a look at
        // the gradients does not.
        for (moving, batch) in [(moving_mean, mean), (moving_variance, variance)] {
            let updated =
                moving.value().mul_scalar(self.momentum)?.add(&batch.mul_scalar(1.0 - self.momentum)?)?;
            ctx.update_state(moving, updated);
        }
        Ok(y)
    }
}
