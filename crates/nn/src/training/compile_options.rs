//! `compile`'s per-output settings, as Keras 3 takes them for a model of several outputs: a loss
//! for all outputs, a list in output order or a map by output layer name; `loss_weights` and
//! `metrics` as a list or by name; `weighted_metrics` likewise.

use crate::losses::{AnyLoss, IntoLoss};
use crate::{NnError, Result};

/// A setting given once for every output, as a list in the model's output order, or by output
/// layer name (Keras's single value, list or dict).
#[derive(Clone, Debug)]
enum PerOutput<T> {
    All(T),
    List(Vec<T>),
    Named(Vec<(String, T)>),
}

impl<T: Clone> PerOutput<T> {
    /// Adds `value` for output `name`, keeping earlier names and dropping a setting given
    /// another way.
    fn with_named(setting: Option<PerOutput<T>>, name: &str, value: T) -> PerOutput<T> {
        let mut named = match setting {
            Some(PerOutput::Named(named)) => named,
            _ => Vec::new(),
        };
        named.retain(|(k, _)| k != name);
        named.push((name.to_string(), value));
        PerOutput::Named(named)
    }

    /// One value per output of `names`; an output a by-name setting leaves out takes
    /// `missing(name)`, which may refuse it. `what` names the setting in errors.
    fn resolve(self, names: &[String], what: &str, missing: impl Fn(&str) -> Result<T>) -> Result<Vec<T>> {
        match self {
            PerOutput::All(value) => Ok(vec![value; names.len()]),
            PerOutput::List(values) if values.len() == names.len() => Ok(values),
            PerOutput::List(values) => Err(NnError::Usage(format!(
                "compile: {what} lists {} value(s), but the model has {} output(s) ({}); give one per output, \
                 in order",
                values.len(),
                names.len(),
                names.join(", ")
            ))),
            PerOutput::Named(mut named) => {
                if let Some((unknown, _)) = named.iter().find(|(k, _)| !names.contains(k)) {
                    return Err(NnError::Usage(format!(
                        "compile: {what} names output \"{unknown}\", but the model's outputs are {}",
                        names.join(", ")
                    )));
                }
                names
                    .iter()
                    .map(|name| match named.iter().position(|(k, _)| k == name) {
                        Some(i) => Ok(named.swap_remove(i).1),
                        None => missing(name),
                    })
                    .collect()
            }
        }
    }
}

/// Everything `compile` takes besides the optimizer, for models of one output or several.
///
/// ```ignore
/// // Two outputs, "class" and "box": a loss each, the box's loss weighing half, accuracy on the first.
/// let options = CompileOptions::default()
///     .losses(["sparse_categorical_crossentropy", "mse"])
///     .loss_weights([1.0, 0.5])
///     .output_metrics("class", &["accuracy"]);
/// model.compile_with("adam", options)?;
/// ```
#[derive(Clone, Debug, Default)]
pub struct CompileOptions {
    loss: Option<PerOutput<AnyLoss>>,
    loss_weights: Option<PerOutput<f64>>,
    metrics: Option<PerOutput<Vec<String>>>,
    weighted_metrics: Option<PerOutput<Vec<String>>>,
    /// The first loss that could not be made (an unknown name), reported by `compile_with`.
    error: Option<String>,
}

/// The settings of one output, resolved for a model: what `compile_with` builds on.
pub(crate) struct OutputSettings {
    pub(crate) loss: AnyLoss,
    pub(crate) loss_weight: f64,
    pub(crate) metrics: Vec<String>,
    pub(crate) weighted_metrics: Vec<String>,
}

impl CompileOptions {
    /// The loss of every output (Keras's single `loss` for a model of several outputs).
    pub fn loss(mut self, loss: impl IntoLoss) -> Self {
        if let Some(loss) = self.made(loss) {
            self.loss = Some(PerOutput::All(loss));
        }
        self
    }

    /// One loss per output, in the model's output order.
    pub fn losses<L: IntoLoss>(mut self, losses: impl IntoIterator<Item = L>) -> Self {
        let losses: Vec<AnyLoss> = losses.into_iter().filter_map(|l| self.made(l)).collect();
        self.loss = Some(PerOutput::List(losses));
        self
    }

    /// The loss of the output named `output` (the name of the layer that gives it); every output
    /// needs one.
    pub fn output_loss(mut self, output: &str, loss: impl IntoLoss) -> Self {
        if let Some(loss) = self.made(loss) {
            self.loss = Some(PerOutput::with_named(self.loss.take(), output, loss));
        }
        self
    }

    /// Keras's `loss_weights` as a list: the weight of each output's loss in the total, in output
    /// order (1 each by default).
    pub fn loss_weights(mut self, weights: impl IntoIterator<Item = f64>) -> Self {
        self.loss_weights = Some(PerOutput::List(weights.into_iter().collect()));
        self
    }

    /// The weight of output `output`'s loss in the total (Keras's `loss_weights` dict); outputs
    /// left out weigh 1.
    pub fn output_loss_weight(mut self, output: &str, weight: f64) -> Self {
        self.loss_weights = Some(PerOutput::with_named(self.loss_weights.take(), output, weight));
        self
    }

    /// The metrics of a model of one output, by name ("accuracy", "mae", ...). A model of
    /// several outputs takes them per output, as Keras does.
    pub fn metrics(mut self, metrics: &[&str]) -> Self {
        self.metrics = Some(PerOutput::All(names(metrics)));
        self
    }

    /// One list of metrics per output, in output order.
    pub fn metrics_per_output(mut self, metrics: &[&[&str]]) -> Self {
        self.metrics = Some(PerOutput::List(metrics.iter().map(|m| names(m)).collect()));
        self
    }

    /// The metrics of output `output`; outputs left out have none.
    pub fn output_metrics(mut self, output: &str, metrics: &[&str]) -> Self {
        self.metrics = Some(PerOutput::with_named(self.metrics.take(), output, names(metrics)));
        self
    }

    /// Keras's `weighted_metrics` of a model of one output: metrics in which each sample counts
    /// by its `sample_weight` (or class weight), as the loss does.
    pub fn weighted_metrics(mut self, metrics: &[&str]) -> Self {
        self.weighted_metrics = Some(PerOutput::All(names(metrics)));
        self
    }

    /// One list of weighted metrics per output, in output order.
    pub fn weighted_metrics_per_output(mut self, metrics: &[&[&str]]) -> Self {
        self.weighted_metrics = Some(PerOutput::List(metrics.iter().map(|m| names(m)).collect()));
        self
    }

    /// The weighted metrics of output `output`; outputs left out have none.
    pub fn output_weighted_metrics(mut self, output: &str, metrics: &[&str]) -> Self {
        self.weighted_metrics =
            Some(PerOutput::with_named(self.weighted_metrics.take(), output, names(metrics)));
        self
    }

    /// `loss` made, or `None` with its error kept for `compile_with` (the first one).
    fn made(&mut self, loss: impl IntoLoss) -> Option<AnyLoss> {
        match loss.into_loss() {
            Ok(loss) => Some(loss),
            Err(e) => {
                self.error.get_or_insert(e.to_string());
                None
            }
        }
    }

    /// The settings of each output of a model whose outputs are `outputs` (their names), or the
    /// error Keras gives for settings that do not fit them.
    pub(crate) fn per_output(self, outputs: &[String]) -> Result<Vec<OutputSettings>> {
        if let Some(error) = self.error {
            return Err(NnError::Usage(format!("compile: {error}")));
        }
        let several = outputs.len() > 1;
        let loss = self.loss.ok_or_else(|| NnError::Usage("compile: no loss given".to_string()))?;
        let losses = loss.resolve(outputs, "loss", |name| {
            Err(NnError::Usage(format!(
                "compile: the losses by name leave output \"{name}\" without one; give every output a loss"
            )))
        })?;
        let weights =
            self.loss_weights.unwrap_or(PerOutput::All(1.0)).resolve(outputs, "loss_weights", |_| Ok(1.0))?;
        if let Some((k, w)) = weights.iter().enumerate().find(|(_, w)| !w.is_finite()) {
            return Err(NnError::Usage(format!(
                "compile: the loss weight of output \"{}\" must be finite, got {w}",
                outputs[k]
            )));
        }
        let metric_lists = |setting: Option<PerOutput<Vec<String>>>,
                            what: &str|
         -> Result<Vec<Vec<String>>> {
            match setting {
                Some(PerOutput::All(list)) if several && !list.is_empty() => Err(NnError::Usage(format!(
                    "compile: the model has {} outputs ({}), so {what} are given per output (a list of \
                     lists, or by output name), as Keras asks; got one list {list:?}",
                    outputs.len(),
                    outputs.join(", ")
                ))),
                Some(setting) => setting.resolve(outputs, what, |_| Ok(Vec::new())),
                None => Ok(vec![Vec::new(); outputs.len()]),
            }
        };
        let metrics = metric_lists(self.metrics, "metrics")?;
        let weighted = metric_lists(self.weighted_metrics, "weighted_metrics")?;
        Ok(losses
            .into_iter()
            .zip(weights)
            .zip(metrics.into_iter().zip(weighted))
            .map(|((loss, loss_weight), (metrics, weighted_metrics))| OutputSettings {
                loss,
                loss_weight,
                metrics,
                weighted_metrics,
            })
            .collect())
    }
}

fn names(metrics: &[&str]) -> Vec<String> {
    metrics.iter().map(|m| m.to_string()).collect()
}
