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
/// With an `output_padding` p (less than the stride) it is Keras's
/// `(height - 1) * stride + kernel - 2 * (kernel / 2) + p` with `same` and
/// `(height - 1) * stride + kernel + p` with `valid`: the extra rows and columns an ambiguous
/// size needs, to match a strided convolution's input.
/// The kernel has Keras's shape (KH, KW, filters, channels): it is the kernel of the Conv2D
/// that maps the output back to the input shape, and this layer is that convolution's
/// input gradient.
pub struct Conv2DTranspose {
    base: LayerBase,
    filters: usize,
    kernel_size: Size2,
    strides: Size2,
    padding: Spec<Padding>,
    output_padding: Option<Size2>,
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
            output_padding: None,
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

    /// Keras's `output_padding`: the rows and columns (a number means both) added to the
    /// output past what the padding gives, each less than its stride; `None` (the default)
    /// leaves the output size to the padding.
    pub fn output_padding(mut self, output_padding: impl Into<Size2>) -> Self {
        self.output_padding = Some(output_padding.into());
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
        fields.update("output_padding", &mut layer.output_padding)?;
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

impl Conv2DTranspose {
    /// With an output padding: for the height and the width, where Keras's output starts in the
    /// whole spread of the windows (`(size - 1) * stride + kernel` long, what "valid" padding
    /// gives) and how long it is. Keras 3 pads the dilated input by `kernel - 1 - crop` before
    /// and the rest of `kernel + kernel % 2 - 2 + output_padding` after with "same"
    /// (keras/src/backend/common/backend_utils.py); "valid" crops nothing.
    fn padded_windows(&self, sizes: [usize; 2], padding: Padding) -> Result<[(usize, usize); 2]> {
        let Some(output_padding) = self.output_padding else {
            return Err(self.base.error("padded_windows needs an output_padding"));
        };
        let mut windows = [(0, 0); 2];
        for (k, window) in windows.iter_mut().enumerate() {
            let pick = |pair: (usize, usize)| if k == 0 { pair.0 } else { pair.1 };
            let (size, kernel, stride, extra) = (
                sizes[k],
                pick(self.kernel_size.pair()),
                pick(self.strides.pair()),
                pick(output_padding.pair()),
            );
            if extra >= stride {
                return Err(self.base.error(format!(
                    "output_padding {:?} must be less than the strides {:?} along each axis",
                    output_padding.pair(),
                    self.strides.pair()
                )));
            }
            let spread = size.saturating_sub(1) * stride;
            *window = match padding {
                Padding::Valid => (0, spread + kernel + extra),
                Padding::Same => {
                    let pad_len = (kernel + kernel % 2 + extra).saturating_sub(2);
                    let before = (pad_len / 2 + pad_len % 2).min(kernel - 1);
                    (kernel - 1 - before, spread + kernel % 2 + extra)
                }
            };
        }
        Ok(windows)
    }
}

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
            "output_padding": self.output_padding,
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
        let (out_h, out_w) = match self.output_padding {
            None => geometry.input_size(),
            Some(_) => {
                let [(_, out_h), (_, out_w)] = self.padded_windows([h, w], padding)?;
                (out_h, out_w)
            }
        };
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
        let mut y = match self.output_padding {
            None => inputs[0].conv2d_transpose(&kernel, self.strides.pair(), padding)?,
            Some(_) => {
                let dims = inputs[0].dims();
                let (h, w) = (dims.get(1).copied().unwrap_or(0), dims.get(2).copied().unwrap_or(0));
                let windows = self.padded_windows([h, w], padding)?;
                // Every window spread whole ("valid"), then cut to Keras's window of it: a crop
                // at the start, zeros past the end.
                let mut y = inputs[0].conv2d_transpose(&kernel, self.strides.pair(), Padding::Valid)?;
                for (axis, (start, len)) in [(1, windows[0]), (2, windows[1])] {
                    let have = y.dims()[axis];
                    let end = (start + len).min(have);
                    y = y.slice(axis as isize, start, end)?.pad_axis(axis as isize, 0, start + len - end)?;
                }
                y
            }
        };
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
