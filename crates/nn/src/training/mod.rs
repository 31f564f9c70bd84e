//! Training and inference on a model, as Keras's `compile` / `fit` / `evaluate` / `predict` /
//! `train_on_batch`.
//!
//! Data is uploaded to the model's device once per call (cast to the model's dtype); batches
//! are gathered there by index, so a training step moves no data between host and device, and
//! reads nothing back: the loss and metrics are summed on the device and read only when the
//! progress display refreshes, a callback asks, or an epoch ends.

mod compile;
mod config;
mod data;
mod evaluate;
mod fit;
mod fit_stream;
mod introspect;
mod options;
mod source;
mod step;
mod weights;

pub use data::Inputs;
pub use options::{EvaluateOptions, FitOptions};

use crate::losses::AnyLoss;
use crate::metrics::Metric;
use crate::optimizers::OptimizerState;

/// What `compile` sets on a model: the optimizer with its per-weight state, the loss and the
/// metrics.
pub struct Compiled {
    pub(crate) optimizer: OptimizerState,
    pub(crate) loss: AnyLoss,
    pub(crate) metrics: Vec<Metric>,
}
