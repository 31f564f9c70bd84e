//! ReduceLROnPlateau: a smaller learning rate when a monitored value stops improving.

use super::{Callback, CallbackContext, Mode};
use crate::{Logs, NnError, Result};

/// Keras's `ReduceLROnPlateau`: after `patience` epochs in which the monitored value did not
/// beat its best by more than `min_delta`, the learning rate is multiplied by `factor` (never
/// below `min_lr`), then `cooldown` epochs pass before counting resumes. The learning rate in
/// force is logged each epoch as "learning_rate", as Keras does.
pub struct ReduceLROnPlateau {
    monitor: String,
    factor: f64,
    patience: usize,
    mode: Mode,
    min_delta: f64,
    cooldown: usize,
    min_lr: f64,
    verbose: bool,
    higher_is_better: bool,
    best: Option<f64>,
    wait: usize,
    cooldown_left: usize,
}

impl Default for ReduceLROnPlateau {
    fn default() -> Self {
        ReduceLROnPlateau {
            monitor: "val_loss".into(),
            factor: 0.1,
            patience: 10,
            mode: Mode::Auto,
            min_delta: 1e-4,
            cooldown: 0,
            min_lr: 0.0,
            verbose: false,
            higher_is_better: false,
            best: None,
            wait: 0,
            cooldown_left: 0,
        }
    }
}

impl ReduceLROnPlateau {
    /// Keras's defaults: monitor "val_loss", factor 0.1, patience 10, min_delta 1e-4, cooldown
    /// 0, min_lr 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// The logged value to watch ("val_loss", "accuracy", ...).
    pub fn monitor(mut self, monitor: impl Into<String>) -> Self {
        self.monitor = monitor.into();
        self
    }

    /// What the learning rate is multiplied by, in (0, 1).
    pub fn factor(mut self, factor: f64) -> Self {
        self.factor = factor;
        self
    }

    /// Epochs without improvement before the rate is reduced.
    pub fn patience(mut self, patience: usize) -> Self {
        self.patience = patience;
        self
    }

    /// Whether lower or higher values are better (auto: from the monitored name).
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// The least change that counts as an improvement (its sign is ignored).
    pub fn min_delta(mut self, min_delta: f64) -> Self {
        self.min_delta = min_delta.abs();
        self
    }

    /// Epochs after a reduction during which no epoch counts towards `patience`.
    pub fn cooldown(mut self, cooldown: usize) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// The rate is never reduced below this.
    pub fn min_lr(mut self, min_lr: f64) -> Self {
        self.min_lr = min_lr;
        self
    }

    /// Whether to print each reduction.
    pub fn verbose(mut self, verbose: bool) -> Self {
        self.verbose = verbose;
        self
    }

    fn is_improvement(&self, value: f64) -> bool {
        match self.best {
            None => true,
            Some(best) if self.higher_is_better => value > best + self.min_delta,
            Some(best) => value < best - self.min_delta,
        }
    }
}

impl Callback for ReduceLROnPlateau {
    fn on_train_begin(&mut self, ctx: &mut CallbackContext<'_>) -> Result<()> {
        if !(self.factor > 0.0 && self.factor < 1.0) {
            return Err(NnError::Usage(format!(
                "ReduceLROnPlateau: factor must be in (0, 1) to reduce the rate, got {}",
                self.factor
            )));
        }
        if self.min_lr.is_nan() || self.min_lr < 0.0 {
            return Err(NnError::Usage(format!(
                "ReduceLROnPlateau: min_lr must be at least 0, got {}",
                self.min_lr
            )));
        }
        self.higher_is_better =
            self.mode.higher_is_better(&self.monitor, ctx.model(), "ReduceLROnPlateau")?;
        self.best = None;
        self.wait = 0;
        self.cooldown_left = 0;
        Ok(())
    }

    fn on_epoch_end(&mut self, epoch: usize, logs: &mut Logs, ctx: &mut CallbackContext<'_>) -> Result<()> {
        let rate = ctx.learning_rate()?;
        logs.insert("learning_rate".into(), rate);
        let Some(current) = super::monitored(logs, &self.monitor, "Learning rate reduction is", ctx) else {
            return Ok(());
        };
        if self.cooldown_left > 0 {
            self.cooldown_left -= 1;
            self.wait = 0;
        }
        if self.is_improvement(current) {
            self.best = Some(current);
            self.wait = 0;
            return Ok(());
        }
        if self.cooldown_left > 0 {
            return Ok(());
        }
        self.wait += 1;
        if self.wait >= self.patience && rate > self.min_lr {
            let reduced = (rate * self.factor).max(self.min_lr);
            ctx.set_learning_rate(reduced)?;
            if self.verbose {
                ctx.print(format!(
                    "Epoch {}: ReduceLROnPlateau reducing learning rate to {reduced}.",
                    epoch + 1
                ));
            }
            self.cooldown_left = self.cooldown;
            self.wait = 0;
        }
        Ok(())
    }
}
