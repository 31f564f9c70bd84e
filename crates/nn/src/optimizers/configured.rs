//! The options every Keras 3 optimizer takes besides its own (keras/src/optimizers/base_optimizer.py):
//! a learning-rate schedule, gradient clipping (`clipnorm`, `clipvalue`, `global_clipnorm`) and
//! decoupled weight decay, applied in Keras's order before each update: the gradients are
//! clipped, then every weight decays by `w -= w * weight_decay * learning_rate`, then the
//! optimizer's own rule runs (tensor-core's fused update).

use tensor_core::{Tensor, no_grad};

use super::schedules::LearningRateSchedule;
use super::{Adam, Optimizer};
use crate::{NnError, Result};

/// An optimizer with Keras's base-class options; what `compile` takes. Made from any optimizer
/// by the [`OptimizerOptions`] methods:
///
/// ```
/// use nn::optimizers::{Adam, OptimizerOptions, Sgd};
/// use nn::optimizers::schedules::CosineDecay;
/// let clipped = Adam::default().clipnorm(1.0);
/// let scheduled = Sgd::default().learning_rate_schedule(CosineDecay::new(0.1, 1000)).weight_decay(1e-4);
/// assert_eq!(clipped.clipnorm, Some(1.0));
/// assert_eq!(scheduled.learning_rate(0), 0.1);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Configured {
    /// The update rule; its own learning rate is the one used when there is no schedule.
    pub optimizer: Optimizer,
    /// A learning rate that follows the step count (then it cannot be set, as in Keras).
    pub schedule: Option<LearningRateSchedule>,
    /// Each gradient is rescaled to this L2 norm if its norm is larger.
    pub clipnorm: Option<f64>,
    /// Each gradient element is clipped to `[-clipvalue, clipvalue]`.
    pub clipvalue: Option<f64>,
    /// All gradients together are rescaled to this L2 norm if their joint norm is larger.
    pub global_clipnorm: Option<f64>,
    /// Decoupled weight decay: each step first scales every weight by `1 - weight_decay * lr`.
    pub weight_decay: Option<f64>,
}

impl From<Optimizer> for Configured {
    fn from(optimizer: Optimizer) -> Self {
        Configured {
            optimizer,
            schedule: None,
            clipnorm: None,
            clipvalue: None,
            global_clipnorm: None,
            weight_decay: None,
        }
    }
}

macro_rules! configured_from {
    ($($t:ty),*) => {$(
        impl From<$t> for Configured {
            fn from(o: $t) -> Self {
                Configured::from(Optimizer::from(o))
            }
        }
    )*};
}

configured_from!(super::Sgd, super::RmsProp, super::Adagrad, super::Adadelta, Adam, super::Nadam);

impl Configured {
    /// The learning rate of the step after `iterations` steps: the schedule's, or the fixed one.
    pub fn learning_rate(&self, iterations: u64) -> f64 {
        match &self.schedule {
            Some(schedule) => schedule.at(iterations),
            None => self.optimizer.learning_rate(),
        }
    }

    /// Keras's checks: at most one of the clipping options, each and the weight decay positive
    /// and finite (Keras allows 0 and skips it; so does this), and the schedule's own.
    pub fn check(&self) -> Result<()> {
        let set: Vec<&str> = [
            ("clipnorm", self.clipnorm),
            ("clipvalue", self.clipvalue),
            ("global_clipnorm", self.global_clipnorm),
        ]
        .iter()
        .filter(|(_, v)| v.is_some())
        .map(|(name, _)| *name)
        .collect();
        if set.len() > 1 {
            return Err(NnError::Usage(format!(
                "only one of clipnorm, clipvalue and global_clipnorm can be set (as in Keras), got {}",
                set.join(" and ")
            )));
        }
        for (name, value) in [
            ("clipnorm", self.clipnorm),
            ("clipvalue", self.clipvalue),
            ("global_clipnorm", self.global_clipnorm),
            ("weight_decay", self.weight_decay),
        ] {
            if let Some(v) = value
                && !(v.is_finite() && v >= 0.0)
            {
                return Err(NnError::Usage(format!("{name} must be finite and not negative, got {v}")));
            }
        }
        if let Some(schedule) = &self.schedule {
            schedule.check()?;
        }
        Ok(())
    }

    /// The gradients as Keras's `_clip_gradients` leaves them (the same tensors when no clipping
    /// is set), computed on their device.
    pub(crate) fn clip(&self, gradients: Vec<Tensor>) -> Result<Vec<Tensor>> {
        no_grad(|| {
            Ok(match (self.clipnorm, self.global_clipnorm, self.clipvalue) {
                (Some(c), _, _) if c > 0.0 => gradients
                    .iter()
                    .map(|g| {
                        // `g * c / max(||g||, c)` (Keras's `_clip_by_norm`).
                        let norm = g.square()?.sum_all()?.sqrt()?;
                        Ok(g.mul_scalar(c)?.div(&norm.clip(c, f64::INFINITY)?)?)
                    })
                    .collect::<Result<_>>()?,
                (_, Some(c), _) if c > 0.0 && !gradients.is_empty() => {
                    // `c * min(1 / norm, 1 / c) + (norm - norm)` (Keras's `clip_by_global_norm`):
                    // the last term makes an infinite norm give NaN, as in Keras.
                    let squares = gradients
                        .iter()
                        .map(|g| Ok(g.square()?.sum_all()?.reshape([1])?))
                        .collect::<Result<Vec<_>>>()?;
                    let norm = Tensor::concat(&squares.iter().collect::<Vec<_>>(), 0)?.sum_all()?.sqrt()?;
                    let scale = norm.ones_like()?.mul_scalar(c)?.div(&norm.clip(c, f64::INFINITY)?)?;
                    let scale = scale.add(&norm.sub(&norm)?)?;
                    gradients.iter().map(|g| Ok(g.mul(&scale)?)).collect::<Result<_>>()?
                }
                (_, _, Some(v)) if v > 0.0 => {
                    gradients.iter().map(|g| Ok(g.clip(-v, v)?)).collect::<Result<_>>()?
                }
                _ => gradients,
            })
        })
    }

    /// Keras's `_apply_weight_decay`: `w -= w * weight_decay * learning_rate` for each of
    /// `params`, in place, before the update.
    pub(crate) fn decay(&self, params: &[&Tensor], learning_rate: f64) -> Result<()> {
        let Some(weight_decay) = self.weight_decay.filter(|&wd| wd > 0.0) else { return Ok(()) };
        no_grad(|| {
            for param in params {
                param.assign(&param.sub(&param.mul_scalar(weight_decay * learning_rate)?)?)?;
            }
            Ok(())
        })
    }
}

/// Keras's `AdamW`: Adam with decoupled weight decay, 0.004 by default.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamW {
    pub learning_rate: f64,
    pub weight_decay: f64,
    pub beta_1: f64,
    pub beta_2: f64,
    pub epsilon: f64,
    pub amsgrad: bool,
}

impl Default for AdamW {
    fn default() -> Self {
        let adam = Adam::default();
        AdamW {
            learning_rate: adam.learning_rate,
            weight_decay: 0.004,
            beta_1: adam.beta_1,
            beta_2: adam.beta_2,
            epsilon: adam.epsilon,
            amsgrad: adam.amsgrad,
        }
    }
}

impl From<AdamW> for Configured {
    fn from(o: AdamW) -> Self {
        let adam = Adam {
            learning_rate: o.learning_rate,
            beta_1: o.beta_1,
            beta_2: o.beta_2,
            epsilon: o.epsilon,
            amsgrad: o.amsgrad,
        };
        Configured { weight_decay: Some(o.weight_decay), ..Configured::from(adam) }
    }
}

/// Keras's base-class options as builder methods on every optimizer:
/// `Adam::default().clipnorm(1.0)`.
pub trait OptimizerOptions: Into<Configured> {
    /// Rescales each gradient to at most this L2 norm.
    fn clipnorm(self, clipnorm: f64) -> Configured {
        Configured { clipnorm: Some(clipnorm), ..self.into() }
    }

    /// Clips each gradient element to `[-clipvalue, clipvalue]`.
    fn clipvalue(self, clipvalue: f64) -> Configured {
        Configured { clipvalue: Some(clipvalue), ..self.into() }
    }

    /// Rescales all gradients together to at most this joint L2 norm.
    fn global_clipnorm(self, global_clipnorm: f64) -> Configured {
        Configured { global_clipnorm: Some(global_clipnorm), ..self.into() }
    }

    /// Decoupled weight decay: `w -= w * weight_decay * learning_rate` before each update.
    fn weight_decay(self, weight_decay: f64) -> Configured {
        Configured { weight_decay: Some(weight_decay), ..self.into() }
    }

    /// A learning rate that follows `schedule` step by step (Keras's
    /// `learning_rate=keras.optimizers.schedules.ExponentialDecay(...)`).
    fn learning_rate_schedule(self, schedule: impl Into<LearningRateSchedule>) -> Configured {
        Configured { schedule: Some(schedule.into()), ..self.into() }
    }
}

impl<T: Into<Configured>> OptimizerOptions for T {}
