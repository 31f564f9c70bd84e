//! Metrics as Keras 3 computes them (keras/src/metrics/), accumulated on the device.
//!
//! Each batch adds its counts (correct predictions, true positives...) to running sums held as
//! tensors on the model's device; the host reads them only when asked (a progress-bar refresh,
//! the end of an epoch), all in one read.
//!
//! - `"accuracy"` (or `"acc"`) becomes binary, categorical or sparse categorical accuracy: from
//!   the loss where it says (binary, categorical or sparse categorical cross-entropy), otherwise
//!   from the output shape as Keras 3 does (one output column: binary; else categorical).
//! - Binary accuracy counts `y_pred > 0.5` equal to the target; categorical accuracies compare the
//!   first arg-max of the prediction (NaN counting as the maximum, as NumPy and JAX do) with the
//!   target class.
//! - `"precision"` and `"recall"` are Keras's defaults: every output element is a binary decision
//!   at threshold 0.5 (`y_pred > 0.5`), micro-averaged over all elements; 0 when undefined.
//! - `"f1_score"` (or `"f1"`): with one output column, binary F1 at threshold 0.5; with several,
//!   Keras's `F1Score(average="macro")` without threshold (the row maximum is the positive
//!   class): per-class F1 from accumulated counts, averaged over classes. Epsilons as Keras's.
//!
//! - `"auc"`: Keras's `AUC()` defaults, the interpolated area under the ROC curve from counts at
//!   200 thresholds accumulated over batches (`metrics/auc.rs`).
//!
//! Targets given as class ids (a sparse loss) are one-hot encoded on the device for precision,
//! recall, F1 and AUC, which Keras only accepts one-hot. [`confusion_matrix`] counts class pairs
//! as `tf.math.confusion_matrix` does. Names registered with [`register_metric`] resolve to the
//! user's [`CustomMetric`]s, which keep their own state on the host or the device.

mod auc;
mod confusion_matrix;
mod custom;

pub use confusion_matrix::confusion_matrix;
use custom::Shared;
pub use custom::{CustomMetric, MetricFactory, register_metric};

use std::str::FromStr;

use tensor_core::{Tensor, no_grad};

use crate::distributed::Communicator;
use crate::losses::{self, AnyLoss, EPSILON, Loss};
use crate::{Logs, NnError, Result};

/// What a metric computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricKind {
    /// The fraction of outputs on the right side of 0.5.
    BinaryAccuracy,
    /// The fraction of samples whose arg-max matches the one-hot target's.
    CategoricalAccuracy,
    /// The fraction of samples whose arg-max is the target class id.
    SparseCategoricalAccuracy,
    /// True positives over predicted positives.
    Precision,
    /// True positives over actual positives.
    Recall,
    /// The harmonic mean of precision and recall (macro-averaged over classes).
    F1Score,
    /// The mean of `(y_pred - y_true)²` over every output.
    MeanSquaredError,
    /// The mean of `|y_pred - y_true|` over every output.
    MeanAbsoluteError,
    /// The square root of the mean squared error.
    RootMeanSquaredError,
    /// The area under the ROC curve (Keras's `AUC()`: 200 thresholds, interpolated).
    Auc,
    /// A [`CustomMetric`] registered under the metric's name.
    Custom,
}

/// A metric resolved for a compiled model: its name in logs and history, and what it computes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metric {
    name: String,
    kind: MetricKind,
    /// Whether targets are class ids (the loss is sparse).
    sparse_targets: bool,
    /// The instance of a custom metric.
    custom: Option<Shared>,
}

impl Metric {
    /// Resolves a Keras metric name for a model compiled with `loss`, whose output has shape
    /// `output` (batch axis excluded). The name is kept as given for logs ("acc" stays "acc").
    pub fn resolve(name: &str, loss: &Loss, output: &[usize]) -> Result<Metric> {
        Metric::resolve_for(name, &AnyLoss::Builtin(*loss), output)
    }

    /// [`Metric::resolve`] for a model compiled with a built-in or a custom loss (a custom loss
    /// takes targets shaped like the output), or a name registered with [`register_metric`].
    pub(crate) fn resolve_for(name: &str, loss: &AnyLoss, output: &[usize]) -> Result<Metric> {
        let key: String = name.chars().filter(|&c| c != '_').flat_map(char::to_lowercase).collect();
        let kind = match key.as_str() {
            "accuracy" | "acc" => match loss.builtin() {
                Some(Loss::BinaryCrossentropy { .. }) => MetricKind::BinaryAccuracy,
                Some(Loss::CategoricalCrossentropy { .. }) => MetricKind::CategoricalAccuracy,
                Some(Loss::SparseCategoricalCrossentropy { .. }) => MetricKind::SparseCategoricalAccuracy,
                _ if output.last() == Some(&1) => MetricKind::BinaryAccuracy,
                _ => MetricKind::CategoricalAccuracy,
            },
            _ => match name.parse() {
                Ok(kind) => kind,
                Err(unknown) => {
                    let Some(custom) = Shared::make(name)? else {
                        return Err(NnError::Usage(format!(
                            "{unknown}; or a custom metric registered with nn::metrics::register_metric \
                             (registered: {:?})",
                            Shared::registered()?
                        )));
                    };
                    let sparse_targets = loss.is_sparse();
                    return Ok(Metric {
                        name: name.to_string(),
                        kind: MetricKind::Custom,
                        sparse_targets,
                        custom: Some(custom),
                    });
                }
            },
        };
        let fits = match kind {
            MetricKind::BinaryAccuracy
            | MetricKind::CategoricalAccuracy
            | MetricKind::MeanSquaredError
            | MetricKind::MeanAbsoluteError
            | MetricKind::RootMeanSquaredError => !loss.is_sparse(),
            MetricKind::SparseCategoricalAccuracy => loss.is_sparse(),
            MetricKind::Precision
            | MetricKind::Recall
            | MetricKind::F1Score
            | MetricKind::Auc
            | MetricKind::Custom => true,
        };
        if !fits {
            let targets = if loss.is_sparse() { "class ids" } else { "targets shaped like the output" };
            return Err(NnError::Usage(format!(
                "metric {name:?} cannot be computed with the loss {loss}, which takes {targets}; \
                 use \"accuracy\" to pick the right one"
            )));
        }
        Ok(Metric { name: name.to_string(), kind, sparse_targets: loss.is_sparse(), custom: None })
    }

    /// The name used in logs and history ("accuracy", "precision", ...).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the metric computes.
    pub fn kind(&self) -> MetricKind {
        self.kind
    }

    /// Whether samples can weigh the metric (Keras's `weighted_metrics`): every built-in one
    /// but AUC, whose counts per threshold are not weighted here, and custom ones, whose state
    /// is their own.
    pub(crate) fn can_weigh(&self) -> bool {
        !matches!(self.kind, MetricKind::Auc | MetricKind::Custom)
    }

    /// Whether the metric is a mean over counted values (accuracies, errors), whose count a
    /// weighted metric replaces by the sum of the weights.
    fn is_mean(&self) -> bool {
        matches!(
            self.kind,
            MetricKind::BinaryAccuracy
                | MetricKind::CategoricalAccuracy
                | MetricKind::SparseCategoricalAccuracy
                | MetricKind::MeanSquaredError
                | MetricKind::MeanAbsoluteError
                | MetricKind::RootMeanSquaredError
        )
    }

    /// The batch's increments to the running sums, on the device: one tensor per sum, and the
    /// number of values they count. With `weights` (one per sample) each value counts by its
    /// sample's weight, as Keras weighs a metric: a mean gets the weights' total as a last sum,
    /// which replaces the count.
    fn increments(
        &self,
        y_true: &Tensor,
        y_pred: &Tensor,
        weights: Option<&Tensor>,
    ) -> Result<(Vec<Tensor>, usize)> {
        let what = self.name.as_str();
        let classes = y_pred.dims().last().copied().unwrap_or(1).max(1);
        let positions = y_pred.numel() / classes;
        let targets = |y: &Tensor| -> Result<Tensor> {
            if self.sparse_targets {
                losses::one_hot(what, y, y_pred)
            } else {
                losses::align(what, y, y_pred)
            }
        };
        // Values of shape (N, ...) times their sample's weight.
        let weigh = |values: Tensor| -> Result<Tensor> {
            let Some(w) = weights else { return Ok(values) };
            let mut shape = vec![1; values.rank().max(1)];
            shape[0] = w.numel();
            Ok(values.mul(&w.to_dtype(values.dtype())?.reshape(shape)?)?)
        };
        let (mut sums, count) = self.value_sums(y_true, y_pred, &targets, &weigh, classes, positions)?;
        if let (Some(w), true) = (weights, self.is_mean()) {
            // Each sample counts its values (elements or positions) times its weight.
            let per_sample = count / y_pred.dims().first().copied().unwrap_or(1).max(1);
            sums.push(w.to_dtype(y_pred.dtype())?.sum_all()?.mul_scalar(per_sample as f64)?);
        }
        Ok((sums, count))
    }

    /// The sums of [`Metric::increments`], each value passed through `weigh` before it is summed.
    fn value_sums(
        &self,
        y_true: &Tensor,
        y_pred: &Tensor,
        targets: &dyn Fn(&Tensor) -> Result<Tensor>,
        weigh: &dyn Fn(Tensor) -> Result<Tensor>,
        classes: usize,
        positions: usize,
    ) -> Result<(Vec<Tensor>, usize)> {
        let what = self.name.as_str();
        Ok(match self.kind {
            MetricKind::BinaryAccuracy => {
                let y = losses::align(what, y_true, y_pred)?;
                (vec![weigh(above_half(y_pred)?.eq(&y)?)?.sum_all()?], y_pred.numel())
            }
            MetricKind::CategoricalAccuracy | MetricKind::SparseCategoricalAccuracy => {
                let predicted = y_pred.argmax(-1)?;
                let target = match self.kind {
                    MetricKind::SparseCategoricalAccuracy => class_ids(what, y_true, &predicted)?,
                    _ => losses::align(what, y_true, y_pred)?.argmax(-1)?,
                };
                (vec![weigh(predicted.eq(&target)?)?.sum_all()?], positions)
            }
            MetricKind::Precision | MetricKind::Recall => {
                let (predicted, actual) = (above_half(y_pred)?, not_zero(&targets(y_true)?)?);
                let true_positives = weigh(predicted.mul(&actual)?)?.sum_all()?;
                let misses = match self.kind {
                    MetricKind::Precision => predicted.mul(&complement(&actual)?)?,
                    _ => complement(&predicted)?.mul(&actual)?,
                };
                (vec![true_positives, weigh(misses)?.sum_all()?], y_pred.numel())
            }
            MetricKind::F1Score => {
                let predicted = if classes == 1 { above_half(y_pred)? } else { row_maxima(y_pred)? };
                let actual = targets(y_true)?;
                let leading: Vec<isize> = (0..y_pred.rank() as isize - 1).collect();
                let per_class = |t: Tensor| -> Result<Tensor> {
                    Ok(if leading.is_empty() { t } else { t.sum(&leading, false)? })
                };
                let true_positives = per_class(weigh(predicted.mul(&actual)?)?)?;
                let false_positives = per_class(weigh(predicted.mul(&complement(&actual)?)?)?)?;
                let false_negatives = per_class(weigh(complement(&predicted)?.mul(&actual)?)?)?;
                (vec![true_positives, false_positives, false_negatives], positions)
            }
            MetricKind::MeanSquaredError | MetricKind::RootMeanSquaredError => {
                let error = y_pred.sub(&losses::align(what, y_true, y_pred)?)?;
                (vec![weigh(error.mul(&error)?)?.sum_all()?], y_pred.numel())
            }
            MetricKind::MeanAbsoluteError => {
                let error = y_pred.sub(&losses::align(what, y_true, y_pred)?)?;
                (vec![weigh(error.abs()?)?.sum_all()?], y_pred.numel())
            }
            MetricKind::Auc => {
                (auc::counts(&not_zero(&targets(y_true)?)?, y_pred, auc::NUM_THRESHOLDS)?, y_pred.numel())
            }
            // A custom metric keeps its own state (the tracker hands it each batch): no sums.
            MetricKind::Custom => (Vec::new(), 0),
        })
    }

    /// The metric's value from its running sums (read on the host) and count (the weights'
    /// total for a weighted mean).
    fn result(&self, sums: &[Vec<f64>], count: f64) -> f64 {
        let ratio = |num: f64, den: f64| if den > 0.0 { num / den } else { 0.0 };
        match self.kind {
            MetricKind::BinaryAccuracy
            | MetricKind::CategoricalAccuracy
            | MetricKind::SparseCategoricalAccuracy
            | MetricKind::MeanSquaredError
            | MetricKind::MeanAbsoluteError => ratio(sums[0][0], count),
            MetricKind::RootMeanSquaredError => ratio(sums[0][0], count).sqrt(),
            MetricKind::Precision | MetricKind::Recall => ratio(sums[0][0], sums[0][0] + sums[1][0]),
            MetricKind::Auc => auc::area(sums),
            // Read from the metric itself by the tracker.
            MetricKind::Custom => 0.0,
            MetricKind::F1Score => {
                let (tp, fp, fn_) = (&sums[0], &sums[1], &sums[2]);
                let scores: Vec<f64> = (0..tp.len())
                    .map(|c| {
                        let precision = tp[c] / (tp[c] + fp[c] + EPSILON);
                        let recall = tp[c] / (tp[c] + fn_[c] + EPSILON);
                        2.0 * precision * recall / (precision + recall + EPSILON)
                    })
                    .collect();
                scores.iter().sum::<f64>() / scores.len().max(1) as f64
            }
        }
    }
}

impl FromStr for MetricKind {
    type Err = NnError;

    /// Keras's metric names in snake or camel case, besides "accuracy" (which needs the loss).
    fn from_str(name: &str) -> Result<MetricKind> {
        let key: String = name.chars().filter(|&c| c != '_').flat_map(char::to_lowercase).collect();
        Ok(match key.as_str() {
            "binaryaccuracy" => MetricKind::BinaryAccuracy,
            "categoricalaccuracy" => MetricKind::CategoricalAccuracy,
            "sparsecategoricalaccuracy" => MetricKind::SparseCategoricalAccuracy,
            "precision" => MetricKind::Precision,
            "recall" => MetricKind::Recall,
            "f1score" | "f1" => MetricKind::F1Score,
            "meansquarederror" | "mse" => MetricKind::MeanSquaredError,
            "meanabsoluteerror" | "mae" => MetricKind::MeanAbsoluteError,
            "rootmeansquarederror" | "rmse" => MetricKind::RootMeanSquaredError,
            "auc" => MetricKind::Auc,
            _ => {
                return Err(NnError::Usage(format!(
                    "unknown metric {name:?}; expected accuracy (acc), binary_accuracy, categorical_accuracy, \
                     sparse_categorical_accuracy, precision, recall, f1_score (f1), mean_squared_error (mse), \
                     mean_absolute_error (mae), root_mean_squared_error (rmse) or auc"
                )));
            }
        })
    }
}

/// 1 where `x > 0.5`, else 0 (Keras's thresholds are strict).
fn above_half(x: &Tensor) -> Result<Tensor> {
    // x <= 0.5 is -x >= -0.5, a step; its complement is x > 0.5.
    complement(&x.neg()?.step(-0.5)?)
}

/// 1 where `x != 0`, else 0 (Keras casts targets to bool).
fn not_zero(x: &Tensor) -> Result<Tensor> {
    complement(&x.eq(&x.zeros_like()?)?)
}

/// `1 - x` for a 0/1 tensor.
fn complement(x: &Tensor) -> Result<Tensor> {
    Ok(x.neg()?.add_scalar(1.0)?)
}

/// 1 where an element equals the maximum of its row (the last axis), else 0; ties all count.
fn row_maxima(x: &Tensor) -> Result<Tensor> {
    Ok(x.eq(&x.max(&[-1], true)?)?)
}

/// Class ids shaped like `predicted` (the arg-max of the predictions) and of its dtype; ids
/// with a trailing axis of size 1 are squeezed, any other shape is an error naming `what`.
fn class_ids(what: &str, ids: &Tensor, predicted: &Tensor) -> Result<Tensor> {
    if ids.dims() != predicted.dims() && ids.dims().split_last() != Some((&1, predicted.dims())) {
        return Err(NnError::Data(format!(
            "{what}: expected class ids of shape {} for these predictions, got {}",
            predicted.shape(),
            ids.shape()
        )));
    }
    Ok(ids.to_dtype(predicted.dtype())?.reshape(predicted.dims().to_vec())?)
}

/// Running sums of one quantity on the device, and how many values they count.
#[derive(Default)]
struct Sums {
    sums: Option<Vec<Tensor>>,
    count: usize,
}

impl Sums {
    fn add(&mut self, increments: Vec<Tensor>, count: usize) -> Result<()> {
        self.sums = Some(match self.sums.take() {
            None => increments,
            Some(sums) => {
                sums.iter().zip(&increments).map(|(s, i)| s.add(i)).collect::<tensor_core::Result<_>>()?
            }
        });
        self.count += count;
        Ok(())
    }
}

/// A compiled metric as a pass tracks it: the name it logs under, the output it reads and
/// whether the samples' weights weigh it.
pub(crate) struct TrackedMetric {
    pub(crate) log_name: String,
    pub(crate) metric: Metric,
    pub(crate) output: usize,
    pub(crate) weighted: bool,
}

/// The loss, each output's loss (a model of several outputs) and the compiled metrics of one
/// pass over data (an epoch, an evaluation), summed on the device batch by batch.
pub(crate) struct Tracker {
    metrics: Vec<TrackedMetric>,
    loss: Sums,
    output_loss_names: Vec<String>,
    output_losses: Vec<Sums>,
    sums: Vec<Sums>,
}

impl Tracker {
    /// A tracker starting from nothing, logging each output's loss under `output_loss_names`
    /// (none for a model of one output): custom metrics are reset (Keras resets the metrics at
    /// the start of each epoch and each evaluation).
    pub(crate) fn new(metrics: Vec<TrackedMetric>, output_loss_names: Vec<String>) -> Result<Tracker> {
        for TrackedMetric { metric, .. } in &metrics {
            if let Some(custom) = &metric.custom {
                custom.lock(&metric.name)?.reset_state()?;
            }
        }
        Ok(Tracker {
            sums: metrics.iter().map(|_| Sums::default()).collect(),
            metrics,
            loss: Sums::default(),
            output_losses: output_loss_names.iter().map(|_| Sums::default()).collect(),
            output_loss_names,
        })
    }

    /// Adds a batch of `samples` samples: its mean loss, each output's mean loss (as many as the
    /// tracker logs), and the predictions against the targets (one of each per output), the
    /// weighted metrics weighed by `weights`. Nothing is recorded on a tape, and nothing is read
    /// back.
    pub(crate) fn update(
        &mut self,
        loss: &Tensor,
        output_losses: &[Tensor],
        samples: usize,
        y_true: &[Tensor],
        y_pred: &[Tensor],
        weights: Option<&Tensor>,
    ) -> Result<()> {
        no_grad(|| {
            let mean_of_batch = |loss: &Tensor| loss.detach().mul_scalar(samples as f64);
            self.loss.add(vec![mean_of_batch(loss)?], samples)?;
            for (sums, loss) in self.output_losses.iter_mut().zip(output_losses) {
                sums.add(vec![mean_of_batch(loss)?], samples)?;
            }
            for (tracked, sums) in self.metrics.iter().zip(&mut self.sums) {
                let metric = &tracked.metric;
                let (Some(y_true), Some(y_pred)) = (y_true.get(tracked.output), y_pred.get(tracked.output))
                else {
                    return Err(NnError::Usage(format!(
                        "metric {:?}: the batch has no output {}",
                        metric.name, tracked.output
                    )));
                };
                let (y_true, y_pred) = (y_true.detach(), y_pred.detach());
                if let Some(custom) = &metric.custom {
                    custom.lock(&metric.name)?.update_state(&y_true, &y_pred)?;
                    continue;
                }
                // A weighted metric of unweighted data weighs every sample 1, so that its sums
                // keep the shape its result reads.
                let ones;
                let weights = match (tracked.weighted, weights) {
                    (false, _) => None,
                    (true, Some(weights)) => Some(weights),
                    (true, None) => {
                        ones = Tensor::ones([samples], y_pred.dtype(), y_pred.device())?;
                        Some(&ones)
                    }
                };
                let (increments, count) = metric.increments(&y_true, &y_pred, weights)?;
                sums.add(increments, count)?;
            }
            Ok(())
        })
    }

    /// The loss, the outputs' losses and every metric so far, named with `prefix` ("" or
    /// "val_"): every running sum is read from the device in one transfer.
    pub(crate) fn read(&self, prefix: &str) -> Result<Logs> {
        self.read_across(prefix, None)
    }

    /// [`Tracker::read`], the running sums and counts summed over `communicator`'s ranks first
    /// when given (each rank having tracked its shards): the values of the whole data. Every
    /// rank must have updated the tracker at least once, so that all hold sums of one layout.
    pub(crate) fn read_across(&self, prefix: &str, communicator: Option<&dyn Communicator>) -> Result<Logs> {
        let all: Vec<&Sums> =
            std::iter::once(&self.loss).chain(&self.output_losses).chain(&self.sums).collect();
        let tensors: Vec<Tensor> = all
            .iter()
            .flat_map(|s| s.sums.iter().flatten())
            .map(|t| t.reshape([t.numel()]))
            .collect::<tensor_core::Result<_>>()?;
        let mut values = match tensors.as_slice() {
            [] => Vec::new(),
            _ => Tensor::concat(&tensors.iter().collect::<Vec<_>>(), 0)?.to_vec_f64()?,
        };
        let mut counts: Vec<f64> = all.iter().map(|s| s.count as f64).collect();
        if let Some(communicator) = communicator {
            if let Some(tracked) = self.metrics.iter().find(|t| t.metric.custom.is_some()) {
                return Err(NnError::Usage(format!(
                    "metric {:?}: a custom metric keeps its own state, which cannot be summed over the {} ranks                      of data-parallel training; compute it after fit, or train in a single process",
                    tracked.metric.name,
                    communicator.size()
                )));
            }
            let sums = values.len();
            values.append(&mut counts);
            communicator.all_reduce_sum_f64(&mut values);
            counts = values.split_off(sums);
        }
        let mut values = values.into_iter();
        let mut host = |s: &Sums| -> Vec<Vec<f64>> {
            s.sums.iter().flatten().map(|t| values.by_ref().take(t.numel()).collect()).collect()
        };
        let mut counts = counts.into_iter();
        let mut logs = Logs::new();
        let mut mean = |name: String, s: &Sums, count: f64| {
            let sum = host(s);
            logs.insert(name, sum.first().map_or(0.0, |v| v[0] / count.max(1.0)));
        };
        mean(format!("{prefix}loss"), &self.loss, counts.next().unwrap_or(0.0));
        for (name, sums) in self.output_loss_names.iter().zip(&self.output_losses) {
            mean(format!("{prefix}{name}"), sums, counts.next().unwrap_or(0.0));
        }
        for (tracked, sums) in self.metrics.iter().zip(&self.sums) {
            let metric = &tracked.metric;
            let count = counts.next().unwrap_or(0.0);
            let value = match (&metric.custom, host(sums)) {
                (Some(custom), _) => custom.lock(&metric.name)?.result()?,
                (None, read) if read.is_empty() => 0.0,
                (None, mut read) if tracked.weighted && metric.is_mean() => {
                    let total = read.pop().and_then(|t| t.first().copied()).unwrap_or(0.0);
                    metric.result(&read, total)
                }
                (None, read) => metric.result(&read, count),
            };
            logs.insert(format!("{prefix}{}", tracked.log_name), value);
        }
        Ok(logs)
    }
}

#[cfg(test)]
mod tests {
    use tensor_core::Device;

    use super::*;

    /// Counts are exact and the ratios are computed in f64 on the host.
    const TOLERANCE: f64 = 1e-12;

    fn t(values: &[f64], shape: &[usize]) -> Tensor {
        Tensor::from_slice(values, shape.to_vec(), &Device::Cpu).unwrap()
    }

    /// The value of `metric` (for `loss`) over the given batches of (targets, predictions).
    fn value(metric: &str, loss: Loss, batches: &[(Tensor, Tensor)]) -> f64 {
        let output = batches[0].1.dims()[1..].to_vec();
        let metric = Metric::resolve(metric, &loss, &output).unwrap();
        let name = metric.name().to_string();
        let tracked = TrackedMetric { log_name: name.clone(), metric, output: 0, weighted: false };
        let mut tracker = Tracker::new(vec![tracked], Vec::new()).unwrap();
        for (y_true, y_pred) in batches {
            let zero = Tensor::scalar(0.0, y_pred.dtype(), &Device::Cpu).unwrap();
            let (y_true, y_pred) = (std::slice::from_ref(y_true), std::slice::from_ref(y_pred));
            tracker.update(&zero, &[], y_pred[0].dims()[0], y_true, y_pred, None).unwrap();
        }
        tracker.read("").unwrap()[&name]
    }

    fn close(actual: f64, expected: f64) {
        assert!((actual - expected).abs() <= TOLERANCE, "got {actual}, expected {expected}");
    }

    #[test]
    fn accuracy_follows_the_loss() {
        let bce = Loss::BinaryCrossentropy { from_logits: false, label_smoothing: 0.0 };
        // y_pred > 0.5 (strict): predictions 1, 0, 1, 0 against 1, 1, 0, 0.
        let binary = (t(&[1.0, 1.0, 0.0, 0.0], &[4, 1]), t(&[0.9, 0.5, 0.7, 0.2], &[4, 1]));
        close(value("accuracy", bce, &[binary]), 0.5);

        // First arg-max (the tie in the last row picks class 0): 2, 0, 0 against 2, 1, 0.
        let p = t(&[0.1, 0.2, 0.7, 0.5, 0.4, 0.1, 0.4, 0.4, 0.2], &[3, 3]);
        let one_hot = t(&[0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0], &[3, 3]);
        let cce = Loss::CategoricalCrossentropy { from_logits: false, label_smoothing: 0.0 };
        close(value("accuracy", cce, &[(one_hot, p.clone())]), 2.0 / 3.0);
        let scce = Loss::SparseCategoricalCrossentropy { from_logits: false };
        close(value("acc", scce, &[(t(&[2.0, 1.0, 0.0], &[3]), p.clone())]), 2.0 / 3.0);
        // Summed over batches: 1 of 1 right, then 1 of 2.
        let first = (t(&[2.0], &[1, 1]), p.slice(0, 0, 1).unwrap());
        let rest = (t(&[1.0, 0.0], &[2, 1]), p.slice(0, 1, 3).unwrap());
        close(value("sparse_categorical_accuracy", scce, &[first, rest]), 2.0 / 3.0);
    }

    #[test]
    fn precision_recall_and_f1_of_one_column() {
        // Predictions 1, 1, 0, 1, 1 against 1, 0, 1, 1, 0: TP 2, FP 2, FN 1.
        let batch = (t(&[1.0, 0.0, 1.0, 1.0, 0.0], &[5, 1]), t(&[0.8, 0.6, 0.4, 0.9, 0.7], &[5, 1]));
        let bce = Loss::BinaryCrossentropy { from_logits: false, label_smoothing: 0.0 };
        close(value("precision", bce, std::slice::from_ref(&batch)), 0.5);
        close(value("recall", bce, std::slice::from_ref(&batch)), 2.0 / 3.0);
        // 2PR / (P + R) = 4/7; Keras's epsilons move it by under 1e-7.
        assert!((value("f1_score", bce, &[batch]) - 4.0 / 7.0).abs() < 1e-6);
    }

    #[test]
    fn regression_errors_average_over_every_output_of_every_batch() {
        // Errors 1, -2 | 0.5, 0, -1, 3 over two batches: squares sum 15.25, absolutes 7.5, n = 6.
        let batches = [
            (t(&[0.0, 2.0], &[1, 2]), t(&[1.0, 0.0], &[1, 2])),
            (t(&[1.0, 1.0, 1.0, 1.0], &[2, 2]), t(&[1.5, 1.0, 0.0, 4.0], &[2, 2])),
        ];
        close(value("mse", Loss::MeanSquaredError, &batches), 15.25 / 6.0);
        close(value("mean_absolute_error", Loss::MeanSquaredError, &batches), 7.5 / 6.0);
        close(value("rmse", Loss::MeanSquaredError, &batches), (15.25f64 / 6.0).sqrt());
    }

    #[test]
    fn multi_class_precision_is_per_element_and_f1_is_macro() {
        let cce = Loss::CategoricalCrossentropy { from_logits: false, label_smoothing: 0.0 };
        // Every element at 0.5: predicted [[1, 1], [0, 0]] against [[1, 0], [0, 1]]: TP 1, FP 1, FN 1.
        let batch = (t(&[1.0, 0.0, 0.0, 1.0], &[2, 2]), t(&[0.7, 0.6, 0.2, 0.4], &[2, 2]));
        close(value("precision", cce, std::slice::from_ref(&batch)), 0.5);
        close(value("recall", cce, &[batch]), 0.5);
        // Row maxima 0, 1, 1, 2 against 0, 1, 2, 1: F1 per class 1, 1/2, 0; macro mean 1/2.
        let y = t(&[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0], &[4, 3]);
        let p = t(&[0.8, 0.1, 0.1, 0.2, 0.7, 0.1, 0.1, 0.5, 0.4, 0.1, 0.3, 0.6], &[4, 3]);
        assert!((value("f1", cce, &[(y, p.clone())]) - 0.5).abs() < 1e-6);
        // Class ids are one-hot encoded first.
        let scce = Loss::SparseCategoricalCrossentropy { from_logits: false };
        assert!((value("f1_score", scce, &[(t(&[0.0, 1.0, 2.0, 1.0], &[4]), p)]) - 0.5).abs() < 1e-6);
    }

    #[test]
    fn auc_streams_over_batches() {
        // Positives 0.3 and 0.9 against negatives 0 and 0.5: no threshold of the 200 falls on a
        // prediction, so the interpolated curve has the corners (1, 1), (0.5, 1), (0.5, 0.5),
        // (0, 0.5), (0, 0): area 0.5 + 0.25 = 0.75, the exact ROC AUC (3 of 4 pairs ordered).
        let bce = Loss::BinaryCrossentropy { from_logits: false, label_smoothing: 0.0 };
        let whole = (t(&[0.0, 0.0, 1.0, 1.0], &[4, 1]), t(&[0.0, 0.5, 0.3, 0.9], &[4, 1]));
        close(value("auc", bce, std::slice::from_ref(&whole)), 0.75);
        let first = (t(&[0.0, 1.0], &[2, 1]), t(&[0.0, 0.9], &[2, 1]));
        let second = (t(&[0.0, 1.0], &[2, 1]), t(&[0.5, 0.3], &[2, 1]));
        close(value("AUC", bce, &[first, second]), 0.75);
        // Sparse targets are one-hot encoded: every element is a decision. Rows (0.8, 0.2) class
        // 0 and (0.4, 0.6) class 1: positives 0.8, 0.6 above negatives 0.2, 0.4: area 1.
        let scce = Loss::SparseCategoricalCrossentropy { from_logits: false };
        close(value("auc", scce, &[(t(&[0.0, 1.0], &[2]), t(&[0.8, 0.2, 0.4, 0.6], &[2, 2]))]), 1.0);
    }

    #[test]
    fn metric_names_are_checked_against_the_loss() {
        let mse = Loss::MeanSquaredError;
        assert_eq!(Metric::resolve("accuracy", &mse, &[1]).unwrap().kind(), MetricKind::BinaryAccuracy);
        assert_eq!(Metric::resolve("accuracy", &mse, &[4]).unwrap().kind(), MetricKind::CategoricalAccuracy);
        assert!(Metric::resolve("sparse_categorical_accuracy", &mse, &[4]).is_err());
        let scce = Loss::SparseCategoricalCrossentropy { from_logits: false };
        assert!(Metric::resolve("categorical_accuracy", &scce, &[4]).is_err());
        let err = Metric::resolve("roc", &mse, &[1]).unwrap_err().to_string();
        assert!(err.contains("unknown metric \"roc\""), "{err}");
    }
}
