//! Keras 3 `Adadelta` (keras/src/optimizers/adadelta.py).

use super::{NON_NEGATIVE, check_range};
use crate::Result;
use crate::backend::UpdateRule;

pub(super) const NAME: &str = "adadelta";

/// Adadelta. Keras's defaults: learning rate 1e-3, rho 0.95, epsilon 1e-7.
///
/// With `rms(x) = sqrt(x + eps)`: `acc_g = rho * acc_g + (1 - rho) * g^2`,
/// `delta = -rms(acc_delta) * g / rms(acc_g)`, `acc_delta = rho * acc_delta + (1 - rho) * delta^2`,
/// `w += lr * delta`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Adadelta {
    pub learning_rate: f64,
    /// Decay rate of both running averages, in [0, 1].
    pub rho: f64,
    pub epsilon: f64,
}

impl Default for Adadelta {
    fn default() -> Self {
        Adadelta { learning_rate: 1e-3, rho: 0.95, epsilon: 1e-7 }
    }
}

impl Adadelta {
    pub(super) fn check(&self) -> Result<()> {
        check_range(NAME, "learning_rate", self.learning_rate, NON_NEGATIVE)?;
        check_range(NAME, "rho", self.rho, 0.0..=1.0)?;
        check_range(NAME, "epsilon", self.epsilon, NON_NEGATIVE)
    }

    pub(super) fn rule(&self) -> UpdateRule {
        UpdateRule::Adadelta { learning_rate: self.learning_rate, rho: self.rho, epsilon: self.epsilon }
    }
}
