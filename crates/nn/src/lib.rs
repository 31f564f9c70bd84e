//! nn: a Keras-style API over tensor-core — layers, Sequential and functional models,
//! compile / fit / evaluate / predict, callbacks, summaries and weight files.

mod context;
mod error;
mod layer;
mod weight;

pub use context::ForwardCtx;
pub use error::{NnError, Result};
pub use layer::Layer;
pub use weight::Weight;

pub use tensor_core::{DType, Device, Padding, Tensor};
