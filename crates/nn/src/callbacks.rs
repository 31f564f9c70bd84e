//! Callbacks: code that `fit` runs at the start and end of training, of each epoch and after each
//! batch. They can stop training, change the learning rate and read or restore the weights.
//!
//! Pass them to `fit` by mutable reference, so they can be read afterwards:
//!
//! ```ignore
//! let mut stop = EarlyStopping::new().patience(3).restore_best_weights(true);
//! let history = model.fit(&x, &y, FitOptions::default().epochs(100).callback(&mut stop))?;
//! println!("stopped after epoch {:?}", stop.stopped_epoch());
//! ```

mod csv_logger;
mod reduce_lr_on_plateau;

use std::path::Path;

use tensor_core::Tensor;

pub use csv_logger::CSVLogger;
pub use reduce_lr_on_plateau::ReduceLROnPlateau;

use crate::metrics::Tracker;
use crate::progress::scientific;
use crate::{Logs, Model, NnError, Result};

/// Hooks into `fit`. Every method does nothing unless overridden; epochs and batches count from
/// 0, as in Keras.
pub trait Callback {
    /// Before the first epoch.
    fn on_train_begin(&mut self, _ctx: &mut CallbackContext<'_>) -> Result<()> {
        Ok(())
    }

    /// After the last epoch, however training ended.
    fn on_train_end(&mut self, _ctx: &mut CallbackContext<'_>) -> Result<()> {
        Ok(())
    }

    /// Before epoch `epoch`'s first batch.
    fn on_epoch_begin(&mut self, _epoch: usize, _ctx: &mut CallbackContext<'_>) -> Result<()> {
        Ok(())
    }

    /// `logs` holds the epoch's training and validation values; a callback may add its own,
    /// which the history then records.
    fn on_epoch_end(
        &mut self,
        _epoch: usize,
        _logs: &mut Logs,
        _ctx: &mut CallbackContext<'_>,
    ) -> Result<()> {
        Ok(())
    }

    /// After each training batch. The running values of the epoch are read from the device only
    /// if the callback asks ([`BatchLogs::read`]).
    fn on_train_batch_end(
        &mut self,
        _batch: usize,
        _logs: &BatchLogs<'_>,
        _ctx: &mut CallbackContext<'_>,
    ) -> Result<()> {
        Ok(())
    }
}

/// What a callback can act on: the model, the stop flag and the output.
pub struct CallbackContext<'a> {
    model: &'a mut Model,
    stop_training: bool,
    messages: Vec<String>,
}

impl<'a> CallbackContext<'a> {
    pub(crate) fn new(model: &'a mut Model) -> CallbackContext<'a> {
        CallbackContext { model, stop_training: false, messages: Vec::new() }
    }

    /// Whether a callback asked to stop, and the messages callbacks printed.
    pub(crate) fn into_outcome(self) -> (bool, Vec<String>) {
        (self.stop_training, self.messages)
    }

    /// The model being trained.
    pub fn model(&self) -> &Model {
        self.model
    }

    /// The model being trained, to change (its weights, its layers' trainability).
    pub fn model_mut(&mut self) -> &mut Model {
        self.model
    }

    /// Ends training after the current batch (Keras's `model.stop_training = True`); the epoch
    /// still ends, with validation and `on_epoch_end`.
    pub fn stop_training(&mut self) {
        self.stop_training = true;
    }

    /// The learning rate of the next step.
    pub fn learning_rate(&self) -> Result<f64> {
        self.model.learning_rate()
    }

    /// Sets the learning rate of the following steps.
    pub fn set_learning_rate(&mut self, learning_rate: f64) -> Result<()> {
        self.model.set_learning_rate(learning_rate)
    }

    /// Prints a line where `fit` prints its progress (above a live bar).
    pub fn print(&mut self, message: impl Into<String>) {
        self.messages.push(message.into());
    }
}

/// The running values of the current epoch, read from the device on request.
pub struct BatchLogs<'a> {
    tracker: &'a Tracker,
}

impl<'a> BatchLogs<'a> {
    pub(crate) fn new(tracker: &'a Tracker) -> BatchLogs<'a> {
        BatchLogs { tracker }
    }

    /// The epoch's loss and metrics so far (one read from the device).
    pub fn read(&self) -> Result<Logs> {
        self.tracker.read("")
    }
}

/// The logged value `monitor`, or `None` after printing, as Keras warns, that `what` (a
/// callback's action) is conditioned on a value the logs do not have, and which they have.
fn monitored(logs: &Logs, monitor: &str, what: &str, ctx: &mut CallbackContext<'_>) -> Option<f64> {
    let value = logs.get(monitor).copied();
    if value.is_none() {
        let available: Vec<&str> = logs.keys().map(String::as_str).collect();
        ctx.print(format!(
            "{what} conditioned on metric `{monitor}` which is not available. Available metrics are: {}",
            available.join(",")
        ));
    }
    value
}

/// Whether lower or higher values of a monitored quantity are better.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    /// Lower for losses, higher for the compiled metrics (accuracy, precision, ...).
    #[default]
    Auto,
    /// Lower is better.
    Min,
    /// Higher is better.
    Max,
}

impl Mode {
    /// Whether higher is better for `monitor` in `model`, or an error when auto cannot tell.
    fn higher_is_better(self, monitor: &str, model: &Model, callback: &str) -> Result<bool> {
        match self {
            Mode::Min => Ok(false),
            Mode::Max => Ok(true),
            Mode::Auto => {
                let name = monitor.strip_prefix("val_").unwrap_or(monitor);
                if name == "loss" {
                    Ok(false)
                } else if model.metrics_names().iter().any(|m| m == name) {
                    // Every compiled metric (accuracy, precision, recall, F1) goes up.
                    Ok(true)
                } else {
                    Err(NnError::Usage(format!(
                        "{callback}: cannot tell whether {monitor:?} should go up or down (the compiled logs are {}, \
                         with val_ variants); set the mode to Min or Max",
                        model.metrics_names().join(", ")
                    )))
                }
            }
        }
    }
}

/// Stops training when a monitored value stops improving (Keras's `EarlyStopping`).
///
/// After each epoch from `start_from_epoch` on, the value is an improvement when it beats the
/// best so far by more than `min_delta`; after `patience` epochs without one (and never at the
/// first epoch), training stops. With `restore_best_weights`, the weights of the best epoch are
/// put back when training ends, however it ends.
pub struct EarlyStopping {
    monitor: String,
    min_delta: f64,
    patience: usize,
    mode: Mode,
    baseline: Option<f64>,
    restore_best_weights: bool,
    start_from_epoch: usize,
    verbose: bool,
    higher_is_better: bool,
    wait: usize,
    best: Option<f64>,
    best_epoch: Option<usize>,
    best_weights: Option<Vec<Tensor>>,
    stopped_epoch: Option<usize>,
}

impl Default for EarlyStopping {
    fn default() -> Self {
        EarlyStopping {
            monitor: "val_loss".into(),
            min_delta: 0.0,
            patience: 0,
            mode: Mode::Auto,
            baseline: None,
            restore_best_weights: false,
            start_from_epoch: 0,
            verbose: false,
            higher_is_better: false,
            wait: 0,
            best: None,
            best_epoch: None,
            best_weights: None,
            stopped_epoch: None,
        }
    }
}

impl EarlyStopping {
    /// Keras's defaults: monitor "val_loss", min_delta 0, patience 0, mode auto.
    pub fn new() -> Self {
        Self::default()
    }

    /// The logged value to watch ("val_loss", "accuracy", ...).
    pub fn monitor(mut self, monitor: impl Into<String>) -> Self {
        self.monitor = monitor.into();
        self
    }

    /// The least change that counts as an improvement (its sign is ignored).
    pub fn min_delta(mut self, min_delta: f64) -> Self {
        self.min_delta = min_delta.abs();
        self
    }

    /// Epochs without improvement after which training stops.
    pub fn patience(mut self, patience: usize) -> Self {
        self.patience = patience;
        self
    }

    /// Whether lower or higher values are better (auto: from the monitored name).
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// A value the monitored one must beat: until it does, epochs count towards `patience`.
    pub fn baseline(mut self, baseline: f64) -> Self {
        self.baseline = Some(baseline);
        self
    }

    /// Whether to restore the weights of the best epoch when training ends.
    pub fn restore_best_weights(mut self, restore: bool) -> Self {
        self.restore_best_weights = restore;
        self
    }

    /// Epochs to wait before watching at all (a warm-up).
    pub fn start_from_epoch(mut self, epoch: usize) -> Self {
        self.start_from_epoch = epoch;
        self
    }

    /// Whether to print when it stops and when it restores weights.
    pub fn verbose(mut self, verbose: bool) -> Self {
        self.verbose = verbose;
        self
    }

    /// The epoch (0-based) at which it stopped training, if it did.
    pub fn stopped_epoch(&self) -> Option<usize> {
        self.stopped_epoch
    }

    /// The epoch (0-based) with the best monitored value, if any was seen.
    pub fn best_epoch(&self) -> Option<usize> {
        self.best_epoch
    }

    /// The best monitored value seen.
    pub fn best(&self) -> Option<f64> {
        self.best
    }

    /// Whether `value` beats `reference` by more than `min_delta`.
    fn is_improvement(&self, value: f64, reference: Option<f64>) -> bool {
        match reference {
            None => true,
            Some(r) if self.higher_is_better => value - self.min_delta > r,
            Some(r) => value + self.min_delta < r,
        }
    }
}

impl Callback for EarlyStopping {
    fn on_train_begin(&mut self, ctx: &mut CallbackContext<'_>) -> Result<()> {
        self.higher_is_better = self.mode.higher_is_better(&self.monitor, ctx.model(), "EarlyStopping")?;
        self.wait = 0;
        self.best = None;
        self.best_epoch = None;
        self.best_weights = None;
        self.stopped_epoch = None;
        Ok(())
    }

    fn on_epoch_end(&mut self, epoch: usize, logs: &mut Logs, ctx: &mut CallbackContext<'_>) -> Result<()> {
        let Some(current) = monitored(logs, &self.monitor, "Early stopping", ctx) else {
            return Ok(());
        };
        if epoch < self.start_from_epoch {
            return Ok(());
        }
        if self.restore_best_weights && self.best_weights.is_none() {
            self.best_weights = Some(snapshot(ctx.model())?);
        }
        self.wait += 1;
        if self.is_improvement(current, self.best) {
            self.best = Some(current);
            self.best_epoch = Some(epoch);
            if self.restore_best_weights {
                self.best_weights = Some(snapshot(ctx.model())?);
            }
            if self.baseline.is_none() || self.is_improvement(current, self.baseline) {
                self.wait = 0;
            }
            return Ok(());
        }
        if self.wait >= self.patience && epoch > 0 {
            self.stopped_epoch = Some(epoch);
            ctx.stop_training();
        }
        Ok(())
    }

    fn on_train_end(&mut self, ctx: &mut CallbackContext<'_>) -> Result<()> {
        if let (Some(epoch), true) = (self.stopped_epoch, self.verbose) {
            ctx.print(format!("Epoch {}: early stopping", epoch + 1));
        }
        if let (true, Some(weights)) = (self.restore_best_weights, &self.best_weights) {
            if self.verbose {
                let best = self.best_epoch.map_or(0, |e| e + 1);
                ctx.print(format!("Restoring model weights from the end of the best epoch: {best}."));
            }
            restore(ctx.model(), weights)?;
        }
        Ok(())
    }
}

/// A copy, on the device, of every weight of `model` (trainable or not), in its order.
fn snapshot(model: &Model) -> Result<Vec<Tensor>> {
    model
        .weights()
        .into_iter()
        .map(|w| {
            let copy = w.value().zeros_like()?;
            copy.assign(w.value())?;
            Ok(copy)
        })
        .collect()
}

/// Puts back the values `snapshot` took.
fn restore(model: &Model, values: &[Tensor]) -> Result<()> {
    let weights = model.weights();
    if weights.len() != values.len() {
        return Err(NnError::Usage(format!(
            "cannot restore {} saved weights into a model that now has {}",
            values.len(),
            weights.len()
        )));
    }
    weights.iter().zip(values).try_for_each(|(w, v)| w.assign(v))
}

/// Saves the model after every epoch, or only when a monitored value improves (Keras's
/// `ModelCheckpoint`).
///
/// The file name may hold Keras's placeholders: `{epoch}` (1-based) and any logged value, with
/// Python's `d`/`f`/`e` formats, e.g. `"ckpt-{epoch:02d}-{val_loss:.2f}.safetensors"`. The saving
/// itself is the `saver` given: a function of the model and the resolved path. The two Keras
/// offers are ready-made: [`ModelCheckpoint::whole_model`], a checkpoint to resume training from,
/// and [`ModelCheckpoint::weights_only`].
///
/// ```ignore
/// let mut checkpoint = ModelCheckpoint::whole_model("ckpt-{epoch:02d}.safetensors");
/// model.fit(&x, &y, FitOptions::default().epochs(5).callback(&mut checkpoint))?;
/// // Later, or after a crash: resume from the third epoch's checkpoint.
/// let mut model = nn::io::load_model("ckpt-03.safetensors")?;
/// model.fit(&x, &y, FitOptions::default().initial_epoch(3).epochs(5))?;
/// ```
pub struct ModelCheckpoint<F: FnMut(&Model, &Path) -> Result<()>> {
    filepath: String,
    saver: F,
    monitor: String,
    save_best_only: bool,
    mode: Mode,
    verbose: bool,
    higher_is_better: bool,
    best: Option<f64>,
}

/// How [`ModelCheckpoint::whole_model`] and [`ModelCheckpoint::weights_only`] save.
pub type Saver = fn(&Model, &Path) -> Result<()>;

impl ModelCheckpoint<Saver> {
    /// Saves the whole model with [`crate::io::save_model`] (Keras's default,
    /// `save_weights_only=False`): architecture, weights and optimizer state, so that
    /// [`crate::io::load_model`] and `initial_epoch` resume training from it.
    pub fn whole_model(filepath: impl Into<String>) -> Self {
        ModelCheckpoint::new(filepath, |model, path| crate::io::save_model(model, path))
    }

    /// Saves only the weights with [`crate::io::save_weights`] (Keras's `save_weights_only=True`).
    pub fn weights_only(filepath: impl Into<String>) -> Self {
        ModelCheckpoint::new(filepath, |model, path| crate::io::save_weights(model, path))
    }
}

impl<F: FnMut(&Model, &Path) -> Result<()>> ModelCheckpoint<F> {
    /// Saves to `filepath` with `saver` after every epoch (Keras's defaults: monitor "val_loss",
    /// not only the best, mode auto).
    pub fn new(filepath: impl Into<String>, saver: F) -> Self {
        ModelCheckpoint {
            filepath: filepath.into(),
            saver,
            monitor: "val_loss".into(),
            save_best_only: false,
            mode: Mode::Auto,
            verbose: false,
            higher_is_better: false,
            best: None,
        }
    }

    /// The logged value that decides what is best.
    pub fn monitor(mut self, monitor: impl Into<String>) -> Self {
        self.monitor = monitor.into();
        self
    }

    /// Saves only when the monitored value beats the best so far.
    pub fn save_best_only(mut self, save_best_only: bool) -> Self {
        self.save_best_only = save_best_only;
        self
    }

    /// Whether lower or higher values are better (auto: from the monitored name).
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Whether to print each save (and each epoch that did not improve).
    pub fn verbose(mut self, verbose: bool) -> Self {
        self.verbose = verbose;
        self
    }

    /// With `save_best_only`, the value the first save must beat (Keras's
    /// `initial_value_threshold`): the best of the run being resumed, so that resuming does not
    /// overwrite a better checkpoint with a worse one.
    pub fn initial_value_threshold(mut self, value: f64) -> Self {
        self.best = Some(value);
        self
    }

    /// The best monitored value seen.
    pub fn best(&self) -> Option<f64> {
        self.best
    }
}

impl<F: FnMut(&Model, &Path) -> Result<()>> Callback for ModelCheckpoint<F> {
    fn on_train_begin(&mut self, ctx: &mut CallbackContext<'_>) -> Result<()> {
        if self.save_best_only {
            self.higher_is_better =
                self.mode.higher_is_better(&self.monitor, ctx.model(), "ModelCheckpoint")?;
        }
        Ok(())
    }

    fn on_epoch_end(&mut self, epoch: usize, logs: &mut Logs, ctx: &mut CallbackContext<'_>) -> Result<()> {
        let path = format_filepath(&self.filepath, epoch + 1, logs)?;
        if self.save_best_only {
            let Some(&current) = logs.get(&self.monitor) else {
                ctx.print(format!("Can save best model only with {} available, skipping.", self.monitor));
                return Ok(());
            };
            let shown =
                self.best.unwrap_or(if self.higher_is_better { f64::NEG_INFINITY } else { f64::INFINITY });
            let improved = match self.best {
                None => !current.is_nan(),
                Some(best) if self.higher_is_better => current > best,
                Some(best) => current < best,
            };
            if !improved {
                if self.verbose {
                    ctx.print(format!(
                        "Epoch {}: {} did not improve from {shown:.5}",
                        epoch + 1,
                        self.monitor
                    ));
                }
                return Ok(());
            }
            if self.verbose {
                ctx.print(format!(
                    "Epoch {}: {} improved from {shown:.5} to {current:.5}, saving model to {path}",
                    epoch + 1,
                    self.monitor
                ));
            }
            self.best = Some(current);
        } else if self.verbose {
            ctx.print(format!("Epoch {}: saving model to {path}", epoch + 1));
        }
        (self.saver)(ctx.model(), Path::new(&path))
    }
}

/// Fills Keras's `{name}` / `{name:spec}` placeholders of a checkpoint path: `epoch` (1-based) or
/// a logged value; specs `[0][width]d`, `[width][.precision]f` and `.precisione`; `{{` and `}}`
/// are literal braces.
fn format_filepath(template: &str, epoch: usize, logs: &Logs) -> Result<String> {
    let bad = |detail: String| NnError::Usage(format!("ModelCheckpoint file path {template:?}: {detail}"));
    let mut out = String::new();
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let (brace, after) = (&rest[i..i + 1], &rest[i + 1..]);
        if after.starts_with(brace) {
            out.push_str(brace);
            rest = &after[1..];
            continue;
        }
        if brace == "}" {
            return Err(bad("a '}' closes no placeholder (write '}}' for a literal one)".into()));
        }
        let end = after.find('}').ok_or_else(|| bad("a placeholder is not closed".into()))?;
        let (name, spec) = after[..end].split_once(':').unwrap_or((&after[..end], ""));
        let value = match name {
            "epoch" => epoch as f64,
            _ => *logs.get(name).ok_or_else(|| {
                let known: Vec<&str> = logs.keys().map(String::as_str).collect();
                bad(format!("{{{name}}} is neither epoch nor a logged value ({})", known.join(", ")))
            })?,
        };
        out.push_str(
            &format_value(value, name == "epoch", spec)
                .ok_or_else(|| bad(format!("unsupported format {spec:?}")))?,
        );
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// One value in a Python format spec (see [`format_filepath`]); `None` for a spec it does not know.
fn format_value(value: f64, integer: bool, spec: &str) -> Option<String> {
    let Some(kind) = spec.chars().last().filter(|c| c.is_ascii_alphabetic()) else {
        return Some(if integer { format!("{}", value as i64) } else { format!("{value}") });
    };
    let body = &spec[..spec.len() - 1];
    let zero = body.starts_with('0');
    let (width, precision) = match body.split_once('.') {
        Some((w, p)) => (w, Some(p.parse::<usize>().ok()?)),
        None => (body, None),
    };
    let width: usize = if width.is_empty() { 0 } else { width.parse().ok()? };
    let text = match (kind, precision) {
        ('d', None) => format!("{}", value as i64),
        ('f', p) => format!("{value:.*}", p.unwrap_or(6)),
        ('e', p) => scientific(value, p.unwrap_or(6)),
        _ => return None,
    };
    Some(if zero { format!("{text:0>width$}") } else { format!("{text:>width$}") })
}

/// Stops training at the first batch whose loss is NaN or infinite (Keras's `TerminateOnNaN`).
/// It reads the running loss from the device after every batch, as Keras does.
#[derive(Clone, Copy, Debug, Default)]
pub struct TerminateOnNaN;

impl Callback for TerminateOnNaN {
    fn on_train_batch_end(
        &mut self,
        batch: usize,
        logs: &BatchLogs<'_>,
        ctx: &mut CallbackContext<'_>,
    ) -> Result<()> {
        // The running mean is NaN or infinite from the first such batch on.
        if logs.read()?.get("loss").is_some_and(|loss| !loss.is_finite()) {
            ctx.print(format!("Batch {batch}: Invalid loss, terminating training"));
            ctx.stop_training();
        }
        Ok(())
    }
}

/// Sets the learning rate at the start of each epoch from `schedule(epoch, current_rate)`
/// (Keras's `LearningRateScheduler`), and logs it as "learning_rate".
pub struct LearningRateScheduler<F: FnMut(usize, f64) -> f64> {
    schedule: F,
    verbose: bool,
}

impl<F: FnMut(usize, f64) -> f64> LearningRateScheduler<F> {
    /// A scheduler calling `schedule(epoch, current_rate)` at each epoch's start.
    pub fn new(schedule: F) -> Self {
        LearningRateScheduler { schedule, verbose: false }
    }

    /// Whether to print each new rate.
    pub fn verbose(mut self, verbose: bool) -> Self {
        self.verbose = verbose;
        self
    }
}

impl<F: FnMut(usize, f64) -> f64> Callback for LearningRateScheduler<F> {
    fn on_epoch_begin(&mut self, epoch: usize, ctx: &mut CallbackContext<'_>) -> Result<()> {
        let rate = (self.schedule)(epoch, ctx.learning_rate()?);
        if !rate.is_finite() {
            return Err(NnError::Usage(format!(
                "LearningRateScheduler: the schedule gave {rate} for epoch {epoch}; a learning rate must be finite"
            )));
        }
        ctx.set_learning_rate(rate)?;
        if self.verbose {
            ctx.print(format!("Epoch {}: LearningRateScheduler setting learning rate to {rate}.", epoch + 1));
        }
        Ok(())
    }

    fn on_epoch_end(&mut self, _epoch: usize, logs: &mut Logs, ctx: &mut CallbackContext<'_>) -> Result<()> {
        logs.insert("learning_rate".into(), ctx.learning_rate()?);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_paths_take_keras_placeholders() {
        let logs: Logs = [("val_loss".to_string(), 0.12345), ("accuracy".to_string(), 0.5)].into();
        assert_eq!(
            format_filepath("ckpt-{epoch:02d}-{val_loss:.2f}.safetensors", 3, &logs).unwrap(),
            "ckpt-03-0.12.safetensors"
        );
        assert_eq!(format_filepath("w{epoch}_{accuracy:.1e}{{x}}", 12, &logs).unwrap(), "w12_5.0e-01{x}");
        assert!(format_filepath("w-{val_acc}", 1, &logs).is_err());
        assert!(format_filepath("w-{epoch", 1, &logs).is_err());
        assert!(format_filepath("w-{epoch:x}", 1, &logs).is_err());
    }
}
