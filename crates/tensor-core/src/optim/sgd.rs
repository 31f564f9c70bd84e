//! Keras 3 `SGD` (keras/src/optimizers/sgd.py): plain, with momentum, or with Nesterov momentum.

use super::{NON_NEGATIVE, check_range};
use crate::Result;
use crate::backend::UpdateRule;

pub(super) const NAME: &str = "sgd";

/// Stochastic gradient descent. Keras's defaults: learning rate 0.01, momentum 0, no Nesterov.
///
/// `w -= lr * g`; with momentum `m = momentum * m - lr * g` then `w += m`, or with Nesterov
/// `w += momentum * m - lr * g`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sgd {
    pub learning_rate: f64,
    /// In [0, 1]; 0 is plain gradient descent and keeps no state.
    pub momentum: f64,
    pub nesterov: bool,
}

impl Default for Sgd {
    fn default() -> Self {
        Sgd { learning_rate: 0.01, momentum: 0.0, nesterov: false }
    }
}

impl Sgd {
    pub(super) fn check(&self) -> Result<()> {
        check_range(NAME, "learning_rate", self.learning_rate, NON_NEGATIVE)?;
        check_range(NAME, "momentum", self.momentum, 0.0..=1.0)
    }

    pub(super) fn rule(&self) -> UpdateRule {
        UpdateRule::Sgd {
            learning_rate: self.learning_rate,
            momentum: self.momentum,
            nesterov: self.nesterov,
        }
    }
}
