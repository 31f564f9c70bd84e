//! Metrics written outside the crate: Keras's `keras.metrics.Metric` subclass with its
//! `update_state` / `result` / `reset_state`. A custom metric is registered by name with
//! [`register_metric`] (Keras's `register_keras_serializable`); `compile` then takes the name
//! beside the built-in ones, and a saved model compiled with it loads back while the name is
//! registered (an error naming it otherwise):
//!
//! ```
//! use nn::metrics::{CustomMetric, register_metric};
//! use nn::{Result, Tensor};
//!
//! /// The largest absolute error seen.
//! #[derive(Default)]
//! struct MaxError { max: f64 }
//!
//! impl CustomMetric for MaxError {
//!     fn update_state(&mut self, y_true: &Tensor, y_pred: &Tensor) -> Result<()> {
//!         let errors = y_pred.sub(&y_true.reshape(y_pred.dims().to_vec())?)?.abs()?.to_vec_f64()?;
//!         self.max = errors.into_iter().fold(self.max, f64::max);
//!         Ok(())
//!     }
//!     fn result(&self) -> Result<f64> { Ok(self.max) }
//!     fn reset_state(&mut self) -> Result<()> { self.max = 0.0; Ok(()) }
//! }
//!
//! register_metric("max_error", || Box::new(MaxError::default())).unwrap();
//! // model.compile("adam", "mse", &["mae", "max_error"])?
//! ```

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use tensor_core::Tensor;

use crate::custom_objects::Registry;
use crate::{NnError, Result};

/// A stateful metric of the user's. `fit` and `evaluate` reset it at the start of each pass
/// (an epoch's training, a validation, an evaluation), hand it every batch's targets (as given)
/// and predictions (detached), and read its result for the logs.
pub trait CustomMetric: Send {
    /// Adds a batch.
    fn update_state(&mut self, y_true: &Tensor, y_pred: &Tensor) -> Result<()>;

    /// The value over the batches added since the last reset.
    fn result(&self) -> Result<f64>;

    /// Forgets every batch.
    fn reset_state(&mut self) -> Result<()>;
}

/// Makes a fresh custom metric.
pub type MetricFactory = dyn Fn() -> Box<dyn CustomMetric> + Send + Sync;

static METRICS: Registry<MetricFactory> = Registry::new("metric");

/// Registers the custom metric `name`: `compile` then accepts it in its metric names (Keras's
/// built-in names take precedence), and its logs carry it under that name. Registering a name
/// again replaces the factory.
pub fn register_metric(
    name: &str,
    factory: impl Fn() -> Box<dyn CustomMetric> + Send + Sync + 'static,
) -> Result<()> {
    METRICS.insert(name, Arc::new(factory))
}

/// A compiled model's instance of a custom metric, shared by the passes that use it in turn.
#[derive(Clone)]
pub(crate) struct Shared(Arc<Mutex<Box<dyn CustomMetric>>>);

impl Shared {
    /// A fresh instance of the metric registered as `name`, if there is one.
    pub(crate) fn make(name: &str) -> Result<Option<Shared>> {
        Ok(METRICS.get(name)?.map(|factory| Shared(Arc::new(Mutex::new(factory())))))
    }

    /// The registered names, for error messages.
    pub(crate) fn registered() -> Result<Vec<String>> {
        METRICS.names()
    }

    /// The metric, locked for one call.
    pub(crate) fn lock(&self, name: &str) -> Result<MutexGuard<'_, Box<dyn CustomMetric>>> {
        self.0
            .lock()
            .map_err(|_| NnError::Usage(format!("custom metric {name:?} panicked in an earlier call")))
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CustomMetric")
    }
}

/// Two handles are equal when they share the instance.
impl PartialEq for Shared {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Shared {}
