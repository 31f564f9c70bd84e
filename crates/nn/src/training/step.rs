//! One step on one batch: a training step (forward on a tape, loss, backward, optimizer update)
//! or a test step (forward in inference, loss), and Keras's `train_on_batch` built on the first.

use tensor_core::{Tape, Tensor, no_grad};

use super::Inputs;
use super::data::Dataset;
use crate::context::commit_state;
use crate::losses::AnyLoss;
use crate::metrics::Tracker;
use crate::{ForwardCtx, Logs, Model, Result};

/// What one forward and backward pass over a batch gives.
pub(crate) struct BackwardPass {
    /// The batch's loss (a scalar, regularization included), detached.
    pub(crate) loss: Tensor,
    /// The model's outputs, detached.
    pub(crate) predictions: Tensor,
    /// `(weight id, value, gradient)` for each trainable weight the loss depends on, in the
    /// model's weight order: what an optimizer update takes.
    pub(crate) gradients: Vec<(u64, Tensor, Tensor)>,
    /// `(weight id, new value)` for the non-trainable state (moving statistics) the pass
    /// computed and did not write, detached.
    pub(crate) state_updates: Vec<(u64, Tensor)>,
}

/// The seed of the random layers (dropout) at training step `iteration` of a run seeded `seed`:
/// distinct for every step, reproducible for the run.
pub(crate) fn step_seed(seed: u64, iteration: u64) -> u64 {
    seed.wrapping_mul(0x9e37_79b9_7f4a_7c15).wrapping_add(iteration)
}

impl Model {
    /// Keras's `train_on_batch`: one gradient step on all of `x` and `y` as a single batch.
    /// Returns this batch's loss (regularization included, before the update) and metrics.
    pub fn train_on_batch(&mut self, x: impl Into<Inputs>, y: &Tensor) -> Result<Logs> {
        let (inputs, targets, seed) = self.whole_batch(x.into(), y, "train_on_batch")?;
        let (loss, predictions) = self.train_step(&inputs, &targets, None, seed)?;
        let mut tracker = Tracker::new(&self.require_compiled("train_on_batch")?.metrics)?;
        let samples = targets.dims().first().copied().unwrap_or(1);
        tracker.update(&loss, samples, &targets, &predictions)?;
        tracker.read("")
    }

    /// All of `x` and `y` as one batch on the model's device, checked against the compiled
    /// loss, with the dropout seed of the next training step: what `train_on_batch` and
    /// `gradient_norms` (named `call` in errors) both step on.
    pub(crate) fn whole_batch(
        &mut self,
        x: Inputs,
        y: &Tensor,
        call: &str,
    ) -> Result<(Vec<Tensor>, Tensor, u64)> {
        self.require_compiled(call)?;
        self.build_for(&x)?;
        let compiled = self.require_compiled(call)?;
        compiled.loss.check_targets(y, &self.output_shape())?;
        let seed = step_seed(0, compiled.optimizer.iterations());
        let data = Dataset::new(self, x, y, call)?;
        let all: Vec<usize> = (0..data.samples()).collect();
        let (inputs, targets, _) = data.batch(&all)?;
        Ok((inputs, targets, seed))
    }

    /// One gradient step, each sample's loss scaled by `weights` if given: returns the batch's
    /// loss (a scalar, regularization included) and the predictions, both detached and still on
    /// the device.
    pub(crate) fn train_step(
        &mut self,
        inputs: &[Tensor],
        targets: &Tensor,
        weights: Option<&Tensor>,
        seed: u64,
    ) -> Result<(Tensor, Tensor)> {
        let pass = self.backward_pass(inputs, targets, weights, seed, "fit")?;
        commit_state(pass.state_updates, &self.weights())?;
        self.require_compiled_mut("fit")?.optimizer.apply(&pass.gradients)?;
        Ok((pass.loss, pass.predictions))
    }

    /// The forward pass on a tape in training mode, the compiled loss plus regularization, and
    /// the backward sweep, changing nothing (the moving statistics it computes come back in
    /// `state`): what a training step computes before its update, and what introspection
    /// reads. `weights` scale each sample's loss; `call` names the caller in errors.
    pub(crate) fn backward_pass(
        &self,
        inputs: &[Tensor],
        targets: &Tensor,
        weights: Option<&Tensor>,
        seed: u64,
        call: &str,
    ) -> Result<BackwardPass> {
        let loss_fn = &self.require_compiled(call)?.loss;
        let tape = Tape::new();
        let mut ctx = ForwardCtx::training(&tape, seed);
        let predictions = self.forward(inputs, &mut ctx)?;
        let loss = loss_fn.compute_for(targets, &predictions, ctx.logits_of(&predictions), weights)?;
        let loss = with_regularization(self, loss, &mut ctx)?;
        // A model whose weights are all frozen has nothing on the tape to differentiate.
        let gradients = if loss.is_tracked() {
            let grads = tape.backward(&loss)?;
            self.trainable_weights()
                .into_iter()
                .filter_map(|w| ctx.gradient(&grads, w).map(|g| (w.id(), w.value().clone(), g.clone())))
                .collect()
        } else {
            Vec::new()
        };
        let state_updates = ctx.take_state_updates().into_iter().map(|(id, v)| (id, v.detach())).collect();
        Ok(BackwardPass { loss: loss.detach(), predictions: predictions.detach(), gradients, state_updates })
    }

    /// The loss (each sample's scaled by `weights` if given) and predictions on a batch in
    /// inference mode, recording nothing.
    pub(crate) fn test_step(
        &self,
        inputs: &[Tensor],
        targets: &Tensor,
        weights: Option<&Tensor>,
        loss_fn: &AnyLoss,
    ) -> Result<(Tensor, Tensor)> {
        no_grad(|| {
            let mut ctx = ForwardCtx::inference();
            let predictions = self.forward(inputs, &mut ctx)?;
            let loss = loss_fn.compute_for(targets, &predictions, ctx.logits_of(&predictions), weights)?;
            let loss = with_regularization(self, loss, &mut ctx)?;
            Ok((loss, predictions))
        })
    }
}

/// `loss` plus the model's regularization penalties for this pass, as Keras adds them to the
/// loss it reports and differentiates.
fn with_regularization(model: &Model, loss: Tensor, ctx: &mut ForwardCtx<'_>) -> Result<Tensor> {
    Ok(match model.regularization_loss(ctx)? {
        Some(penalty) => loss.add(&penalty)?,
        None => loss,
    })
}
