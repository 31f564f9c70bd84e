//! Losses written outside the crate, and what `compile` holds: a built-in [`Loss`] or a custom
//! one. A custom loss gives one value per sample; `fit` reduces it as it reduces a built-in one
//! (sample weights, "sum_over_batch_size"). To be saved with a model and loaded back it is
//! registered by class name with [`register_loss`], as Keras's `register_keras_serializable`
//! (or `custom_objects`) asks:
//!
//! ```
//! use std::sync::Arc;
//! use nn::losses::{CustomLoss, register_loss};
//! use nn::layers::Config;
//! use nn::{Result, Tensor};
//!
//! /// Mean fourth power of the error, scaled.
//! struct Quartic { scale: f64 }
//!
//! impl CustomLoss for Quartic {
//!     fn name(&self) -> &str { "Quartic" }
//!     fn call(&self, y_true: &Tensor, y_pred: &Tensor) -> Result<Tensor> {
//!         Ok(y_pred.sub(y_true)?.square()?.square()?.mean(&[-1], false)?.mul_scalar(self.scale)?)
//!     }
//!     fn get_config(&self) -> Config {
//!         let mut config = Config::new();
//!         config.insert("scale".into(), self.scale.into());
//!         config
//!     }
//! }
//!
//! register_loss("Quartic", |config: &Config| {
//!     let scale = config.get("scale").and_then(|v| v.as_f64()).unwrap_or(1.0);
//!     Ok(Arc::new(Quartic { scale }) as Arc<dyn CustomLoss>)
//! }).unwrap();
//! // model.compile("adam", Quartic { scale: 0.5 }, &[])?, or by name: model.compile("adam", "Quartic", &[])?
//! ```

use std::fmt;
use std::sync::Arc;

use tensor_core::Tensor;

use super::{IntoLoss, Loss, reduce};
use crate::custom_objects::Registry;
use crate::layers::Config;
use crate::{NnError, Result, Squashed};

/// A loss function of the user's: Keras's `keras.losses.Loss` subclass with its `call`.
pub trait CustomLoss: Send + Sync {
    /// The class name: what the saved config names and [`register_loss`] registers.
    fn name(&self) -> &str;

    /// The loss of each sample (shape `(N,)`, or `(N, ...)` for outputs with positions), from
    /// the targets as given to `fit` and the model's output. Built from tensor ops, so that
    /// training can differentiate it.
    fn call(&self, y_true: &Tensor, y_pred: &Tensor) -> Result<Tensor>;

    /// The settings to save, for the registered factory to read back (none by default).
    fn get_config(&self) -> Config {
        Config::new()
    }
}

/// Makes a custom loss from its saved config.
pub type LossFactory = dyn Fn(&Config) -> Result<Arc<dyn CustomLoss>> + Send + Sync;

static LOSSES: Registry<LossFactory> = Registry::new("loss");

/// Registers the custom loss class `class_name`: `compile` then accepts the name, and
/// `load_model` rebuilds a model compiled with it from its saved config through `factory`.
/// Registering a name again replaces the factory.
pub fn register_loss(
    class_name: &str,
    factory: impl Fn(&Config) -> Result<Arc<dyn CustomLoss>> + Send + Sync + 'static,
) -> Result<()> {
    LOSSES.insert(class_name, Arc::new(factory))
}

/// The loss a model is compiled with: a built-in one or a custom one.
#[derive(Clone)]
pub enum AnyLoss {
    Builtin(Loss),
    Custom(Arc<dyn CustomLoss>),
}

impl AnyLoss {
    /// The loss's name (Keras's for a built-in one, the class name for a custom one).
    pub fn name(&self) -> &str {
        match self {
            AnyLoss::Builtin(loss) => loss.name(),
            AnyLoss::Custom(loss) => loss.name(),
        }
    }

    /// The built-in loss, if it is one.
    pub fn builtin(&self) -> Option<&Loss> {
        match self {
            AnyLoss::Builtin(loss) => Some(loss),
            AnyLoss::Custom(_) => None,
        }
    }

    /// Whether targets are class ids (a custom loss takes targets as given).
    pub fn is_sparse(&self) -> bool {
        self.builtin().is_some_and(Loss::is_sparse)
    }

    /// Checks targets before training as [`Loss::check_targets`]; a custom loss takes any.
    pub fn check_targets(&self, y_true: &Tensor, output: &[usize]) -> Result<()> {
        match self {
            AnyLoss::Builtin(loss) => loss.check_targets(y_true, output),
            AnyLoss::Custom(_) => Ok(()),
        }
    }

    /// The batch loss as [`Loss::compute_for`] computes it, for a custom loss from its `call`.
    pub fn compute_for(
        &self,
        y_true: &Tensor,
        y_pred: &Tensor,
        squashed: Option<&Squashed>,
        sample_weight: Option<&Tensor>,
    ) -> Result<Tensor> {
        match self {
            AnyLoss::Builtin(loss) => loss.compute_for(y_true, y_pred, squashed, sample_weight),
            AnyLoss::Custom(loss) => {
                let losses = loss.call(y_true, y_pred)?;
                let samples = y_pred.dims().first().copied();
                if losses.rank() == 0 || losses.dims().first().copied() != samples {
                    return Err(NnError::Usage(format!(
                        "custom loss {}: call must give one loss per sample, shape ({}, ...), got {}",
                        loss.name(),
                        samples.unwrap_or(0),
                        losses.shape()
                    )));
                }
                reduce(loss.name(), losses, sample_weight)
            }
        }
    }

    /// The loss `class_name` names: a built-in one (Keras's names and aliases take precedence),
    /// or a registered custom class made from `config` (an error naming the class when it is
    /// neither).
    pub(crate) fn from_class(class_name: &str, config: &Config) -> Result<AnyLoss> {
        let builtin = match class_name.parse::<Loss>() {
            Ok(loss) => return Ok(AnyLoss::Builtin(loss)),
            Err(unknown) => unknown,
        };
        match LOSSES.get(class_name)? {
            Some(factory) => Ok(AnyLoss::Custom(factory(config)?)),
            None => Err(NnError::Usage(format!(
                "{builtin}; or a custom loss registered with nn::losses::register_loss({class_name:?}, ...) \
                 (registered: {:?})",
                LOSSES.names()?
            ))),
        }
    }
}

impl fmt::Debug for AnyLoss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnyLoss::Builtin(loss) => write!(f, "{loss:?}"),
            AnyLoss::Custom(loss) => write!(f, "CustomLoss({:?})", loss.name()),
        }
    }
}

impl fmt::Display for AnyLoss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl<T: CustomLoss + 'static> IntoLoss for T {
    fn into_loss(self) -> Result<AnyLoss> {
        Ok(AnyLoss::Custom(Arc::new(self)))
    }
}

impl IntoLoss for Arc<dyn CustomLoss> {
    fn into_loss(self) -> Result<AnyLoss> {
        Ok(AnyLoss::Custom(self))
    }
}
