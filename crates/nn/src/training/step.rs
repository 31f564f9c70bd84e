//! One step on one batch: a training step (forward on a tape, loss, backward, optimizer update)
//! or a test step (forward in inference, loss), and Keras's `train_on_batch` built on the first.

use tensor_core::{Tape, Tensor, no_grad};

use super::data::{Dataset, sample_weights_of};
use super::weights::class_weights_for;
use super::{BatchOptions, Compiled, Inputs, Targets};
use crate::context::commit_state;
use crate::mixed_precision::{LossScale, all_finite};
use crate::{ForwardCtx, Logs, Model, NnError, Result};

/// What one forward and backward pass over a batch gives.
pub(crate) struct BackwardPass {
    /// The batch's losses, detached.
    pub(crate) losses: BatchLosses,
    /// The model's outputs, detached.
    pub(crate) predictions: Vec<Tensor>,
    /// `(weight id, value, gradient)` for each trainable weight the loss depends on, in the
    /// model's weight order: what an optimizer update takes.
    pub(crate) gradients: Vec<(u64, Tensor, Tensor)>,
    /// `(weight id, new value)` for the non-trainable state (moving statistics) the pass
    /// computed and did not write, detached.
    pub(crate) state_updates: Vec<(u64, Tensor)>,
}

/// The losses of a batch: the total a training step differentiates and each output's own.
pub(crate) struct BatchLosses {
    /// Each output's loss times its weight, summed, plus the regularization penalties (a
    /// scalar): Keras's "loss".
    pub(crate) total: Tensor,
    /// Each output's loss, before its weight (Keras's "<output>_loss"), in output order.
    pub(crate) per_output: Vec<Tensor>,
}

impl BatchLosses {
    fn detach(&self) -> BatchLosses {
        BatchLosses {
            total: self.total.detach(),
            per_output: self.per_output.iter().map(Tensor::detach).collect(),
        }
    }
}

/// The seed of the random layers (dropout) at training step `iteration` of a run seeded `seed`:
/// distinct for every step, reproducible for the run.
pub(crate) fn step_seed(seed: u64, iteration: u64) -> u64 {
    seed.wrapping_mul(0x9e37_79b9_7f4a_7c15).wrapping_add(iteration)
}

impl Model {
    /// Keras's `train_on_batch`: one gradient step on all of `x` and `y` (one target tensor per
    /// output) as a single batch. Returns this batch's loss (regularization included, before the
    /// update) and metrics.
    pub fn train_on_batch(&mut self, x: impl Into<Inputs>, y: impl Into<Targets>) -> Result<Logs> {
        self.train_on_batch_with(x, y, BatchOptions::default())
    }

    /// [`Model::train_on_batch`] with Keras's `sample_weight` or `class_weight`, which weigh
    /// the samples' losses and the weighted metrics.
    pub fn train_on_batch_with(
        &mut self,
        x: impl Into<Inputs>,
        y: impl Into<Targets>,
        options: BatchOptions,
    ) -> Result<Logs> {
        options.check()?;
        let call = "train_on_batch";
        let (inputs, targets, seed) = self.whole_batch(x.into(), y.into(), call)?;
        let samples = inputs.first().and_then(|x| x.dims().first().copied()).unwrap_or(1);
        let weights = match (&options.sample_weight, &options.class_weight) {
            (_, Some(class_weight)) => Some(class_weights_for(self, class_weight, &targets, call)?),
            (Some(weights), None) => Some(sample_weights_of(self, weights, samples, call)?),
            (None, None) => None,
        };
        let weights = weights.as_ref();
        let (losses, predictions) = self.train_step(&inputs, &targets, weights, seed)?;
        let mut tracker = self.require_compiled(call)?.tracker()?;
        tracker.update(&losses.total, &losses.per_output, samples, &targets, &predictions, weights)?;
        tracker.read("")
    }

    /// All of `x` and `y` as one batch on the model's device, checked against the compiled
    /// losses, with the dropout seed of the next training step: what `train_on_batch` and
    /// `gradient_norms` (named `call` in errors) both step on.
    pub(crate) fn whole_batch(
        &mut self,
        x: Inputs,
        y: Targets,
        call: &str,
    ) -> Result<(Vec<Tensor>, Vec<Tensor>, u64)> {
        self.require_compiled(call)?;
        self.build_for(&x)?;
        let targets = y.per_output(self, call)?;
        let compiled = self.require_compiled(call)?;
        compiled.check_targets(&targets, &self.output_shapes())?;
        let seed = step_seed(0, compiled.optimizer.iterations());
        let data = Dataset::new(self, x, &targets, call)?;
        let all: Vec<usize> = (0..data.samples()).collect();
        let (inputs, targets, _) = data.batch(&all)?;
        Ok((inputs, targets, seed))
    }

    /// One gradient step, each sample's loss scaled by `weights` if given: returns the batch's
    /// losses and the predictions, detached and still on the device.
    pub(crate) fn train_step(
        &mut self,
        inputs: &[Tensor],
        targets: &[Tensor],
        weights: Option<&Tensor>,
        seed: u64,
    ) -> Result<(BatchLosses, Vec<Tensor>)> {
        let pass = self.backward_pass(inputs, targets, weights, seed, "fit")?;
        commit_state(pass.state_updates, &self.weights())?;
        self.require_compiled_mut("fit")?.update(&pass.gradients)?;
        Ok((pass.losses, pass.predictions))
    }

    /// The forward pass on a tape in training mode, the compiled losses plus regularization,
    /// and the backward sweep, changing nothing (the moving statistics it computes come back in
    /// `state`): what a training step computes before its update, and what introspection
    /// reads. `weights` scale each sample's loss; `call` names the caller in errors.
    pub(crate) fn backward_pass(
        &self,
        inputs: &[Tensor],
        targets: &[Tensor],
        weights: Option<&Tensor>,
        seed: u64,
        call: &str,
    ) -> Result<BackwardPass> {
        let compiled = self.require_compiled(call)?;
        let tape = Tape::new();
        let mut ctx = ForwardCtx::training(&tape, seed);
        let predictions = self.forward_all(inputs, &mut ctx)?;
        let losses = self.batch_losses(compiled, targets, &predictions, weights, &mut ctx)?;
        // A model whose weights are all frozen has nothing on the tape to differentiate.
        let gradients = if losses.total.is_tracked() {
            // Under mixed precision the loss is scaled up for the f16 backward pass, and the
            // f32 gradients scaled back down.
            let scale = compiled.loss_scale.as_ref().map(LossScale::scale);
            let grads = match scale {
                Some(scale) => tape.backward(&losses.total.mul_scalar(scale)?)?,
                None => tape.backward(&losses.total)?,
            };
            let unscale = |g: &Tensor| match scale {
                Some(scale) => g.mul_scalar(1.0 / scale),
                None => Ok(g.clone()),
            };
            self.trainable_weights()
                .into_iter()
                .filter_map(|w| ctx.gradient(&grads, w).map(|g| (w, g)))
                .map(|(w, g)| Ok((w.id(), w.value().clone(), unscale(g)?)))
                .collect::<Result<_>>()?
        } else {
            Vec::new()
        };
        let state_updates = ctx.take_state_updates().into_iter().map(|(id, v)| (id, v.detach())).collect();
        Ok(BackwardPass {
            losses: losses.detach(),
            predictions: predictions.iter().map(Tensor::detach).collect(),
            gradients,
            state_updates,
        })
    }

    /// The losses (each sample's scaled by `weights` if given) and predictions on a batch in
    /// inference mode, recording nothing.
    pub(crate) fn test_step(
        &self,
        inputs: &[Tensor],
        targets: &[Tensor],
        weights: Option<&Tensor>,
        compiled: &Compiled,
    ) -> Result<(BatchLosses, Vec<Tensor>)> {
        no_grad(|| {
            let mut ctx = ForwardCtx::inference();
            let predictions = self.forward_all(inputs, &mut ctx)?;
            let losses = self.batch_losses(compiled, targets, &predictions, weights, &mut ctx)?;
            Ok((losses, predictions))
        })
    }

    /// Each output's compiled loss on its targets, and their total: each times its weight, plus
    /// the model's regularization penalties for this pass, as Keras adds them to the loss it
    /// reports and differentiates.
    fn batch_losses(
        &self,
        compiled: &Compiled,
        targets: &[Tensor],
        predictions: &[Tensor],
        weights: Option<&Tensor>,
        ctx: &mut ForwardCtx<'_>,
    ) -> Result<BatchLosses> {
        let mut total: Option<Tensor> = None;
        let mut per_output = Vec::with_capacity(compiled.outputs.len());
        for ((output, y), p) in compiled.outputs.iter().zip(targets).zip(predictions) {
            let loss = output.loss.compute_for(y, p, ctx.logits_of(p), weights)?;
            // A weight of 1 adds no op, so a model of one output computes what it always has.
            let weighted =
                if output.loss_weight == 1.0 { loss.clone() } else { loss.mul_scalar(output.loss_weight)? };
            total = Some(match total {
                None => weighted,
                Some(sum) => sum.add(&weighted)?,
            });
            per_output.push(loss);
        }
        let total = total
            .ok_or_else(|| NnError::Usage(format!("model \"{}\" has no output to train", self.name())))?;
        let total = match self.regularization_loss(ctx)? {
            Some(penalty) => total.add(&penalty)?,
            None => total,
        };
        Ok(BatchLosses { total, per_output })
    }
}

impl Compiled {
    /// The optimizer's update with a step's `(weight id, value, gradient)`s. Under mixed
    /// precision a step whose gradients overflowed is skipped, and the loss scale halves.
    pub(crate) fn update(&mut self, gradients: &[(u64, Tensor, Tensor)]) -> Result<()> {
        let apply = match &mut self.loss_scale {
            Some(scale) => scale.after_step(all_finite(gradients)?),
            None => true,
        };
        if apply {
            self.optimizer.apply(gradients)?;
        }
        Ok(())
    }

    /// Checks each output's targets against its loss and its `shapes` (batch axis excluded).
    pub(crate) fn check_targets(&self, targets: &[Tensor], shapes: &[Vec<usize>]) -> Result<()> {
        for ((output, y), shape) in self.outputs.iter().zip(targets).zip(shapes) {
            output.loss.check_targets(y, shape).map_err(|e| match self.outputs.len() {
                1 => e,
                _ => NnError::Data(format!("output \"{}\": {e}", output.name)),
            })?;
        }
        Ok(())
    }
}
