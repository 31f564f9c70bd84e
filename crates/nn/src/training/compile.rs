//! `compile`: the optimizer, loss and metrics a model trains with, and the learning rate after.

use super::compile_options::OutputSettings;
use super::{CompileOptions, Compiled, Inputs, OutputTraining};
use crate::losses::{AnyLoss, IntoLoss};
use crate::metrics::{Metric, TrackedMetric, Tracker};
use crate::optimizers::{IntoOptimizer, OptimizerState};
use crate::{Model, NnError, Result};

impl Model {
    /// Keras's `compile(optimizer, loss, metrics)`: an optimizer by name ("adam") or value
    /// (`Adam { learning_rate: 1e-4, ..Adam::default() }`, with [`crate::optimizers::OptimizerOptions`]),
    /// a loss by name, as [`crate::losses::Loss`] or as a [`crate::losses::CustomLoss`], and metric
    /// names ("accuracy", "precision", "recall", "f1_score", "auc", or one registered with
    /// [`crate::metrics::register_metric`]). A model of several outputs trains each with the
    /// loss and takes no metrics here: [`Model::compile_with`] gives losses, loss weights and
    /// metrics per output. Compiling again starts the optimizer afresh.
    pub fn compile(
        &mut self,
        optimizer: impl IntoOptimizer,
        loss: impl IntoLoss,
        metrics: &[&str],
    ) -> Result<()> {
        self.compile_with(optimizer, CompileOptions::default().loss(loss).metrics(metrics))
    }

    /// Keras's `compile` with every argument: losses, `loss_weights`, `metrics` and
    /// `weighted_metrics` for one output or per output (see [`CompileOptions`]). The loss trained
    /// on is the sum of the outputs' losses, each times its weight, plus the regularization
    /// penalties. A model of several outputs logs, as Keras 3 does, "loss" (that total),
    /// "<output>_loss" (each output's loss before its weight) and "<output>_<metric>".
    pub fn compile_with(&mut self, optimizer: impl IntoOptimizer, options: CompileOptions) -> Result<()> {
        let optimizer = optimizer.into_optimizer()?;
        let names = self.output_names();
        let settings = options.per_output(&names)?;
        let shapes = self.output_shapes();
        let outputs = settings
            .into_iter()
            .zip(names)
            .enumerate()
            .map(|(k, (settings, name))| {
                output_training(name, settings, shapes.get(k).map(Vec::as_slice).unwrap_or_default())
            })
            .collect::<Result<Vec<_>>>()?;
        // Keras wraps the optimizer in a LossScaleOptimizer under mixed_float16.
        let loss_scale = (self.dtype_policy() == crate::mixed_precision::Policy::MixedFloat16)
            .then(crate::mixed_precision::LossScale::new);
        let compiled = Compiled { optimizer: OptimizerState::new(optimizer), outputs, loss_scale };
        // Names are checked now, so that a clash is a compile error rather than a lost log.
        compiled.tracked_metrics()?;
        self.compiled = Some(compiled);
        Ok(())
    }

    /// Whether `compile` has been called.
    pub fn is_compiled(&self) -> bool {
        self.compiled.is_some()
    }

    /// The learning rate the next training step will use.
    pub fn learning_rate(&self) -> Result<f64> {
        Ok(self.require_compiled("learning_rate")?.optimizer.learning_rate())
    }

    /// Sets the learning rate of the following training steps (finite, not negative).
    pub fn set_learning_rate(&mut self, learning_rate: f64) -> Result<()> {
        self.require_compiled_mut("set_learning_rate")?.optimizer.set_learning_rate(learning_rate)
    }

    /// The names `evaluate` and the history use (Keras's logs): "loss", then the compiled
    /// metrics in order for a model of one output; for a model of several, "loss", each
    /// "<output>_loss" and each "<output>_<metric>", sorted as Keras 3 sorts its logs. Empty
    /// before `compile`.
    pub fn metrics_names(&self) -> Vec<String> {
        let Some(compiled) = &self.compiled else { return Vec::new() };
        let metrics = compiled.tracked_metrics().unwrap_or_default();
        let mut names: Vec<String> = std::iter::once("loss".to_string())
            .chain(compiled.output_loss_names())
            .chain(metrics.into_iter().map(|m| m.log_name))
            .collect();
        if compiled.outputs.len() > 1 {
            names.sort();
        }
        names
    }

    /// Builds a model whose input shape was left to the data, from the shapes of `x` (Keras
    /// builds on the first batch), and resolves the compiled metrics for its output.
    pub(crate) fn build_for(&mut self, x: &Inputs) -> Result<()> {
        if self.is_built() {
            return Ok(());
        }
        let shapes: Vec<Vec<usize>> =
            x.0.iter().map(|t| t.dims().get(1..).unwrap_or_default().to_vec()).collect();
        self.build(&shapes)?;
        let output_shapes = self.output_shapes();
        if let Some(compiled) = self.compiled.as_mut() {
            for (output, shape) in compiled.outputs.iter_mut().zip(&output_shapes) {
                let resolve = |metrics: &[Metric]| -> Result<Vec<Metric>> {
                    metrics.iter().map(|m| Metric::resolve_for(m.name(), &output.loss, shape)).collect()
                };
                output.metrics = resolve(&output.metrics)?;
                output.weighted_metrics = resolve(&output.weighted_metrics)?;
            }
        }
        Ok(())
    }

    /// The log names in the order of the one-line display: training ones, then validation ones.
    pub(crate) fn log_order(&self) -> Vec<String> {
        let names = self.metrics_names();
        let validation: Vec<String> = names.iter().map(|n| format!("val_{n}")).collect();
        names.into_iter().chain(validation).collect()
    }

    /// The compiled state, or an error saying `call` needs `compile` first.
    pub(crate) fn require_compiled(&self, call: &str) -> Result<&Compiled> {
        self.compiled.as_ref().ok_or_else(|| not_compiled(call))
    }

    pub(crate) fn require_compiled_mut(&mut self, call: &str) -> Result<&mut Compiled> {
        self.compiled.as_mut().ok_or_else(|| not_compiled(call))
    }
}

fn not_compiled(call: &str) -> NnError {
    NnError::Usage(format!("{call}: the model is not compiled; call compile(optimizer, loss, metrics) first"))
}

/// Output `name`'s training from its settings, its metrics resolved for its `shape` (empty while
/// the model is not built; `build_for` resolves them again then).
fn output_training(name: String, settings: OutputSettings, shape: &[usize]) -> Result<OutputTraining> {
    let OutputSettings { loss, loss_weight, metrics, weighted_metrics } = settings;
    let resolve = |names: &[String]| -> Result<Vec<Metric>> {
        names.iter().map(|m| Metric::resolve_for(m, &loss, shape)).collect()
    };
    let metrics = resolve(&metrics)?;
    let weighted_metrics = resolve(&weighted_metrics)?;
    if let Some(metric) = weighted_metrics.iter().find(|m| !m.can_weigh()) {
        return Err(NnError::Usage(format!(
            "compile: the metric {:?} of output \"{name}\" cannot be weighted by samples; give it in metrics \
             rather than weighted_metrics",
            metric.name()
        )));
    }
    Ok(OutputTraining { name, loss, loss_weight, metrics, weighted_metrics })
}

impl Compiled {
    /// Whether the model has several outputs, whose logs are prefixed by their names.
    fn several_outputs(&self) -> bool {
        self.outputs.len() > 1
    }

    /// "<output>_loss" for each output of a model of several (Keras 3 tracks each output's
    /// loss); none for a model of one.
    pub(crate) fn output_loss_names(&self) -> Vec<String> {
        match self.several_outputs() {
            true => self.outputs.iter().map(|o| format!("{}_loss", o.name)).collect(),
            false => Vec::new(),
        }
    }

    /// Every compiled metric with the name it logs under, output by output, the plain ones
    /// before the weighted ones as Keras lists them: "<output>_<metric>" with several outputs,
    /// and a weighted metric whose name is taken becomes "<output>_weighted_<metric>". A name
    /// used twice is an error.
    pub(crate) fn tracked_metrics(&self) -> Result<Vec<TrackedMetric>> {
        let mut taken: Vec<String> =
            std::iter::once("loss".to_string()).chain(self.output_loss_names()).collect();
        let mut tracked = Vec::new();
        for weighted in [false, true] {
            for (k, output) in self.outputs.iter().enumerate() {
                let prefix = if self.several_outputs() { format!("{}_", output.name) } else { String::new() };
                let metrics = if weighted { &output.weighted_metrics } else { &output.metrics };
                for metric in metrics {
                    let mut log_name = format!("{prefix}{}", metric.name());
                    if weighted && taken.contains(&log_name) {
                        log_name = format!("{prefix}weighted_{}", metric.name());
                    }
                    if taken.contains(&log_name) {
                        return Err(NnError::Usage(format!(
                            "compile: the metric name {:?} is used twice",
                            metric.name()
                        )));
                    }
                    taken.push(log_name.clone());
                    tracked.push(TrackedMetric { log_name, metric: metric.clone(), output: k, weighted });
                }
            }
        }
        Ok(tracked)
    }

    /// A tracker of the loss, the outputs' losses and every metric, from nothing.
    pub(crate) fn tracker(&self) -> Result<Tracker> {
        Tracker::new(self.tracked_metrics()?, self.output_loss_names())
    }

    /// The loss of the model's one output; `call` names the caller in errors, for a model of
    /// several outputs, which have one loss each.
    pub(crate) fn single_loss(&self, call: &str) -> Result<&AnyLoss> {
        match self.outputs.as_slice() {
            [output] => Ok(&output.loss),
            outputs => Err(NnError::Usage(format!(
                "{call} is only supported for models with a single output, and this one has {}",
                outputs.len()
            ))),
        }
    }
}
