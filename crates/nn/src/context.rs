//! What a forward pass needs besides its inputs: whether it is training, and the tape that
//! records it.

use std::collections::HashMap;

use tensor_core::{DType, Gradients, Tape, Tensor};

use crate::{Activation, Result, Weight};

/// The state of one forward pass. In training, every trainable weight a layer reads is watched
/// on the tape (once), so its gradient can be looked up after the backward sweep; layers with
/// randomness (dropout) draw fresh, reproducible seeds from it.
pub struct ForwardCtx<'t> {
    training: bool,
    tape: Option<&'t Tape>,
    watched: HashMap<u64, Tensor>,
    seed: u64,
    draws: u64,
    /// The last softmax or sigmoid output a layer produced, with the logits it came from.
    squashed: Option<Squashed>,
    /// New values for non-trainable state (BatchNormalization's moving statistics) that the
    /// pass computed, by weight id: the pass itself writes nothing, so that looking at a model
    /// (gradients, their norms) leaves it as it was; a training step commits them.
    state_updates: Vec<(u64, Tensor)>,
    /// The dtype layers compute in when it is not their weights' (mixed precision), and each
    /// weight's value cast to it in this pass, by weight id.
    compute: Option<DType>,
    cast_weights: HashMap<u64, Tensor>,
}

/// A probability output and the logits it was computed from, so that a cross-entropy on the
/// probabilities can be computed from the logits instead, as Keras's TensorFlow backend does:
/// exact, and free of the clipping that stops gradients when the probabilities saturate.
#[derive(Clone)]
pub struct Squashed {
    pub activation: Activation,
    pub output: Tensor,
    pub logits: Tensor,
}

impl<'t> ForwardCtx<'t> {
    /// Inference: nothing is recorded, dropout is off, batch norm uses its moving statistics.
    pub fn inference() -> ForwardCtx<'static> {
        ForwardCtx {
            training: false,
            tape: None,
            watched: HashMap::new(),
            seed: 0,
            draws: 0,
            squashed: None,
            state_updates: Vec::new(),
            compute: None,
            cast_weights: HashMap::new(),
        }
    }

    /// Training: trainable weights are watched on `tape`; `seed` starts this step's random streams.
    pub fn training(tape: &'t Tape, seed: u64) -> ForwardCtx<'t> {
        ForwardCtx {
            training: true,
            tape: Some(tape),
            watched: HashMap::new(),
            seed,
            draws: 0,
            squashed: None,
            state_updates: Vec::new(),
            compute: None,
            cast_weights: HashMap::new(),
        }
    }

    pub fn is_training(&self) -> bool {
        self.training
    }

    /// The tensor a layer computes with for `weight`: in training, the tape's watched view of a
    /// trainable weight (the same one every time it is read in this pass); otherwise the value.
    /// Under mixed precision, that tensor cast to the compute dtype (once per pass, on the
    /// tape, so the gradient comes back to the f32 weight).
    pub fn weight(&mut self, weight: &Weight) -> Tensor {
        let Some(dtype) = self.compute else { return self.weight_value(weight) };
        if let Some(cast) = self.cast_weights.get(&weight.id()) {
            return cast.clone();
        }
        let value = self.weight_value(weight);
        // The model's inputs were cast to this dtype first (an error there if the device lacks
        // it), so this cast succeeds; were it to fail, the op mixing dtypes would say so.
        let cast = value.cast(dtype).unwrap_or(value);
        self.cast_weights.insert(weight.id(), cast.clone());
        cast
    }

    /// Sets the dtype layers compute in (`None`: their weights').
    pub(crate) fn set_compute_dtype(&mut self, dtype: Option<DType>) {
        self.compute = dtype;
    }

    /// A model output computed in f16, cast to `dtype` on the tape for the losses and metrics;
    /// a softmax or sigmoid it came from keeps its logits, cast too, so cross-entropies still
    /// take them.
    pub(crate) fn widen_output(&mut self, output: &Tensor, dtype: DType) -> crate::Result<Tensor> {
        let wide = output.cast(dtype)?;
        if let Some(squashed) = self.squashed.as_mut().filter(|s| s.output.shares_storage(output)) {
            squashed.logits = squashed.logits.cast(dtype)?;
            squashed.output = wide.clone();
        }
        Ok(wide)
    }

    /// The tensor a layer computes with for `weight`, in the weight's own dtype.
    fn weight_value(&mut self, weight: &Weight) -> Tensor {
        if let Some(value) = self.watched.get(&weight.id()) {
            return value.clone();
        }
        match self.tape {
            Some(tape) if weight.trainable() => {
                let watched = tape.watch(weight.value());
                self.watched.insert(weight.id(), watched.clone());
                watched
            }
            _ => weight.value().clone(),
        }
    }

    /// Makes layers compute with `value` in place of `weight` for the rest of this pass, in any
    /// mode: a gradient check passes its own watched, perturbed tensors this way.
    pub fn substitute(&mut self, weight: &Weight, value: Tensor) {
        self.watched.insert(weight.id(), value);
    }

    /// Applies `activation` to `x`, remembering the logits behind a softmax or sigmoid output.
    pub fn activate(&mut self, activation: Activation, x: &Tensor) -> Result<Tensor> {
        let output = activation.apply(x)?;
        if matches!(activation, Activation::Softmax | Activation::Sigmoid) {
            self.squashed = Some(Squashed { activation, output: output.clone(), logits: x.clone() });
        }
        Ok(output)
    }

    /// A layer's product followed by `activation`: `product` runs with the activation fused into
    /// it where it can be (see [`Activation::fusable`]), else without, and the activation is
    /// applied here. Softmax and sigmoid are applied here so that a cross-entropy can find their
    /// logits (see [`ForwardCtx::logits_of`]).
    pub fn product_then(
        &mut self,
        activation: Activation,
        product: impl FnOnce(tensor_core::Activation) -> tensor_core::Result<Tensor>,
    ) -> Result<Tensor> {
        match activation.fusable() {
            Some(fused) if !matches!(activation, Activation::Sigmoid) => Ok(product(fused)?),
            _ => {
                let y = product(tensor_core::Activation::Identity)?;
                self.activate(activation, &y)
            }
        }
    }

    /// The logits behind `output`, if it is the last softmax or sigmoid output of this pass.
    pub fn logits_of(&self, output: &Tensor) -> Option<&Squashed> {
        self.squashed
            .as_ref()
            .filter(|s| s.output.shares_storage(output) && s.output.shape() == output.shape())
    }

    /// A fresh seed for a random op, distinct for every call within and across steps.
    pub fn next_seed(&mut self) -> u64 {
        self.draws += 1;
        tensor_core::rng::random_bits(self.seed, self.draws as u32) as u64 | (self.seed << 32)
    }

    /// Records `value` as the new value of the non-trainable `weight` (a moving statistic),
    /// to be written by [`ForwardCtx::commit_state`] rather than now.
    pub fn update_state(&mut self, weight: &Weight, value: Tensor) {
        self.state_updates.retain(|(id, _)| *id != weight.id());
        self.state_updates.push((weight.id(), value));
    }

    /// The state updates this pass has recorded, by weight id, in the order recorded.
    pub fn state_updates(&self) -> &[(u64, Tensor)] {
        &self.state_updates
    }

    /// Writes the recorded state updates into those of `weights` they are for, and forgets them.
    pub fn commit_state(&mut self, weights: &[&Weight]) -> Result<()> {
        commit_state(self.take_state_updates(), weights)
    }

    /// The recorded state updates, taken out of the context.
    pub fn take_state_updates(&mut self) -> Vec<(u64, Tensor)> {
        std::mem::take(&mut self.state_updates)
    }

    /// The gradient for `weight` after a backward sweep, if the loss depended on it.
    pub fn gradient<'g>(&self, grads: &'g Gradients, weight: &Weight) -> Option<&'g Tensor> {
        grads.get(self.watched.get(&weight.id())?)
    }
}

/// Writes each of `updates` (weight id, new value) into the one of `weights` it is for.
pub(crate) fn commit_state(updates: Vec<(u64, Tensor)>, weights: &[&Weight]) -> Result<()> {
    for (id, value) in updates {
        if let Some(weight) = weights.iter().find(|w| w.id() == id) {
            weight.assign(&value)?;
        }
    }
    Ok(())
}
