//! Keras's activation layers with settings of their own: ReLU (capped, leaky, thresholded),
//! LeakyReLU, Softmax over any axis, and PReLU, whose negative slopes train.

use tensor_core::Tensor;

use super::base::{LayerBase, layer_basics, layer_builders, weight_builders};
use super::config::{Fields, ToValue};
use super::{Config, Spec};
use crate::initializers::Initializer;
use crate::regularizers::Regularizer;
use crate::{ForwardCtx, Layer, Result};

/// Keras's `ReLU`: `max_value` where the input reaches it, the input from `threshold` up,
/// `negative_slope * (x - threshold)` below; the defaults (no cap, slope 0, threshold 0) are
/// the plain relu.
pub struct ReLU {
    base: LayerBase,
    max_value: Option<f64>,
    negative_slope: f64,
    threshold: f64,
}

impl ReLU {
    pub fn new() -> ReLU {
        ReLU { base: LayerBase::new("re_lu"), max_value: None, negative_slope: 0.0, threshold: 0.0 }
    }

    /// Caps the output at `max_value` (at least 0); ReLU6 is `max_value(6.0)`.
    pub fn max_value(mut self, max_value: f64) -> Self {
        self.max_value = Some(max_value);
        self
    }

    /// The slope below the threshold (at least 0).
    pub fn negative_slope(mut self, slope: f64) -> Self {
        self.negative_slope = slope;
        self
    }

    /// Where the linear part starts.
    pub fn threshold(mut self, threshold: f64) -> Self {
        self.threshold = threshold;
        self
    }

    /// Keras's `ReLU.from_config`.
    pub fn from_config(config: &Config) -> Result<ReLU> {
        let mut fields = Fields::layer("ReLU", config);
        let mut layer = ReLU::new();
        fields.update("max_value", &mut layer.max_value)?;
        fields.update("negative_slope", &mut layer.negative_slope)?;
        fields.update("threshold", &mut layer.threshold)?;
        layer.base.read_config(&mut fields)?;
        fields.finish()?;
        Ok(layer)
    }
}

impl Default for ReLU {
    fn default() -> Self {
        ReLU::new()
    }
}

layer_builders!(ReLU);

impl Layer for ReLU {
    layer_basics!("ReLU", "re_lu");

    fn config(&self) -> Result<Config> {
        let mut config = self.base.config();
        config.insert("max_value".into(), self.max_value.to_value());
        config.insert("negative_slope".into(), self.negative_slope.to_value());
        config.insert("threshold".into(), self.threshold.to_value());
        Ok(config)
    }

    fn build(&mut self, inputs: &[Vec<usize>]) -> Result<Vec<usize>> {
        let output = self.base.single(inputs)?.to_vec();
        if let Some(max_value) = self.max_value.filter(|m| m.is_nan() || *m < 0.0) {
            return Err(self.base.error(format!("max_value must be at least 0, got {max_value}")));
        }
        if self.negative_slope.is_nan() || self.negative_slope < 0.0 {
            return Err(self
                .base
                .error(format!("negative_slope must be at least 0, got {}", self.negative_slope)));
        }
        if !self.threshold.is_finite() {
            return Err(self.base.error(format!("threshold must be finite, got {}", self.threshold)));
        }
        self.base.build_weights(inputs, |_| Ok(()))?;
        Ok(output)
    }

    fn forward(&self, inputs: &[Tensor], _ctx: &mut ForwardCtx<'_>) -> Result<Tensor> {
        self.base.check_inputs(inputs)?;
        let x = &inputs[0];
        let y = if self.threshold == 0.0 {
            x.leaky_relu(self.negative_slope)?
        } else {
            // 1 from the threshold up (a constant mask: its own gradient is zero).
            let above = x.detach().step(self.threshold)?;
            let below = above.neg()?.add_scalar(1.0)?;
            let leak = x.add_scalar(-self.threshold)?.mul_scalar(self.negative_slope)?;
            above.mul(x)?.add(&below.mul(&leak)?)?
        };
        Ok(match self.max_value {
            Some(max_value) => y.clip(f64::NEG_INFINITY, max_value)?,
            None => y,
        })
    }
}

/// Keras's `LeakyReLU`: `x` where positive, `negative_slope * x` elsewhere (0.3 by default, as
/// the layer has it in Keras; the `"leaky_relu"` activation string uses 0.2).
pub struct LeakyReLU {
    base: LayerBase,
    negative_slope: f64,
}

impl LeakyReLU {
    /// Keras's default slope for the layer.
    pub const DEFAULT_SLOPE: f64 = 0.3;

    pub fn new() -> LeakyReLU {
        LeakyReLU { base: LayerBase::new("leaky_re_lu"), negative_slope: Self::DEFAULT_SLOPE }
    }

    /// The slope for negative inputs (at least 0), e.g. 0.01.
    pub fn negative_slope(mut self, slope: f64) -> Self {
        self.negative_slope = slope;
        self
    }

    /// Keras's `LeakyReLU.from_config`.
    pub fn from_config(config: &Config) -> Result<LeakyReLU> {
        let mut fields = Fields::layer("LeakyReLU", config);
        let mut layer = LeakyReLU::new();
        fields.update("negative_slope", &mut layer.negative_slope)?;
        layer.base.read_config(&mut fields)?;
        fields.finish()?;
        Ok(layer)
    }
}

impl Default for LeakyReLU {
    fn default() -> Self {
        LeakyReLU::new()
    }
}

layer_builders!(LeakyReLU);

impl Layer for LeakyReLU {
    layer_basics!("LeakyReLU", "leaky_re_lu");

    fn config(&self) -> Result<Config> {
        let mut config = self.base.config();
        config.insert("negative_slope".into(), self.negative_slope.to_value());
        Ok(config)
    }

    fn build(&mut self, inputs: &[Vec<usize>]) -> Result<Vec<usize>> {
        let output = self.base.single(inputs)?.to_vec();
        if self.negative_slope.is_nan() || self.negative_slope < 0.0 {
            return Err(self
                .base
                .error(format!("negative_slope must be at least 0, got {}", self.negative_slope)));
        }
        self.base.build_weights(inputs, |_| Ok(()))?;
        Ok(output)
    }

    fn forward(&self, inputs: &[Tensor], _ctx: &mut ForwardCtx<'_>) -> Result<Tensor> {
        self.base.check_inputs(inputs)?;
        Ok(inputs[0].leaky_relu(self.negative_slope)?)
    }
}

/// Keras's `Softmax` layer: a softmax over `axis` (the last by default), of any input rank.
pub struct Softmax {
    base: LayerBase,
    axis: isize,
}

impl Softmax {
    pub fn new() -> Softmax {
        Softmax { base: LayerBase::new("softmax"), axis: -1 }
    }

    /// The axis normalised over, counting the batch axis as 0 (negative from the end).
    pub fn axis(mut self, axis: isize) -> Self {
        self.axis = axis;
        self
    }

    /// Keras's `Softmax.from_config`.
    pub fn from_config(config: &Config) -> Result<Softmax> {
        let mut fields = Fields::layer("Softmax", config);
        let mut layer = Softmax::new();
        fields.update("axis", &mut layer.axis)?;
        layer.base.read_config(&mut fields)?;
        fields.finish()?;
        Ok(layer)
    }
}

impl Default for Softmax {
    fn default() -> Self {
        Softmax::new()
    }
}

layer_builders!(Softmax);

impl Layer for Softmax {
    layer_basics!("Softmax", "softmax");

    fn config(&self) -> Result<Config> {
        let mut config = self.base.config();
        config.insert("axis".into(), self.axis.to_value());
        Ok(config)
    }

    fn build(&mut self, inputs: &[Vec<usize>]) -> Result<Vec<usize>> {
        let output = self.base.single(inputs)?.to_vec();
        // The batch axis counts: a rank-r sample is a rank r + 1 batch.
        let rank = output.len() as isize + 1;
        if self.axis == 0 || self.axis >= rank || self.axis < -rank {
            return Err(self.base.error(format!(
                "axis {} is not a feature axis of a batch of rank {rank} (shape (N, {}))",
                self.axis,
                output.iter().map(usize::to_string).collect::<Vec<_>>().join(", ")
            )));
        }
        self.base.build_weights(inputs, |_| Ok(()))?;
        Ok(output)
    }

    fn forward(&self, inputs: &[Tensor], ctx: &mut ForwardCtx<'_>) -> Result<Tensor> {
        self.base.check_inputs(inputs)?;
        if self.axis == -1 || self.axis == inputs[0].rank() as isize - 1 {
            // Through the context, so that a cross-entropy can use the logits behind it.
            return ctx.activate(crate::Activation::Softmax, &inputs[0]);
        }
        Ok(inputs[0].softmax(self.axis)?)
    }
}

const ALPHA: usize = 0;

/// Keras's `PReLU`: `x` where positive, `alpha * x` elsewhere, with a trained `alpha` per
/// input element (batch axis excluded), shared along `shared_axes` (numbered with the batch
/// axis as 0: `[1, 2]` gives one slope per channel of images).
pub struct PReLU {
    base: LayerBase,
    alpha_initializer: Spec<Initializer>,
    alpha_regularizer: Option<Spec<Regularizer>>,
    shared_axes: Vec<usize>,
}

impl PReLU {
    /// Slopes starting at 0 (Keras's default), one per input element.
    pub fn new() -> PReLU {
        PReLU {
            base: LayerBase::new("p_re_lu"),
            alpha_initializer: Spec::Value(Initializer::Zeros),
            alpha_regularizer: None,
            shared_axes: Vec::new(),
        }
    }

    pub fn alpha_initializer(mut self, init: impl Into<Spec<Initializer>>) -> Self {
        self.alpha_initializer = init.into();
        self
    }

    pub fn alpha_regularizer(mut self, regularizer: impl Into<Spec<Regularizer>>) -> Self {
        self.alpha_regularizer = Some(regularizer.into());
        self
    }

    /// Axes (batch axis = 0) along which one slope is shared.
    pub fn shared_axes(mut self, axes: &[usize]) -> Self {
        self.shared_axes = axes.to_vec();
        self
    }

    /// Keras's `PReLU.from_config`.
    pub fn from_config(config: &Config) -> Result<PReLU> {
        let mut fields = Fields::layer("PReLU", config);
        let mut layer = PReLU::new();
        fields.update("alpha_initializer", &mut layer.alpha_initializer)?;
        fields.update("alpha_regularizer", &mut layer.alpha_regularizer)?;
        let shared: Option<Vec<usize>> = fields.get("shared_axes")?.flatten();
        layer.shared_axes = shared.unwrap_or_default();
        let constraint: Option<serde_json::Value> = fields.get("alpha_constraint")?;
        if constraint.is_some_and(|c| !c.is_null()) {
            return Err(layer.base.error("alpha_constraint is not supported; expected null"));
        }
        layer.base.read_weighted_config(&mut fields)?;
        fields.finish()?;
        Ok(layer)
    }
}

impl Default for PReLU {
    fn default() -> Self {
        PReLU::new()
    }
}

layer_builders!(PReLU);
weight_builders!(PReLU);

impl Layer for PReLU {
    layer_basics!("PReLU", "p_re_lu");

    fn config(&self) -> Result<Config> {
        let mut config = self.base.weighted_config();
        config.insert("alpha_initializer".into(), self.alpha_initializer.to_value());
        config.insert("alpha_regularizer".into(), self.alpha_regularizer.to_value());
        config.insert("alpha_constraint".into(), serde_json::Value::Null);
        let shared = (!self.shared_axes.is_empty()).then(|| self.shared_axes.clone());
        config.insert("shared_axes".into(), shared.to_value());
        Ok(config)
    }

    fn build(&mut self, inputs: &[Vec<usize>]) -> Result<Vec<usize>> {
        let input = self.base.single(inputs)?.to_vec();
        let mut alpha_shape = input.clone();
        for &axis in &self.shared_axes {
            if axis == 0 || axis > input.len() {
                return Err(self.base.error(format!(
                    "shared axis {axis} is not a feature axis of inputs (N, {}); expected 1 to {}",
                    input.iter().map(usize::to_string).collect::<Vec<_>>().join(", "),
                    input.len()
                )));
            }
            alpha_shape[axis - 1] = 1;
        }
        self.base.resolve_regularizer(&self.alpha_regularizer)?;
        self.base.build_weights(inputs, |base| {
            base.add_weight("alpha", &alpha_shape, &self.alpha_initializer, true)?;
            Ok(())
        })?;
        Ok(input)
    }

    fn forward(&self, inputs: &[Tensor], ctx: &mut ForwardCtx<'_>) -> Result<Tensor> {
        self.base.check_inputs(inputs)?;
        let alpha = ctx.weight(self.base.weight(ALPHA)?);
        let x = &inputs[0];
        // relu(x) - alpha * relu(-x): the slope scales only the negative part, and both the
        // input's and alpha's gradients follow from the ops.
        Ok(x.relu()?.sub(&x.neg()?.relu()?.mul(&alpha)?)?)
    }

    fn regularization_loss(&self, ctx: &mut ForwardCtx<'_>) -> Result<Option<Tensor>> {
        self.base.penalties(ctx, &[(ALPHA, self.base.resolve_regularizer(&self.alpha_regularizer)?)])
    }
}
