//! Keras 3 `SGD` (keras/src/optimizers/sgd.py): plain, with momentum, or with Nesterov momentum.

use super::{NON_NEGATIVE, Slots, apply, check_range, settings_changed};
use crate::cpu::{self, for_dtype};
use crate::gpu::kernels::optim as gpu;
use crate::{Result, Tensor};

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

    pub(super) fn slots(&self, param: &Tensor) -> Result<Slots> {
        let momentum = (self.momentum != 0.0).then(|| param.zeros_like()).transpose()?;
        Ok(Slots::Sgd { momentum })
    }

    pub(super) fn update(&self, param: &Tensor, grad: &Tensor, momentum: Option<&Tensor>) -> Result<()> {
        match (momentum, self.momentum != 0.0) {
            (None, false) => apply(
                NAME,
                param,
                grad,
                [],
                |p, g, []| for_dtype!(p.dtype(), T => cpu::optim::sgd::<T>(self, p.typed_mut(), g.typed())),
                |p, g, []| gpu::sgd(self, p, g),
            ),
            (Some(momentum), true) => apply(
                NAME,
                param,
                grad,
                [momentum],
                |p, g, [m]| for_dtype!(p.dtype(), T => cpu::optim::sgd_momentum::<T>(self, p.typed_mut(), g.typed(), m.typed_mut())),
                |p, g, [m]| gpu::sgd_momentum(self, p, g, m),
            ),
            (slot, _) => Err(settings_changed(
                NAME,
                format!(
                    "the state has {} momentum slot but momentum is {}",
                    if slot.is_some() { "a" } else { "no" },
                    self.momentum
                ),
            )),
        }
    }
}
