//! Keras 3 `Adam` (keras/src/optimizers/adam.py), with its `amsgrad` variant.

use super::{NON_NEGATIVE, check_range};
use crate::Result;
use crate::backend::{AdamStep, UpdateRule};

pub(super) const NAME: &str = "adam";

/// Adam. Keras's defaults: learning rate 1e-3, beta_1 0.9, beta_2 0.999, epsilon 1e-7.
///
/// At step `t`: `alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)`, `m += (g - m) * (1 - beta_1)`,
/// `v += (g^2 - v) * (1 - beta_2)`, `w -= m * alpha / (sqrt(v) + eps)` (epsilon outside the root,
/// Keras's "epsilon hat"). With `amsgrad` the denominator takes the largest `v` so far instead,
/// kept in a third slot, "velocity_hat": `v_hat = max(v_hat, v)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Adam {
    pub learning_rate: f64,
    /// Decay of the first moment, in [0, 1).
    pub beta_1: f64,
    /// Decay of the second moment, in [0, 1).
    pub beta_2: f64,
    pub epsilon: f64,
    /// Keras's AMSGrad variant (Reddi et al., 2018); off by default.
    pub amsgrad: bool,
}

impl Default for Adam {
    fn default() -> Self {
        Adam { learning_rate: 1e-3, beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7, amsgrad: false }
    }
}

impl Adam {
    pub(super) fn check(&self) -> Result<()> {
        check_range(NAME, "learning_rate", self.learning_rate, NON_NEGATIVE)?;
        check_range(NAME, "beta_1", self.beta_1, 0.0..1.0)?;
        check_range(NAME, "beta_2", self.beta_2, 0.0..1.0)?;
        check_range(NAME, "epsilon", self.epsilon, NON_NEGATIVE)
    }

    /// The step's scalars at step `t` (from 1).
    pub(super) fn rule(&self, t: u64) -> UpdateRule {
        let t = t as f64;
        UpdateRule::Adam(AdamStep {
            alpha: self.learning_rate * (1.0 - self.beta_2.powf(t)).sqrt() / (1.0 - self.beta_1.powf(t)),
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            epsilon: self.epsilon,
            amsgrad: self.amsgrad,
        })
    }
}
