//! Keras 3 `Adagrad` (keras/src/optimizers/adagrad.py).

use super::{NON_NEGATIVE, check_range};
use crate::Result;
use crate::backend::UpdateRule;

pub(super) const NAME: &str = "adagrad";

/// Adagrad. Keras's defaults: learning rate 1e-3, initial accumulator 0.1, epsilon 1e-7.
///
/// `acc += g^2`, `w -= lr * g / sqrt(acc + eps)` (epsilon inside the root).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Adagrad {
    pub learning_rate: f64,
    /// Where every accumulator starts; not negative.
    pub initial_accumulator_value: f64,
    pub epsilon: f64,
}

impl Default for Adagrad {
    fn default() -> Self {
        Adagrad { learning_rate: 1e-3, initial_accumulator_value: 0.1, epsilon: 1e-7 }
    }
}

impl Adagrad {
    pub(super) fn check(&self) -> Result<()> {
        check_range(NAME, "learning_rate", self.learning_rate, NON_NEGATIVE)?;
        check_range(NAME, "initial_accumulator_value", self.initial_accumulator_value, NON_NEGATIVE)?;
        check_range(NAME, "epsilon", self.epsilon, NON_NEGATIVE)
    }

    pub(super) fn rule(&self) -> UpdateRule {
        UpdateRule::Adagrad { learning_rate: self.learning_rate, epsilon: self.epsilon }
    }
}
