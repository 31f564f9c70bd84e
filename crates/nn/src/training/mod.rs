//! Training and inference on a model, as Keras's `compile` / `fit` / `evaluate` / `predict` /
//! `train_on_batch`.
//!
//! Data is uploaded to the model's device once per call (cast to the model's dtype); batches
//! are gathered there by index, so a training step moves no data between host and device, and
//! reads nothing back: the loss and metrics are summed on the device and read only when the
//! progress display refreshes, a callback asks, or an epoch ends.

mod compile;
mod compile_options;
mod config;
mod data;
mod evaluate;
mod fit;
mod fit_stream;
mod introspect;
mod options;
mod replicated;
mod source;
mod step;
mod weights;

pub use compile_options::CompileOptions;
pub use data::{Inputs, Targets};
pub use options::{BatchOptions, EvaluateOptions, FitOptions};

use crate::losses::AnyLoss;
use crate::metrics::Metric;
use crate::optimizers::OptimizerState;

/// What `compile` sets on a model: the optimizer with its per-weight state, and how each output
/// trains.
pub struct Compiled {
    pub(crate) optimizer: OptimizerState,
    /// The dynamic loss scale, under the mixed_float16 policy.
    pub(crate) loss_scale: Option<crate::mixed_precision::LossScale>,
    /// One per output of the model, in its output order.
    pub(crate) outputs: Vec<OutputTraining>,
}

/// How one output of a model trains: its loss, the weight of that loss in the total, and its
/// metrics, plain and weighted by the samples' weights (Keras's `weighted_metrics`).
#[derive(Clone)]
pub(crate) struct OutputTraining {
    /// The name of the layer that gives the output, which prefixes its logs when there are
    /// several outputs.
    pub(crate) name: String,
    pub(crate) loss: AnyLoss,
    pub(crate) loss_weight: f64,
    pub(crate) metrics: Vec<Metric>,
    pub(crate) weighted_metrics: Vec<Metric>,
}
