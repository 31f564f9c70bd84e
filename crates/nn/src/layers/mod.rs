//! The layers, one file per Keras family, sharing the bookkeeping in `base`; each describes
//! itself as a config (`config`) from which `registry` makes it again by class name.

mod activation;
mod activation_layers;
mod args;
mod base;
pub(crate) mod config;
mod conv_transpose;
mod convolutional;
mod dense;
mod depthwise_conv;
mod embedding;
mod gru;
mod input;
mod lstm;
mod merging;
mod normalization;
mod pooling;
pub(crate) mod registry;
mod regularization;
mod reshaping;
mod rnn;
mod weight_gate;
mod zero_padding;

pub use activation::ActivationLayer;
pub use activation_layers::{LeakyReLU, PReLU, ReLU, Softmax};
pub use args::{KerasName, Size2, Spec};
pub(crate) use base::{batch_free_shape, batch_shape};
pub use config::{Config, Fields, FromValue, ToValue};
pub use conv_transpose::Conv2DTranspose;
pub use convolutional::Conv2D;
pub use dense::Dense;
pub use depthwise_conv::DepthwiseConv2D;
pub use embedding::Embedding;
pub use gru::GRU;
pub use input::Input;
pub use lstm::LSTM;
pub use merging::{Add, Concatenate};
pub use normalization::BatchNormalization;
pub use pooling::{AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, MaxPooling2D};
pub use registry::{Constructor, deserialize, from_config, register, serialize};
pub use regularization::{Dropout, SpatialDropout2D};
pub use reshaping::{Flatten, Reshape, UpSampling2D};
pub use rnn::SimpleRNN;
pub(crate) use weight_gate::with_weight_gate;
pub use zero_padding::{Pads2D, ZeroPadding2D};
