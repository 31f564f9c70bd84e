//! nn: a Keras-style API over tensor-core — layers, Sequential and functional models,
//! compile / fit / evaluate / predict, callbacks, summaries, and model files: weights alone, or
//! whole models (architecture, weights, optimizer state) to resume training from; and Keras's
//! applications (VGG16) built as Keras builds them, to load Keras's weight files into.

pub mod activations;
pub mod applications;
pub mod callbacks;
mod context;
mod custom_objects;
pub mod data;
pub mod distributed;
mod error;
mod history;
pub mod initializers;
pub mod io;
mod layer;
pub mod layers;
pub mod losses;
pub mod metrics;
pub mod mixed_precision;
mod model;
pub mod optimizers;
mod progress;
pub mod regularizers;
mod training;
pub mod viz;
mod weight;

pub use activations::Activation;
pub use callbacks::{Callback, CallbackContext};
pub use context::{ForwardCtx, Squashed};
pub use error::{NnError, Result};
pub use history::{History, Logs};
pub use initializers::{Initializer, set_random_seed};
pub use layer::Layer;
pub use layers::{
    ActivationLayer, Add, AveragePooling2D, BatchNormalization, Concatenate, Conv2D, Conv2DTranspose, Dense,
    DepthwiseConv2D, Dropout, Embedding, Flatten, GRU, GlobalAveragePooling2D, GlobalMaxPooling2D, Input,
    LSTM, LeakyReLU, MaxPooling2D, PReLU, Pads2D, ReLU, Reshape, SimpleRNN, Size2, Softmax, SpatialDropout2D,
    Spec, UpSampling2D, ZeroPadding2D,
};
pub use model::{Apply, Graph, Model, Outputs, SharedLayer, SymbolicTensor};
pub use regularizers::Regularizer;
pub use training::{BatchOptions, CompileOptions, EvaluateOptions, FitOptions, Inputs, Targets};
pub use weight::Weight;

pub use tensor_core::{DType, Device, Padding, Tensor};
