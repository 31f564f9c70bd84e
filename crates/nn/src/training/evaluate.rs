//! `evaluate` and `predict`: passes over data in inference mode, batch by batch.

use tensor_core::{Tensor, no_grad};

use super::data::{Dataset, gather, sample_order, upload_inputs};
use super::options::check_batch_size;
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
        let mut progress = Progress::new(options.verbose, options.output, self.log_order());
        progress.start(data.samples().div_ceil(options.batch_size));
        let logs = self.run_test(&data, options.batch_size, Some(&mut progress))?.read("")?;
        progress.finish(&logs)?;
        Ok(logs)
    }

    /// Keras's `predict`: the model's output for `x` (class probabilities for a softmax
    /// classifier), computed `batch_size` samples at a time in inference mode, on the model's
    /// device. A model of several outputs predicts with [`Model::predict_all`].
    pub fn predict(&self, x: impl Into<Inputs>, batch_size: usize) -> Result<Tensor> {
        let mut outputs = self.predict_all(x, batch_size)?;
        match outputs.len() {
            1 => outputs.pop().ok_or_else(|| NnError::Usage("predict: no output".into())),
            n => Err(NnError::Usage(format!(
                "predict: model \"{}\" has {n} outputs; predict_all gives each",
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
        no_grad(|| {
            let batches = order
                .chunks(batch_size)
                .map(|chunk| self.forward_all(&gather(&inputs, chunk)?, &mut ForwardCtx::inference()))
                .collect::<Result<Vec<_>>>()?;
            (0..self.output_shapes().len())
                .map(|k| {
                    let parts: Vec<&Tensor> = batches.iter().map(|outputs| &outputs[k]).collect();
                    Ok(Tensor::concat(&parts, 0)?)
                })
                .collect()
        })
    }

    /// The loss and metrics of `data`, summed on the device over batches of `batch_size`,
    /// advancing `progress` if given.
    pub(crate) fn run_test(
        &self,
        data: &Dataset,
        batch_size: usize,
        mut progress: Option<&mut Progress<'_>>,
    ) -> Result<Tracker> {
        let compiled = self.require_compiled("evaluate")?;
        let mut tracker = compiled.tracker()?;
        for (step, chunk) in sample_order(data.samples(), false, 0).chunks(batch_size).enumerate() {
            let (inputs, targets, weights) = data.batch(chunk)?;
            let (losses, predictions) = self.test_step(&inputs, &targets, weights.as_ref(), compiled)?;
            let weights = weights.as_ref();
            tracker.update(
                &losses.total,
                &losses.per_output,
                chunk.len(),
                &targets,
                &predictions,
                weights,
            )?;
            if let Some(progress) = progress.as_deref_mut() {
                progress.step(step + 1, || tracker.read(""))?;
            }
        }
        Ok(tracker)
    }
}
