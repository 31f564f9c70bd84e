//! DepthwiseConv2D: each channel of channels-last images convolved with kernels of its own.

use tensor_core::{Padding, Tensor};

use super::base::{LayerBase, layer_basics, layer_builders, weight_builders};
use super::config::{Fields, config};
use super::convolutional::window_output;
use super::{Config, Size2, Spec};
use crate::activations::Activation;
use crate::initializers::Initializer;
use crate::regularizers::Regularizer;
use crate::{ForwardCtx, Layer, Result};

const KERNEL: usize = 0;
const BIAS: usize = 1;

/// Keras's `DepthwiseConv2D`: convolves each of the C channels of (height, width, C) images
/// with `depth_multiplier` kernels of `kernel_size` of its own (no sum across channels), adds a
/// bias per output channel and applies the activation. The kernel has Keras's shape
/// (KH, KW, C, depth_multiplier) and the output's C * depth_multiplier channels are Keras's
/// order: channel `c * depth_multiplier + m` is input channel c under its kernel m.
pub struct DepthwiseConv2D {
    base: LayerBase,
    kernel_size: Size2,
    strides: Size2,
    padding: Spec<Padding>,
    depth_multiplier: usize,
    activation: Spec<Activation>,
    use_bias: bool,
    depthwise_initializer: Spec<Initializer>,
    bias_initializer: Spec<Initializer>,
    depthwise_regularizer: Option<Spec<Regularizer>>,
    bias_regularizer: Option<Spec<Regularizer>>,
}

impl DepthwiseConv2D {
    /// Kernels of `kernel_size` ((3, 3), or 3): strides 1, `valid` padding, one kernel per
    /// channel, no activation, a bias, glorot_uniform kernels (Keras's defaults).
    pub fn new(kernel_size: impl Into<Size2>) -> DepthwiseConv2D {
        DepthwiseConv2D {
            base: LayerBase::new("depthwise_conv2d"),
            kernel_size: kernel_size.into(),
            strides: Size2(1, 1),
            padding: Spec::Value(Padding::Valid),
            depth_multiplier: 1,
            activation: Spec::Value(Activation::Linear),
            use_bias: true,
            depthwise_initializer: Spec::Value(Initializer::GlorotUniform),
            bias_initializer: Spec::Value(Initializer::Zeros),
            depthwise_regularizer: None,
            bias_regularizer: None,
        }
    }

    /// The step between windows ((1, 1) by default; a number means both).
    pub fn strides(mut self, strides: impl Into<Size2>) -> Self {
        self.strides = strides.into();
        self
    }

    /// `Padding::Valid` (default) or `Padding::Same`, or by name ("same").
    pub fn padding(mut self, padding: impl Into<Spec<Padding>>) -> Self {
        self.padding = padding.into();
        self
    }

    /// How many kernels each input channel has, so output channels per input channel (1 by
    /// default).
    pub fn depth_multiplier(mut self, depth_multiplier: usize) -> Self {
        self.depth_multiplier = depth_multiplier;
        self
    }

    /// The activation, by value or Keras name ("relu").
    pub fn activation(mut self, activation: impl Into<Spec<Activation>>) -> Self {
        self.activation = activation.into();
        self
    }

    /// Whether to add a bias (true by default).
    pub fn use_bias(mut self, use_bias: bool) -> Self {
        self.use_bias = use_bias;
        self
    }

    /// How the depthwise kernel starts (glorot_uniform by default), by value or Keras name.
    pub fn depthwise_initializer(mut self, init: impl Into<Spec<Initializer>>) -> Self {
        self.depthwise_initializer = init.into();
        self
    }

    /// How the bias starts (zeros by default), by value or Keras name.
    pub fn bias_initializer(mut self, init: impl Into<Spec<Initializer>>) -> Self {
        self.bias_initializer = init.into();
        self
    }

    /// A penalty on the depthwise kernel added to the loss, by value or Keras name ("l2").
    pub fn depthwise_regularizer(mut self, regularizer: impl Into<Spec<Regularizer>>) -> Self {
        self.depthwise_regularizer = Some(regularizer.into());
        self
    }

    /// A penalty on the bias added to the loss, by value or Keras name ("l2").
    pub fn bias_regularizer(mut self, regularizer: impl Into<Spec<Regularizer>>) -> Self {
        self.bias_regularizer = Some(regularizer.into());
        self
    }

    /// Keras's `DepthwiseConv2D.from_config`: the layer a [`Layer::config`] describes, unbuilt.
    /// `kernel_size` is required; other settings missing from the config take their defaults.
    pub fn from_config(config: &Config) -> Result<DepthwiseConv2D> {
        let mut fields = Fields::layer("DepthwiseConv2D", config);
        let mut layer = DepthwiseConv2D::new(fields.required::<Size2>("kernel_size")?);
        fields.update("strides", &mut layer.strides)?;
        fields.update("padding", &mut layer.padding)?;
        fields.update("depth_multiplier", &mut layer.depth_multiplier)?;
        fields.update("activation", &mut layer.activation)?;
        fields.update("use_bias", &mut layer.use_bias)?;
        fields.update("depthwise_initializer", &mut layer.depthwise_initializer)?;
        fields.update("bias_initializer", &mut layer.bias_initializer)?;
        fields.update("depthwise_regularizer", &mut layer.depthwise_regularizer)?;
        fields.update("bias_regularizer", &mut layer.bias_regularizer)?;
        layer.base.read_weighted_config(&mut fields)?;
        fields.finish()?;
        Ok(layer)
    }
}

layer_builders!(DepthwiseConv2D);
weight_builders!(DepthwiseConv2D);

impl Layer for DepthwiseConv2D {
    layer_basics!("DepthwiseConv2D", "depthwise_conv2d");

    fn config(&self) -> Result<Config> {
        let mut config = self.base.weighted_config();
        config.extend(config!(
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "depth_multiplier": self.depth_multiplier,
            "activation": self.activation,
            "use_bias": self.use_bias,
            "depthwise_initializer": self.depthwise_initializer,
            "bias_initializer": self.bias_initializer,
            "depthwise_regularizer": self.depthwise_regularizer,
            "bias_regularizer": self.bias_regularizer,
        ));
        Ok(config)
    }

    fn build(&mut self, inputs: &[Vec<usize>]) -> Result<Vec<usize>> {
        let input = self.base.single(inputs)?;
        if self.depth_multiplier == 0 {
            return Err(self.base.error("depth_multiplier must be at least 1, got 0"));
        }
        let padding = self.base.resolve(&self.padding)?;
        let (out_h, out_w) = window_output(&self.base, input, self.kernel_size, self.strides, padding)?;
        let channels = input[2];
        let outputs = channels.checked_mul(self.depth_multiplier).ok_or_else(|| {
            self.base.error(format!(
                "{channels} channels times depth_multiplier {} overflows",
                self.depth_multiplier
            ))
        })?;
        self.base.resolve(&self.activation)?;
        self.base.resolve_regularizer(&self.depthwise_regularizer)?;
        self.base.resolve_regularizer(&self.bias_regularizer)?;
        let Size2(kh, kw) = self.kernel_size;
        let multiplier = self.depth_multiplier;
        self.base.build_weights(inputs, |base| {
            base.add_weight("kernel", &[kh, kw, channels, multiplier], &self.depthwise_initializer, true)?;
            if self.use_bias {
                base.add_weight("bias", &[outputs], &self.bias_initializer, true)?;
            }
            Ok(())
        })?;
        Ok(vec![out_h, out_w, outputs])
    }

    /// One depthwise convolution op (its backward rules give the layer's gradients on either
    /// device), then the bias and the activation.
    fn forward(&self, inputs: &[Tensor], ctx: &mut ForwardCtx<'_>) -> Result<Tensor> {
        self.base.check_inputs(inputs)?;
        let x = &inputs[0];
        if x.dims().len() != 4 {
            return Err(self.base.shape_error("a batch of images (N, H, W, C)", x.dims()));
        }
        let padding = self.base.resolve(&self.padding)?;
        let kernel = ctx.weight(self.base.weight(KERNEL)?);
        let mut y = x
            .depthwise_conv2d(&kernel, self.strides.pair(), padding)
            .map_err(|e| self.base.error(format!("input shape {:?}: {e}", x.dims())))?;
        if self.use_bias {
            y = y.add(&ctx.weight(self.base.weight(BIAS)?))?;
        }
        let activation = self.base.resolve(&self.activation)?;
        ctx.activate(activation, &y)
    }

    fn regularization_loss(&self, ctx: &mut ForwardCtx<'_>) -> Result<Option<Tensor>> {
        let terms = [
            (KERNEL, self.base.resolve_regularizer(&self.depthwise_regularizer)?),
            (BIAS, self.base.resolve_regularizer(&self.bias_regularizer)?),
        ];
        self.base.penalties(ctx, &terms)
    }
}
