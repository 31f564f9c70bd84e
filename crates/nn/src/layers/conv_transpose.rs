//! Conv2DTranspose: the transposed 2-D convolution of channels-last images, which grows them.

use tensor_core::{Conv2dGeometry, Padding, Tensor};

use super::base::{LayerBase, kernel_builders, layer_basics, layer_builders, weight_builders};
use super::config::{Fields, config, kernel_config};
use super::{Config, Size2, Spec};
use crate::activations::Activation;
use crate::initializers::Initializer;
use crate::regularizers::Regularizer;
use crate::{ForwardCtx, Layer, Result};

const KERNEL: usize = 0;
const BIAS: usize = 1;

/// Keras's `Conv2DTranspose`: spreads each pixel of (height, width, channels) images over a
/// `kernel_size` window of `filters` channels, windows `strides` apart, summing where they
/// overlap, then adds a bias per filter and applies the activation. The output is
/// (height * stride, width * stride) with `same` padding, and
/// `height * stride + max(kernel - stride, 0)` (likewise for width) with `valid`, as in Keras.
/// The kernel has Keras's shape (KH, KW, filters, channels): it is the kernel of the Conv2D
/// that maps the output back to the input shape, and this layer is that convolution's
/// input gradient.
pub struct Conv2DTranspose {
    base: LayerBase,
    filters: usize,
    kernel_size: Size2,
    strides: Size2,
    padding: Spec<Padding>,
    activation: Spec<Activation>,
    use_bias: bool,
    kernel_initializer: Spec<Initializer>,
    bias_initializer: Spec<Initializer>,
    kernel_regularizer: Option<Spec<Regularizer>>,
    bias_regularizer: Option<Spec<Regularizer>>,
}

impl Conv2DTranspose {
    /// `filters` kernels of `kernel_size` ((3, 3), or 3): strides 1, `valid` padding, no
    /// activation, a bias, glorot_uniform kernels.
    pub fn new(filters: usize, kernel_size: impl Into<Size2>) -> Conv2DTranspose {
        Conv2DTranspose {
            base: LayerBase::new("conv2d_transpose"),
            filters,
            kernel_size: kernel_size.into(),
            strides: Size2(1, 1),
            padding: Spec::Value(Padding::Valid),
            activation: Spec::Value(Activation::Linear),
            use_bias: true,
            kernel_initializer: Spec::Value(Initializer::GlorotUniform),
            bias_initializer: Spec::Value(Initializer::Zeros),
            kernel_regularizer: None,
            bias_regularizer: None,
        }
    }

    /// The step between windows in the output ((1, 1) by default; a number means both).
    pub fn strides(mut self, strides: impl Into<Size2>) -> Self {
        self.strides = strides.into();
        self
    }

    /// `Padding::Valid` (default) or `Padding::Same`, or by name ("same").
    pub fn padding(mut self, padding: impl Into<Spec<Padding>>) -> Self {
        self.padding = padding.into();
        self
    }

    /// Keras's `Conv2DTranspose.from_config`: the layer a [`Layer::config`] describes, unbuilt.
    /// `filters` and `kernel_size` are required; other settings missing from the config take
    /// their defaults.
    pub fn from_config(config: &Config) -> Result<Conv2DTranspose> {
        let mut fields = Fields::layer("Conv2DTranspose", config);
        let filters = fields.required("filters")?;
        let mut layer = Conv2DTranspose::new(filters, fields.required::<Size2>("kernel_size")?);
        fields.update("strides", &mut layer.strides)?;
        fields.update("padding", &mut layer.padding)?;
        layer.read_kernel_config(&mut fields)?;
        layer.base.read_weighted_config(&mut fields)?;
        fields.finish()?;
        Ok(layer)
    }
}

layer_builders!(Conv2DTranspose);
kernel_builders!(Conv2DTranspose);
weight_builders!(Conv2DTranspose);
kernel_config!(Conv2DTranspose);

impl Layer for Conv2DTranspose {
    layer_basics!("Conv2DTranspose", "conv2d_transpose");

    fn config(&self) -> Result<Config> {
        let mut config = self.base.weighted_config();
        config.extend(self.kernel_config());
        config.extend(config!(
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
        ));
        Ok(config)
    }

    fn build(&mut self, inputs: &[Vec<usize>]) -> Result<Vec<usize>> {
        let input = self.base.single(inputs)?;
        let &[h, w, channels] = input else {
            return Err(self.base.shape_error("images of shape (height, width, channels)", input));
        };
        if self.filters == 0 {
            return Err(self.base.error("filters must be at least 1, got 0"));
        }
        let padding = self.base.resolve(&self.padding)?;
        let geometry = Conv2dGeometry::transposed(
            [h, w],
            self.filters,
            self.kernel_size.pair(),
            self.strides.pair(),
            padding,
        )
        .map_err(|e| self.base.error(format!("input shape {}: {e}", super::base::batch_shape(input))))?;
        let (out_h, out_w) = geometry.input_size();
        self.base.resolve(&self.activation)?;
        self.base.resolve_regularizer(&self.kernel_regularizer)?;
        self.base.resolve_regularizer(&self.bias_regularizer)?;
        let Size2(kh, kw) = self.kernel_size;
        let filters = self.filters;
        self.base.build_weights(inputs, |base| {
            base.add_weight("kernel", &[kh, kw, filters, channels], &self.kernel_initializer, true)?;
            if self.use_bias {
                base.add_weight("bias", &[filters], &self.bias_initializer, true)?;
            }
            Ok(())
        })?;
        Ok(vec![out_h, out_w, filters])
    }

    fn forward(&self, inputs: &[Tensor], ctx: &mut ForwardCtx<'_>) -> Result<Tensor> {
        self.base.check_inputs(inputs)?;
        let padding = self.base.resolve(&self.padding)?;
        let kernel = ctx.weight(self.base.weight(KERNEL)?);
        let mut y = inputs[0].conv2d_transpose(&kernel, self.strides.pair(), padding)?;
        if self.use_bias {
            y = y.add(&ctx.weight(self.base.weight(BIAS)?))?;
        }
        let activation = self.base.resolve(&self.activation)?;
        ctx.activate(activation, &y)
    }

    fn regularization_loss(&self, ctx: &mut ForwardCtx<'_>) -> Result<Option<Tensor>> {
        let terms = [
            (KERNEL, self.base.resolve_regularizer(&self.kernel_regularizer)?),
            (BIAS, self.base.resolve_regularizer(&self.bias_regularizer)?),
        ];
        self.base.penalties(ctx, &terms)
    }
}
