//! `compile`: the optimizer, loss and metrics a model trains with, and the learning rate after.

use super::{Compiled, Inputs};
use crate::losses::IntoLoss;
use crate::metrics::Metric;
use crate::optimizers::{IntoOptimizer, OptimizerState};
use crate::{Model, NnError, Result};

impl Model {
    /// Keras's `compile(optimizer, loss, metrics)`: an optimizer by name ("adam") or value
    /// (`Adam { learning_rate: 1e-4, ..Adam::default() }`, with [`crate::optimizers::OptimizerOptions`]),
    /// a loss by name, as [`crate::losses::Loss`] or as a [`crate::losses::CustomLoss`], and metric
    /// names ("accuracy", "precision", "recall", "f1_score", "auc", or one registered with
    /// [`crate::metrics::register_metric`]). Compiling again starts
    /// the optimizer afresh.
    pub fn compile(
        &mut self,
        optimizer: impl IntoOptimizer,
        loss: impl IntoLoss,
        metrics: &[&str],
    ) -> Result<()> {
        if self.output_shapes().len() > 1 {
            return Err(NnError::Usage(format!(
                "compile: model \"{}\" has {} outputs, and training takes a model of one output; \
                 predict_all and forward_all run it",
                self.name(),
                self.output_shapes().len()
            )));
        }
        let optimizer = optimizer.into_optimizer()?;
        let loss = loss.into_loss()?;
        let output = self.output_shape();
        let metrics = metrics
            .iter()
            .map(|name| Metric::resolve_for(name, &loss, &output))
            .collect::<Result<Vec<_>>>()?;
        for (i, metric) in metrics.iter().enumerate() {
            if metric.name() == "loss" || metrics[..i].iter().any(|m| m.name() == metric.name()) {
                return Err(NnError::Usage(format!(
                    "compile: the metric name {:?} is used twice",
                    metric.name()
                )));
            }
        }
        self.compiled = Some(Compiled { optimizer: OptimizerState::new(optimizer), loss, metrics });
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

    /// The names `evaluate` and the history use: "loss", then the compiled metrics in order
    /// (Keras's `metrics_names`); empty before `compile`.
    pub fn metrics_names(&self) -> Vec<String> {
        match &self.compiled {
            Some(c) => std::iter::once("loss".to_string())
                .chain(c.metrics.iter().map(|m| m.name().to_string()))
                .collect(),
            None => Vec::new(),
        }
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
        let output = self.output_shape();
        if let Some(compiled) = self.compiled.as_mut() {
            compiled.metrics = compiled
                .metrics
                .iter()
                .map(|m| Metric::resolve_for(m.name(), &compiled.loss, &output))
                .collect::<Result<Vec<_>>>()?;
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
