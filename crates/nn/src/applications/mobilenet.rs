//! Keras's `keras.applications.mobilenet`: MobileNet (Howard et al., "MobileNets: Efficient
//! Convolutional Neural Networks for Mobile Vision Applications", 2017) as Keras 3 builds it
//! (keras/src/applications/mobilenet.py of Keras 3.15.1), layer for layer and name for name, so
//! Keras's weight files for it load unchanged; and its input preprocessing.
//!
//! ```no_run
//! use nn::applications::mobilenet::{self, MobileNet};
//! use nn::applications::{Pooling, Weights};
//!
//! # fn main() -> nn::Result<()> {
//! // keras.applications.MobileNet(input_shape=(160, 160, 3), alpha=0.5, include_top=False,
//! //                              weights="imagenet", pooling="avg")
//! let base = MobileNet::new()
//!     .input_shape([160, 160, 3])
//!     .alpha(0.5)
//!     .include_top(false)
//!     .weights(Weights::ImageNet("mobilenet_5_0_160_tf_no_top.h5".into()))
//!     .pooling(Pooling::Avg)
//!     .build()?;
//! # let images = nn::Tensor::zeros([1, 160, 160, 3], nn::DType::F32, &nn::Device::Cpu)?;
//! let features = base.predict(&mobilenet::preprocess_input(&images)?, 32)?;
//! # Ok(())
//! # }
//! ```

use tensor_core::{Padding, Tensor};

use super::input_shape::{
    IMAGENET_CLASSES, InputSizes, obtain_input_shape, usage, validate_activation, validate_weights,
};
use super::{Pooling, Weights, preprocess, weights};
use crate::{
    ActivationLayer, Apply, BatchNormalization, Conv2D, DepthwiseConv2D, Dropout, GlobalAveragePooling2D,
    GlobalMaxPooling2D, Input, Model, ReLU, Reshape, Result, SymbolicTensor, ZeroPadding2D,
};

/// The 13 depthwise separable blocks after the first convolution: the pointwise filters of
/// each (at alpha 1) and whether its depthwise convolution halves height and width.
const BLOCKS: [(usize, bool); 13] = [
    (64, false),
    (128, true),
    (128, false),
    (256, true),
    (256, false),
    (512, true),
    (512, false),
    (512, false),
    (512, false),
    (512, false),
    (512, false),
    (1024, true),
    (1024, false),
];

/// The filters of the first, full 3x3 convolution (at alpha 1), which halves height and width.
const FIRST_FILTERS: usize = 32;

/// The input sizes ImageNet weights exist for, square; any other input takes the 224 ones.
const IMAGENET_SIZES: [usize; 4] = [128, 160, 192, 224];

/// The widths ImageNet weights exist for.
const IMAGENET_ALPHAS: [f64; 4] = [0.25, 0.5, 0.75, 1.0];

/// The cap of MobileNet's activations, ReLU6.
const RELU_CAP: f64 = 6.0;

/// The options of Keras's `keras.applications.MobileNet(...)`, each at Keras's default but
/// `weights`, which is random until a file is given (tessera downloads nothing);
/// [`MobileNet::build`] makes the model.
#[derive(Clone, Debug)]
pub struct MobileNet {
    input_shape: Option<[usize; 3]>,
    alpha: f64,
    depth_multiplier: usize,
    dropout: f64,
    include_top: bool,
    weights: Weights,
    pooling: Pooling,
    classes: usize,
    classifier_activation: Option<String>,
    name: Option<String>,
}

impl Default for MobileNet {
    fn default() -> Self {
        MobileNet {
            input_shape: None,
            alpha: 1.0,
            depth_multiplier: 1,
            dropout: 1e-3,
            include_top: true,
            weights: Weights::Random,
            pooling: Pooling::None,
            classes: IMAGENET_CLASSES,
            classifier_activation: Some("softmax".to_string()),
            name: None,
        }
    }
}

impl MobileNet {
    /// Keras's defaults: alpha 1, depth multiplier 1, dropout 0.001, with the top, 1000
    /// classes, softmax, input (224, 224, 3), random weights.
    pub fn new() -> MobileNet {
        MobileNet::default()
    }

    /// The input shape (height, width, channels); (224, 224, 3) if not given. At least 32x32;
    /// with the top and ImageNet weights, a square of 128, 160, 192 or 224 with 3 channels.
    pub fn input_shape(mut self, input_shape: [usize; 3]) -> Self {
        self.input_shape = Some(input_shape);
        self
    }

    /// The width multiplier: every layer has `alpha` times its filters (truncated, as Keras's
    /// `int(filters * alpha)`); 1 by default, and 0.25, 0.5, 0.75 or 1 with ImageNet weights.
    pub fn alpha(mut self, alpha: f64) -> Self {
        self.alpha = alpha;
        self
    }

    /// The depthwise convolutions' kernels per channel (1 by default, and with ImageNet weights).
    pub fn depth_multiplier(mut self, depth_multiplier: usize) -> Self {
        self.depth_multiplier = depth_multiplier;
        self
    }

    /// The dropout rate before the classifier (0.001 by default).
    pub fn dropout(mut self, dropout: f64) -> Self {
        self.dropout = dropout;
        self
    }

    /// Whether to end in the classifier (global average pooling, dropout, a 1x1 convolution,
    /// reshape, activation); true by default. Without it the model ends at `conv_pw_13_relu`,
    /// or its pooling.
    pub fn include_top(mut self, include_top: bool) -> Self {
        self.include_top = include_top;
        self
    }

    /// Where the weights come from (random by default).
    pub fn weights(mut self, weights: Weights) -> Self {
        self.weights = weights;
        self
    }

    /// Without the top, how the last block's feature maps are pooled (none by default); ignored
    /// with the top, as in Keras.
    pub fn pooling(mut self, pooling: Pooling) -> Self {
        self.pooling = pooling;
        self
    }

    /// How many classes the top predicts (1000 by default; 1000 with ImageNet weights).
    pub fn classes(mut self, classes: usize) -> Self {
        self.classes = classes;
        self
    }

    /// The activation of the `predictions` layer, by Keras name (`Some("softmax")` by default),
    /// or `None` for the logits; pretrained weights allow only these two.
    pub fn classifier_activation(mut self, activation: Option<&str>) -> Self {
        self.classifier_activation = activation.map(str::to_string);
        self
    }

    /// The model's name; Keras's `mobilenet_{alpha:.2}_{rows}` ("mobilenet_1.00_224") if not
    /// given.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The model, on the CPU, with its weights loaded (or random, with a warning saying so).
    /// Options Keras refuses are errors with Keras's reasons, before anything is built; a
    /// weights file that does not fit is an error naming the layer and both shapes.
    pub fn build(&self) -> Result<Model> {
        let label = self.name.as_deref().unwrap_or("mobilenet");
        validate_weights(label, &self.weights, self.include_top, self.classes)?;
        // NaN is refused with the non-positive widths.
        if self.alpha.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
            return Err(usage(label, format!("alpha should be positive; received alpha={}", self.alpha)));
        }
        // Keras takes the input size as the default where ImageNet weights exist for it.
        let default = match self.input_shape {
            Some([rows, cols, _]) if rows == cols && IMAGENET_SIZES.contains(&rows) => rows,
            _ => 224,
        };
        let sizes = InputSizes { default, min: 32 };
        let shape = obtain_input_shape(label, self.input_shape, &sizes, self.include_top, &self.weights)?;
        let mut rows = shape[0];
        if matches!(self.weights, Weights::ImageNet(_)) {
            if self.depth_multiplier != 1 {
                return Err(usage(
                    label,
                    format!(
                        "if imagenet weights are being loaded, depth multiplier must be 1; received \
                         depth_multiplier={}",
                        self.depth_multiplier
                    ),
                ));
            }
            if !IMAGENET_ALPHAS.contains(&self.alpha) {
                return Err(usage(
                    label,
                    format!(
                        "if imagenet weights are being loaded, alpha can be one of 0.25, 0.50, 0.75 or 1.0 \
                         only; received alpha={}",
                        self.alpha
                    ),
                ));
            }
            if shape[0] != shape[1] || !IMAGENET_SIZES.contains(&shape[0]) {
                rows = 224;
                log::warn!(
                    "{label}: input_shape is undefined or non-square, or rows is not in [128, 160, 192, \
                     224]; weights for input shape (224, 224) will be loaded as the default"
                );
            }
        }
        if self.include_top {
            validate_activation(label, self.classifier_activation.as_deref(), &self.weights)?;
        }

        let input = Input::new(&shape).symbolic()?;
        let mut x = self.conv_block(&input)?;
        for (block, &(filters, halves)) in (1..).zip(&BLOCKS) {
            x = self.depthwise_conv_block(&x, filters, halves, block)?;
        }
        if self.include_top {
            x = GlobalAveragePooling2D::new().keepdims(true).apply(&[&x])?;
            x = Dropout::new(self.dropout).named("dropout").apply(&[&x])?;
            x = Conv2D::new(self.classes, (1, 1)).padding(Padding::Same).named("conv_preds").apply(&[&x])?;
            let classes = isize::try_from(self.classes)
                .map_err(|_| usage(label, format!("classes={} is too many", self.classes)))?;
            x = Reshape::new(&[classes]).named("reshape_2").apply(&[&x])?;
            x = ActivationLayer::new(self.classifier_activation.as_deref().unwrap_or("linear"))
                .named("predictions")
                .apply(&[&x])?;
        } else {
            x = match self.pooling {
                Pooling::None => x,
                Pooling::Avg => GlobalAveragePooling2D::new().apply(&[&x])?,
                Pooling::Max => GlobalMaxPooling2D::new().apply(&[&x])?,
            };
        }
        let mut model = Model::functional(&[&input], &x)?;
        model.set_name(self.name.clone().unwrap_or_else(|| format!("mobilenet_{:.2}_{rows}", self.alpha)));
        weights::load(&model, &self.weights)?;
        Ok(model)
    }

    /// `filters` at this width: Keras's `int(filters * alpha)`.
    fn width(&self, filters: usize) -> usize {
        (filters as f64 * self.alpha) as usize
    }

    /// Keras's `_conv_block`: a strided 3x3 convolution, batch normalization, ReLU6.
    fn conv_block(&self, x: &SymbolicTensor) -> Result<SymbolicTensor> {
        let x = Conv2D::new(self.width(FIRST_FILTERS), (3, 3))
            .padding(Padding::Same)
            .use_bias(false)
            .strides((2, 2))
            .named("conv1")
            .apply(&[x])?;
        let x = BatchNormalization::new().named("conv1_bn").apply(&[&x])?;
        ReLU::new().max_value(RELU_CAP).named("conv1_relu").apply(&[&x])
    }

    /// Keras's `_depthwise_conv_block` number `block`: a 3x3 depthwise convolution (strided 2
    /// after a zero row below and a zero column right where it `halves` the size), batch
    /// normalization, ReLU6, then a 1x1 convolution to `filters` at this width, batch
    /// normalization, ReLU6.
    fn depthwise_conv_block(
        &self,
        x: &SymbolicTensor,
        filters: usize,
        halves: bool,
        block: usize,
    ) -> Result<SymbolicTensor> {
        let (strides, padding, x) = if halves {
            let padded = ZeroPadding2D::new()
                .padding(((0, 1), (0, 1)))
                .named(format!("conv_pad_{block}"))
                .apply(&[x])?;
            ((2, 2), Padding::Valid, padded)
        } else {
            ((1, 1), Padding::Same, x.clone())
        };
        let x = DepthwiseConv2D::new((3, 3))
            .padding(padding)
            .depth_multiplier(self.depth_multiplier)
            .strides(strides)
            .use_bias(false)
            .named(format!("conv_dw_{block}"))
            .apply(&[&x])?;
        let x = BatchNormalization::new().named(format!("conv_dw_{block}_bn")).apply(&[&x])?;
        let x = ReLU::new().max_value(RELU_CAP).named(format!("conv_dw_{block}_relu")).apply(&[&x])?;
        let x = Conv2D::new(self.width(filters), (1, 1))
            .padding(Padding::Same)
            .use_bias(false)
            .strides((1, 1))
            .named(format!("conv_pw_{block}"))
            .apply(&[&x])?;
        let x = BatchNormalization::new().named(format!("conv_pw_{block}_bn")).apply(&[&x])?;
        ReLU::new().max_value(RELU_CAP).named(format!("conv_pw_{block}_relu")).apply(&[&x])
    }
}

/// Keras's `keras.applications.mobilenet.preprocess_input`: images with values in [0, 255] to
/// what MobileNet's weights were trained on, scaled to [-1, 1] as `x / 127.5 - 1` (Keras's "tf"
/// mode), any shape.
pub fn preprocess_input(x: &Tensor) -> Result<Tensor> {
    preprocess::tf(x)
}
