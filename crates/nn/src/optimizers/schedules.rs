//! Learning-rate schedules as Keras 3's `keras.optimizers.schedules`
//! (keras/src/optimizers/schedules/learning_rate_schedule.py): the learning rate as a function of
//! the optimizer's step count, evaluated before every step at the steps taken so far (Keras's
//! `optimizer.iterations`, from 0), with Keras's parameter names and defaults.
//!
//! ```
//! use nn::optimizers::schedules::{ExponentialDecay, LearningRateSchedule};
//! let schedule = LearningRateSchedule::from(ExponentialDecay::new(0.1, 10, 0.5));
//! assert_eq!(schedule.at(0), 0.1);
//! assert!((schedule.at(10) - 0.05).abs() < 1e-12);
//! ```

use std::f64::consts::PI;

use serde_json::Value;

use crate::layers::Config;
use crate::layers::config::{Fields, class_value, config, read_class};
use crate::{NnError, Result};

/// `initial_learning_rate * decay_rate ^ (step / decay_steps)`, the exponent floored when
/// `staircase`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ExponentialDecay {
    pub initial_learning_rate: f64,
    pub decay_steps: u64,
    pub decay_rate: f64,
    pub staircase: bool,
}

impl ExponentialDecay {
    /// Keras's required arguments; `staircase` false.
    pub fn new(initial_learning_rate: f64, decay_steps: u64, decay_rate: f64) -> Self {
        ExponentialDecay { initial_learning_rate, decay_steps, decay_rate, staircase: false }
    }
}

/// `values[i]` for steps in `(boundaries[i - 1], boundaries[i]]`: `values[0]` up to and including
/// the first boundary, the last value after the last. One value more than boundaries.
#[derive(Clone, Debug, PartialEq)]
pub struct PiecewiseConstantDecay {
    pub boundaries: Vec<u64>,
    pub values: Vec<f64>,
}

/// `initial_learning_rate / (1 + decay_rate * step / decay_steps)`, the quotient floored when
/// `staircase`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InverseTimeDecay {
    pub initial_learning_rate: f64,
    pub decay_steps: u64,
    pub decay_rate: f64,
    pub staircase: bool,
}

impl InverseTimeDecay {
    /// Keras's required arguments; `staircase` false.
    pub fn new(initial_learning_rate: f64, decay_steps: u64, decay_rate: f64) -> Self {
        InverseTimeDecay { initial_learning_rate, decay_steps, decay_rate, staircase: false }
    }
}

/// `(initial - end) * (1 - step / decay_steps) ^ power + end`, the step held at `decay_steps`
/// after it; with `cycle`, `decay_steps` grows to the next multiple of itself past the step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PolynomialDecay {
    pub initial_learning_rate: f64,
    pub decay_steps: u64,
    pub end_learning_rate: f64,
    pub power: f64,
    pub cycle: bool,
}

impl PolynomialDecay {
    /// Keras's defaults: `end_learning_rate` 1e-4, `power` 1, no cycle.
    pub fn new(initial_learning_rate: f64, decay_steps: u64) -> Self {
        PolynomialDecay {
            initial_learning_rate,
            decay_steps,
            end_learning_rate: 1e-4,
            power: 1.0,
            cycle: false,
        }
    }
}

/// Cosine decay from the initial rate (or from `warmup_target` after a linear warm-up of
/// `warmup_steps` steps toward it) to `alpha` times that rate over `decay_steps` steps:
/// `rate * ((1 - alpha) * 0.5 * (1 + cos(pi * step / decay_steps)) + alpha)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CosineDecay {
    pub initial_learning_rate: f64,
    pub decay_steps: u64,
    pub alpha: f64,
    pub warmup_target: Option<f64>,
    pub warmup_steps: u64,
}

impl CosineDecay {
    /// Keras's defaults: `alpha` 0, no warm-up.
    pub fn new(initial_learning_rate: f64, decay_steps: u64) -> Self {
        CosineDecay { initial_learning_rate, decay_steps, alpha: 0.0, warmup_target: None, warmup_steps: 0 }
    }
}

/// One of the schedules, as an optimizer's learning rate
/// ([`crate::optimizers::OptimizerOptions::learning_rate_schedule`]).
#[derive(Clone, Debug, PartialEq)]
pub enum LearningRateSchedule {
    ExponentialDecay(ExponentialDecay),
    PiecewiseConstantDecay(PiecewiseConstantDecay),
    InverseTimeDecay(InverseTimeDecay),
    PolynomialDecay(PolynomialDecay),
    CosineDecay(CosineDecay),
}

impl LearningRateSchedule {
    /// Keras's class name ("ExponentialDecay"...).
    pub fn class_name(&self) -> &'static str {
        match self {
            LearningRateSchedule::ExponentialDecay(_) => "ExponentialDecay",
            LearningRateSchedule::PiecewiseConstantDecay(_) => "PiecewiseConstantDecay",
            LearningRateSchedule::InverseTimeDecay(_) => "InverseTimeDecay",
            LearningRateSchedule::PolynomialDecay(_) => "PolynomialDecay",
            LearningRateSchedule::CosineDecay(_) => "CosineDecay",
        }
    }

    /// The learning rate after `step` optimizer steps (Keras's `schedule(step)`).
    pub fn at(&self, step: u64) -> f64 {
        let step = step as f64;
        match self {
            LearningRateSchedule::ExponentialDecay(s) => {
                let p = staircased(step / s.decay_steps as f64, s.staircase);
                s.initial_learning_rate * s.decay_rate.powf(p)
            }
            LearningRateSchedule::PiecewiseConstantDecay(s) => {
                let passed = s.boundaries.iter().filter(|&&b| step > b as f64).count();
                // `check` makes one value more than boundaries; NaN for a list it would refuse.
                s.values.get(passed).or(s.values.last()).copied().unwrap_or(f64::NAN)
            }
            LearningRateSchedule::InverseTimeDecay(s) => {
                let p = staircased(step / s.decay_steps as f64, s.staircase);
                s.initial_learning_rate / (1.0 + s.decay_rate * p)
            }
            LearningRateSchedule::PolynomialDecay(s) => {
                let mut decay_steps = s.decay_steps as f64;
                let step = if s.cycle {
                    // The step 0 keeps one period (Keras's `where(step == 0, 1, ceil(...))`).
                    decay_steps *= if step == 0.0 { 1.0 } else { (step / decay_steps).ceil() };
                    step
                } else {
                    step.min(decay_steps)
                };
                let p = step / decay_steps;
                (s.initial_learning_rate - s.end_learning_rate) * (1.0 - p).powf(s.power)
                    + s.end_learning_rate
            }
            LearningRateSchedule::CosineDecay(s) => {
                let decay_steps = s.decay_steps as f64;
                let cosine = |step: f64, from: f64| {
                    let decayed = 0.5 * (1.0 + (PI * step / decay_steps).cos());
                    from * ((1.0 - s.alpha) * decayed + s.alpha)
                };
                match s.warmup_target {
                    None => cosine(step.min(decay_steps), s.initial_learning_rate),
                    Some(target) => {
                        let warmup = s.warmup_steps as f64;
                        let step = step.min(decay_steps + warmup);
                        if step < warmup {
                            (target - s.initial_learning_rate) * (step / warmup) + s.initial_learning_rate
                        } else {
                            cosine(step - warmup, target)
                        }
                    }
                }
            }
        }
    }

    /// Rejects settings Keras rejects or that give no finite rate.
    pub fn check(&self) -> Result<()> {
        let error = |detail: String| Err(NnError::Usage(format!("{}: {detail}", self.class_name())));
        let positive_steps = |steps: u64| {
            if steps == 0 { error("decay_steps must be at least 1, got 0".into()) } else { Ok(()) }
        };
        match self {
            LearningRateSchedule::ExponentialDecay(s) => positive_steps(s.decay_steps),
            LearningRateSchedule::InverseTimeDecay(s) => positive_steps(s.decay_steps),
            LearningRateSchedule::PolynomialDecay(s) => positive_steps(s.decay_steps),
            LearningRateSchedule::CosineDecay(s) => positive_steps(s.decay_steps),
            LearningRateSchedule::PiecewiseConstantDecay(s) => {
                if s.values.len() != s.boundaries.len() + 1 {
                    return error(format!(
                        "expected one value more than boundaries, got {} boundaries and {} values",
                        s.boundaries.len(),
                        s.values.len()
                    ));
                }
                if s.boundaries.windows(2).any(|w| w[0] > w[1]) {
                    return error(format!("boundaries must not decrease, got {:?}", s.boundaries));
                }
                Ok(())
            }
        }
    }

    /// `{"class_name": "ExponentialDecay", "config": {...}}` with Keras's config fields.
    pub(crate) fn to_value(&self) -> Value {
        let config = match self {
            LearningRateSchedule::ExponentialDecay(s) => config!(
                "initial_learning_rate": s.initial_learning_rate,
                "decay_steps": s.decay_steps,
                "decay_rate": s.decay_rate,
                "staircase": s.staircase,
            ),
            LearningRateSchedule::PiecewiseConstantDecay(s) => {
                config!("boundaries": s.boundaries.clone(), "values": s.values.clone())
            }
            LearningRateSchedule::InverseTimeDecay(s) => config!(
                "initial_learning_rate": s.initial_learning_rate,
                "decay_steps": s.decay_steps,
                "decay_rate": s.decay_rate,
                "staircase": s.staircase,
            ),
            LearningRateSchedule::PolynomialDecay(s) => config!(
                "initial_learning_rate": s.initial_learning_rate,
                "decay_steps": s.decay_steps,
                "end_learning_rate": s.end_learning_rate,
                "power": s.power,
                "cycle": s.cycle,
            ),
            LearningRateSchedule::CosineDecay(s) => config!(
                "initial_learning_rate": s.initial_learning_rate,
                "decay_steps": s.decay_steps,
                "alpha": s.alpha,
                "warmup_target": s.warmup_target,
                "warmup_steps": s.warmup_steps,
            ),
        };
        class_value(self.class_name(), config)
    }

    /// The schedule [`LearningRateSchedule::to_value`] wrote; optional fields left out take
    /// Keras's defaults.
    pub(crate) fn from_value(value: &Config) -> Result<LearningRateSchedule> {
        let (class_name, config) = read_class("learning rate schedule", value)?;
        let mut fields = Fields::new(format!("learning rate schedule {class_name}"), &config);
        let schedule: LearningRateSchedule = match class_name.as_str() {
            "ExponentialDecay" | "InverseTimeDecay" => {
                let (initial, steps, rate) = (
                    fields.required("initial_learning_rate")?,
                    fields.required("decay_steps")?,
                    fields.required("decay_rate")?,
                );
                let staircase = fields.get("staircase")?.unwrap_or(false);
                if class_name == "ExponentialDecay" {
                    ExponentialDecay { staircase, ..ExponentialDecay::new(initial, steps, rate) }.into()
                } else {
                    InverseTimeDecay { staircase, ..InverseTimeDecay::new(initial, steps, rate) }.into()
                }
            }
            "PiecewiseConstantDecay" => PiecewiseConstantDecay {
                boundaries: fields.required("boundaries")?,
                values: fields.required("values")?,
            }
            .into(),
            "PolynomialDecay" => {
                let mut s = PolynomialDecay::new(
                    fields.required("initial_learning_rate")?,
                    fields.required("decay_steps")?,
                );
                fields.update("end_learning_rate", &mut s.end_learning_rate)?;
                fields.update("power", &mut s.power)?;
                fields.update("cycle", &mut s.cycle)?;
                s.into()
            }
            "CosineDecay" => {
                let mut s = CosineDecay::new(
                    fields.required("initial_learning_rate")?,
                    fields.required("decay_steps")?,
                );
                fields.update("alpha", &mut s.alpha)?;
                fields.update("warmup_target", &mut s.warmup_target)?;
                fields.update("warmup_steps", &mut s.warmup_steps)?;
                s.into()
            }
            other => {
                return Err(NnError::Config(format!(
                    "unknown learning rate schedule {other:?}; expected ExponentialDecay, PiecewiseConstantDecay, \
                     InverseTimeDecay, PolynomialDecay or CosineDecay"
                )));
            }
        };
        // Keras writes a `name` field; it names nothing here.
        let _: Option<Value> = fields.get("name")?;
        fields.finish()?;
        schedule.check().map_err(|e| NnError::Config(e.to_string()))?;
        Ok(schedule)
    }
}

/// `p`, floored when `staircase`.
fn staircased(p: f64, staircase: bool) -> f64 {
    if staircase { p.floor() } else { p }
}

macro_rules! schedule_from {
    ($($t:ident),*) => {$(
        impl From<$t> for LearningRateSchedule {
            fn from(s: $t) -> Self {
                LearningRateSchedule::$t(s)
            }
        }
    )*};
}

schedule_from!(ExponentialDecay, PiecewiseConstantDecay, InverseTimeDecay, PolynomialDecay, CosineDecay);
