//! Keras 3 `Nadam` (keras/src/optimizers/nadam.py): Adam with Nesterov momentum and Dozat's
//! momentum schedule.

use super::{NON_NEGATIVE, check_range};
use crate::Result;
use crate::backend::{NadamStep, UpdateRule};

pub(super) const NAME: &str = "nadam";

/// Nadam. Keras's defaults: learning rate 1e-3, beta_1 0.9, beta_2 0.999, epsilon 1e-7.
///
/// At step `t`, with `u_t = beta_1 * (1 - 0.5 * 0.96^t)` and `u_product_t = u_1 * ... * u_t`:
/// the moments as in Adam, `m_hat = u_{t+1} * m / (1 - u_product_t * u_{t+1})
/// + (1 - u_t) * g / (1 - u_product_t)`, `v_hat = v / (1 - beta_2^t)`,
/// `w -= m_hat * lr / (sqrt(v_hat) + eps)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Nadam {
    pub learning_rate: f64,
    /// Decay of the first moment, in [0, 1).
    pub beta_1: f64,
    /// Decay of the second moment, in [0, 1).
    pub beta_2: f64,
    pub epsilon: f64,
}

impl Default for Nadam {
    fn default() -> Self {
        Nadam { learning_rate: 1e-3, beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7 }
    }
}

/// Keras's momentum schedule at step `t`.
fn schedule(beta_1: f64, t: u64) -> f64 {
    beta_1 * (1.0 - 0.5 * 0.96f64.powf(t as f64))
}

/// The running product `u_1 * ... * u_t` of the momentum schedule, with the step `t` it has
/// reached, so each training step multiplies in one factor. Keras keeps one per optimizer; one
/// per parameter gives the same values and lets a state resume at any step.
#[derive(Clone, Copy, Debug)]
pub(super) struct UProduct {
    step: u64,
    value: f64,
}

impl UProduct {
    pub(super) const START: UProduct = UProduct { step: 0, value: 1.0 };

    /// The product up to step `t`, restarting from step 0 when `t` is behind it.
    pub(super) fn at(&mut self, beta_1: f64, t: u64) -> f64 {
        if t < self.step {
            *self = UProduct::START;
        }
        // Once the product underflows to zero it stays there; no need to walk on.
        while self.step < t && self.value != 0.0 {
            self.step += 1;
            self.value *= schedule(beta_1, self.step);
        }
        self.step = t;
        self.value
    }
}

impl Nadam {
    pub(super) fn check(&self) -> Result<()> {
        check_range(NAME, "learning_rate", self.learning_rate, NON_NEGATIVE)?;
        check_range(NAME, "beta_1", self.beta_1, 0.0..1.0)?;
        check_range(NAME, "beta_2", self.beta_2, 0.0..1.0)?;
        check_range(NAME, "epsilon", self.epsilon, NON_NEGATIVE)
    }

    /// The step's scalars at step `t` (from 1), given the schedule's product up to `t`.
    pub(super) fn rule(&self, t: u64, u_product: f64) -> UpdateRule {
        let u_next = schedule(self.beta_1, t.saturating_add(1));
        UpdateRule::Nadam(NadamStep {
            learning_rate: self.learning_rate,
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            epsilon: self.epsilon,
            u: schedule(self.beta_1, t),
            u_next,
            u_product,
            u_product_next: u_product * u_next,
            beta_2_power: self.beta_2.powf(t as f64),
        })
    }
}
