//! Keras's `keras.applications.vgg16`: VGG16 (Simonyan and Zisserman, "Very Deep Convolutional
//! Networks for Large-Scale Image Recognition", ICLR 2015) as Keras 3 builds it, layer for
//! layer and name for name, so Keras's weight files for it load unchanged; and its input
//! preprocessing.
//!
//! ```no_run
//! use nn::applications::vgg16::{self, Vgg16};
//! use nn::applications::{Pooling, Weights};
//!
//! # fn main() -> nn::Result<()> {
//! // keras.applications.VGG16(include_top=False, weights="imagenet", input_shape=(150, 150, 3),
//! //                          pooling="avg")
//! let base = Vgg16::new()
//!     .include_top(false)
//!     .weights(Weights::ImageNet("vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5".into()))
//!     .input_shape([150, 150, 3])
//!     .pooling(Pooling::Avg)
//!     .build()?;
//! # let images = nn::Tensor::zeros([1, 150, 150, 3], nn::DType::F32, &nn::Device::Cpu)?;
//! let features = base.predict(&vgg16::preprocess_input(&images)?, 32)?;
//! # Ok(())
//! # }
//! ```

use tensor_core::{Padding, Tensor};

use super::input_shape::{
    IMAGENET_CLASSES, InputSizes, obtain_input_shape, validate_activation, validate_weights,
};
use super::{Pooling, Weights, preprocess, weights};
use crate::{
    Apply, Conv2D, Dense, Flatten, GlobalAveragePooling2D, GlobalMaxPooling2D, Input, MaxPooling2D, Model,
    Result,
};

/// VGG16's five convolutional blocks: the filters of each block's 3x3 convolutions and how many
/// there are; each block ends in a 2x2 max pooling.
const BLOCKS: [(usize, usize); 5] = [(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)];

/// The units of each of the two fully connected layers of the top.
const FC_UNITS: usize = 4096;

/// The input sizes VGG16 takes: trained at 224x224, and five 2x2 poolings need at least 32x32.
const SIZES: InputSizes = InputSizes { default: 224, min: 32 };

/// The options of Keras's `keras.applications.VGG16(...)`, each at Keras's default but
/// `weights`, which is random until a file is given (tessera downloads nothing); [`Vgg16::build`]
/// makes the model.
#[derive(Clone, Debug)]
pub struct Vgg16 {
    include_top: bool,
    weights: Weights,
    input_shape: Option<[usize; 3]>,
    pooling: Pooling,
    classes: usize,
    classifier_activation: Option<String>,
    name: String,
}

impl Default for Vgg16 {
    fn default() -> Self {
        Vgg16 {
            include_top: true,
            weights: Weights::Random,
            input_shape: None,
            pooling: Pooling::None,
            classes: IMAGENET_CLASSES,
            classifier_activation: Some("softmax".to_string()),
            name: "vgg16".to_string(),
        }
    }
}

impl Vgg16 {
    /// Keras's defaults: with the top, 1000 classes, softmax, input (224, 224, 3), random weights.
    pub fn new() -> Vgg16 {
        Vgg16::default()
    }

    /// Whether to end in the 3 fully connected layers (flatten, fc1, fc2, predictions); true by
    /// default. Without them the model ends at `block5_pool`, or its pooling.
    pub fn include_top(mut self, include_top: bool) -> Self {
        self.include_top = include_top;
        self
    }

    /// Where the weights come from (random by default).
    pub fn weights(mut self, weights: Weights) -> Self {
        self.weights = weights;
        self
    }

    /// The input shape (height, width, channels); (224, 224, 3) if not given. At least 32x32;
    /// with the top and ImageNet weights, exactly (224, 224, 3).
    pub fn input_shape(mut self, input_shape: [usize; 3]) -> Self {
        self.input_shape = Some(input_shape);
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

    /// The model's name ("vgg16" by default).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The model, on the CPU, with its weights loaded (or random, with a warning saying so).
    /// Options Keras refuses are errors with Keras's reasons, before anything is built; a
    /// weights file that does not fit is an error naming the layer and both shapes.
    pub fn build(&self) -> Result<Model> {
        let name = &self.name;
        validate_weights(name, &self.weights, self.include_top, self.classes)?;
        let shape = obtain_input_shape(name, self.input_shape, &SIZES, self.include_top, &self.weights)?;
        if self.include_top {
            validate_activation(name, self.classifier_activation.as_deref(), &self.weights)?;
        }

        let input = Input::new(&shape).symbolic()?;
        let mut x = input.clone();
        for (block, &(filters, convolutions)) in (1..).zip(&BLOCKS) {
            for conv in 1..=convolutions {
                x = Conv2D::new(filters, (3, 3))
                    .activation("relu")
                    .padding(Padding::Same)
                    .named(format!("block{block}_conv{conv}"))
                    .apply(&[&x])?;
            }
            x = MaxPooling2D::new()
                .pool_size((2, 2))
                .strides((2, 2))
                .named(format!("block{block}_pool"))
                .apply(&[&x])?;
        }
        if self.include_top {
            x = Flatten::new().named("flatten").apply(&[&x])?;
            x = Dense::new(FC_UNITS).activation("relu").named("fc1").apply(&[&x])?;
            x = Dense::new(FC_UNITS).activation("relu").named("fc2").apply(&[&x])?;
            x = Dense::new(self.classes)
                .activation(self.classifier_activation.as_deref().unwrap_or("linear"))
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
        model.set_name(name.clone());
        weights::load(&model, &self.weights)?;
        Ok(model)
    }
}

/// Keras's `keras.applications.vgg16.preprocess_input`: channels-last RGB images with values
/// in [0, 255] (the last axis holding the 3 channels) to what VGG16's weights were trained on:
/// BGR, each channel less its ImageNet mean (103.939, 116.779, 123.68 for B, G, R), unscaled
/// (Keras's "caffe" mode).
pub fn preprocess_input(x: &Tensor) -> Result<Tensor> {
    preprocess::caffe("vgg16", x)
}
