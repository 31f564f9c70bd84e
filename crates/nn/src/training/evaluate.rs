//! `evaluate` and `predict`: passes over data in inference mode, batch by batch.

use tensor_core::{Tensor, no_grad};

use super::data::{Dataset, gather, sample_order, upload_inputs};
use super::options::check_batch_size;
use super::source::{BatchSource, TensorBatches};
use super::{EvaluateOptions, Inputs, Targets};
use crate::metrics::Tracker;
use crate::progress::Progress;
use crate::{ForwardCtx, Logs, Model, NnError, Result};

impl Model {
    /// Keras's `evaluate`: the loss (regularization included) and the compiled metrics over `x`
    /// and `y` (one target tensor per output), keyed by name ("loss", "accuracy", ...). With a
    /// `sample_weight` the loss and the weighted metrics are weighted, as Keras weights the
    /// metrics of `compile(metrics=...)` by nothing.
    pub fn evaluate(
        &self,
        x: impl Into<Inputs>,
        y: impl Into<Targets>,
        options: EvaluateOptions<'_>,
    ) -> Result<Logs> {
        options.check()?;
        let targets = y.into().per_output(self, "evaluate")?;
        self.require_compiled("evaluate")?.check_targets(&targets, &self.output_shapes())?;
        let data = Dataset::new(self, x.into(), &targets, "evaluate")?.with_weights(
            self,
            options.sample_weight.as_ref(),
            "evaluate",
        )?;
        let mut data = TensorBatches { data, batch_size: options.batch_size, shuffle: false, seed: 0 };
        let mut progress = Progress::new(options.verbose, options.output, self.log_order());
        progress.start(data.steps());
        let logs = self.run_test(&mut data, Some(&mut progress))?.read("")?;
        progress.finish(&logs)?;
        Ok(logs)
    }

    /// Keras's `predict`: the model's output for `x` (class probabilities for a softmax
    /// classifier), computed `batch_size` samples at a time in inference mode, on the model's
    /// device. A model of several outputs predicts with [`Model::predict_all`].
    pub fn predict(&self, x: impl Into<Inputs>, batch_size: usize) -> Result<Tensor> {
        self.single_output(self.predict_all(x, batch_size)?, "predict")
    }

    /// The one output of `outputs`, or an error for a model of several (named `call`).
    pub(crate) fn single_output(&self, mut outputs: Vec<Tensor>, call: &str) -> Result<Tensor> {
        match outputs.len() {
            1 => outputs.pop().ok_or_else(|| NnError::Usage(format!("{call}: no output"))),
            n => Err(NnError::Usage(format!(
                "{call}: model \"{}\" has {n} outputs; {call}_all gives each",
                self.name()
            ))),
        }
    }

    /// [`Model::predict`] for a model of any number of outputs: one tensor per output, in the
    /// model's order.
    pub fn predict_all(&self, x: impl Into<Inputs>, batch_size: usize) -> Result<Vec<Tensor>> {
        check_batch_size("batch_size", batch_size)?;
        let (inputs, samples) = upload_inputs(self, x.into(), "predict")?;
        let order = sample_order(samples, false, 0);
        self.predict_batches(order.chunks(batch_size).map(|chunk| gather(&inputs, chunk)))
    }

    /// Every output of the model over `batches` of inputs (on its device), in inference mode,
    /// concatenated along the samples.
    pub(crate) fn predict_batches(
        &self,
        batches: impl Iterator<Item = Result<Vec<Tensor>>>,
    ) -> Result<Vec<Tensor>> {
        no_grad(|| {
            let batches = batches
                .map(|inputs| self.forward_all(&inputs?, &mut ForwardCtx::inference()))
                .collect::<Result<Vec<_>>>()?;
            (0..self.output_shapes().len())
                .map(|k| {
                    let parts: Vec<&Tensor> = batches.iter().map(|outputs| &outputs[k]).collect();
                    Ok(Tensor::concat(&parts, 0)?)
                })
                .collect()
        })
    }

    /// The loss and metrics of one pass over `data` (its first epoch), summed on the device,
    /// advancing `progress` if given.
    pub(crate) fn run_test(
        &self,
        data: &mut dyn BatchSource,
        mut progress: Option<&mut Progress<'_>>,
    ) -> Result<Tracker> {
        let compiled = self.require_compiled("evaluate")?;
        let mut tracker = compiled.tracker()?;
        for (step, batch) in data.epoch(0)?.enumerate() {
            let ((inputs, targets, weights), samples) = batch?;
            let (losses, predictions) = self.test_step(&inputs, &targets, weights.as_ref(), compiled)?;
            let weights = weights.as_ref();
            tracker.update(&losses.total, &losses.per_output, samples, &targets, &predictions, weights)?;
            if let Some(progress) = progress.as_deref_mut() {
                progress.step(step + 1, || tracker.read(""))?;
            }
        }
        Ok(tracker)
    }
}
