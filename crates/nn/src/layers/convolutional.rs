//! Conv2D: 2-D convolution of channels-last images.

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

/// Convolves (height, width, channels) images with `filters` kernels of `kernel_size`, adds a
/// bias per filter and applies the activation, as Keras's `Conv2D`. The kernel has shape
/// (KH, KW, channels, filters).
pub struct Conv2D {
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

impl Conv2D {
    /// `filters` kernels of `kernel_size` ((3, 3), or 3): strides 1, `valid` padding, no
    /// activation, a bias, glorot_uniform kernels.
    pub fn new(filters: usize, kernel_size: impl Into<Size2>) -> Conv2D {
        Conv2D {
            base: LayerBase::new("conv2d"),
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

    /// Keras's `Conv2D.from_config`: the layer a [`Layer::config`] describes, unbuilt. `filters`
    /// and `kernel_size` are required; other settings missing from the config take their
    /// defaults.
    pub fn from_config(config: &Config) -> Result<Conv2D> {
        let mut fields = Fields::layer("Conv2D", config);
        let filters = fields.required("filters")?;
        let mut layer = Conv2D::new(filters, fields.required::<Size2>("kernel_size")?);
        fields.update("strides", &mut layer.strides)?;
        fields.update("padding", &mut layer.padding)?;
        layer.read_kernel_config(&mut fields)?;
        layer.base.read_weighted_config(&mut fields)?;
        fields.finish()?;
        Ok(layer)
    }
}

layer_builders!(Conv2D);
kernel_builders!(Conv2D);
weight_builders!(Conv2D);
kernel_config!(Conv2D);

/// The output (height, width) of sliding `window` over (height, width, channels) images, or an
/// error naming the layer and the input shape.
pub(crate) fn window_output(
    base: &LayerBase,
    input: &[usize],
    window: Size2,
    strides: Size2,
    padding: Padding,
) -> Result<(usize, usize)> {
    let &[h, w, c] = input else {
        return Err(base.shape_error("images of shape (height, width, channels)", input));
    };
    Conv2dGeometry::new([h, w, c], window.pair(), strides.pair(), padding)
        .map(|g| g.output_size())
        .map_err(|e| base.error(format!("input shape {}: {e}", super::base::batch_shape(input))))
}

impl Layer for Conv2D {
    layer_basics!("Conv2D", "conv2d");

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
        if self.filters == 0 {
            return Err(self.base.error("filters must be at least 1, got 0"));
        }
        let padding = self.base.resolve(&self.padding)?;
        let (out_h, out_w) = window_output(&self.base, input, self.kernel_size, self.strides, padding)?;
        let channels = input[2];
        self.base.resolve(&self.activation)?;
        self.base.resolve_regularizer(&self.kernel_regularizer)?;
        self.base.resolve_regularizer(&self.bias_regularizer)?;
        let Size2(kh, kw) = self.kernel_size;
        let filters = self.filters;
        self.base.build_weights(inputs, |base| {
            base.add_weight("kernel", &[kh, kw, channels, filters], &self.kernel_initializer, true)?;
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
        let bias = if self.use_bias { Some(ctx.weight(self.base.weight(BIAS)?)) } else { None };
        let activation = self.base.resolve(&self.activation)?;
        let strides = self.strides.pair();
        ctx.product_then(activation, |fused| {
            inputs[0].conv2d_affine(&kernel, bias.as_ref(), fused, strides, padding)
        })
    }

    fn regularization_loss(&self, ctx: &mut ForwardCtx<'_>) -> Result<Option<Tensor>> {
        let terms = [
            (KERNEL, self.base.resolve_regularizer(&self.kernel_regularizer)?),
            (BIAS, self.base.resolve_regularizer(&self.bias_regularizer)?),
        ];
        self.base.penalties(ctx, &terms)
    }
}
