//! Keras 3 `RMSprop` (keras/src/optimizers/rmsprop.py).

use super::{NON_NEGATIVE, check_range};
use crate::Result;
use crate::backend::UpdateRule;

pub(super) const NAME: &str = "rmsprop";

/// RMSprop. Keras's defaults: learning rate 1e-3, rho 0.9, momentum 0, epsilon 1e-7, not
/// centered.
///
/// `v = rho * v + (1 - rho) * g^2`; centered, also `a = rho * a + (1 - rho) * g`;
/// `increment = lr * g / sqrt(v - a^2 + eps)` (centered) or `lr * g / sqrt(v + eps)` (epsilon
/// inside the root); with momentum `m = momentum * m + increment` and `w -= m`, else
/// `w -= increment`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RmsProp {
    pub learning_rate: f64,
    /// Decay of the running average of squared gradients, in [0, 1].
    pub rho: f64,
    /// In [0, 1]; 0 keeps no momentum slot.
    pub momentum: f64,
    pub epsilon: f64,
    /// Whether to divide by an estimate of the gradient's variance rather than its second moment.
    pub centered: bool,
}

impl Default for RmsProp {
    fn default() -> Self {
        RmsProp { learning_rate: 1e-3, rho: 0.9, momentum: 0.0, epsilon: 1e-7, centered: false }
    }
}

impl RmsProp {
    pub(super) fn check(&self) -> Result<()> {
        check_range(NAME, "learning_rate", self.learning_rate, NON_NEGATIVE)?;
        check_range(NAME, "rho", self.rho, 0.0..=1.0)?;
        check_range(NAME, "momentum", self.momentum, 0.0..=1.0)?;
        check_range(NAME, "epsilon", self.epsilon, NON_NEGATIVE)
    }

    pub(super) fn rule(&self) -> UpdateRule {
        UpdateRule::RmsProp {
            learning_rate: self.learning_rate,
            rho: self.rho,
            momentum: self.momentum,
            centered: self.centered,
            epsilon: self.epsilon,
        }
    }
}
