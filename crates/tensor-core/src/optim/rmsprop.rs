//! Keras 3 `RMSprop` (keras/src/optimizers/rmsprop.py).

use super::{NON_NEGATIVE, Slots, apply, check_range, settings_changed};
use crate::cpu::{self, for_dtype};
use crate::gpu::kernels::optim as gpu;
use crate::{Result, Tensor};

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

    pub(super) fn slots(&self, param: &Tensor) -> Result<Slots> {
        Ok(Slots::RmsProp {
            velocity: param.zeros_like()?,
            momentum: (self.momentum > 0.0).then(|| param.zeros_like()).transpose()?,
            average_gradient: self.centered.then(|| param.zeros_like()).transpose()?,
        })
    }

    pub(super) fn update(
        &self,
        param: &Tensor,
        grad: &Tensor,
        velocity: &Tensor,
        momentum: Option<&Tensor>,
        average_gradient: Option<&Tensor>,
    ) -> Result<()> {
        if momentum.is_some() != (self.momentum > 0.0) || average_gradient.is_some() != self.centered {
            return Err(settings_changed(
                NAME,
                format!(
                    "the state was made for momentum {} and centered {}, but momentum is {} and centered {}",
                    if momentum.is_some() { "> 0" } else { "0" },
                    average_gradient.is_some(),
                    self.momentum,
                    self.centered
                ),
            ));
        }
        match (momentum, average_gradient) {
            (None, None) => apply(
                NAME,
                param,
                grad,
                [velocity],
                |p, g, [v]| for_dtype!(p.dtype(), T => cpu::optim::rmsprop::<T>(self, p.typed_mut(), g.typed(), v.typed_mut(), None, None)),
                |p, g, [v]| gpu::rmsprop(self, p, g, v, None, None),
            ),
            (Some(m), None) => apply(
                NAME,
                param,
                grad,
                [velocity, m],
                |p, g, [v, m]| {
                    for_dtype!(p.dtype(), T => cpu::optim::rmsprop::<T>(
                        self, p.typed_mut(), g.typed(), v.typed_mut(), Some(m.typed_mut()), None
                    ))
                },
                |p, g, [v, m]| gpu::rmsprop(self, p, g, v, Some(m), None),
            ),
            (None, Some(a)) => apply(
                NAME,
                param,
                grad,
                [velocity, a],
                |p, g, [v, a]| {
                    for_dtype!(p.dtype(), T => cpu::optim::rmsprop::<T>(
                        self, p.typed_mut(), g.typed(), v.typed_mut(), None, Some(a.typed_mut())
                    ))
                },
                |p, g, [v, a]| gpu::rmsprop(self, p, g, v, None, Some(a)),
            ),
            (Some(m), Some(a)) => apply(
                NAME,
                param,
                grad,
                [velocity, m, a],
                |p, g, [v, m, a]| {
                    for_dtype!(p.dtype(), T => cpu::optim::rmsprop::<T>(
                        self, p.typed_mut(), g.typed(), v.typed_mut(), Some(m.typed_mut()), Some(a.typed_mut())
                    ))
                },
                |p, g, [v, m, a]| gpu::rmsprop(self, p, g, v, Some(m), Some(a)),
            ),
        }
    }
}
