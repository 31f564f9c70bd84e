//! Data-parallel training steps, as PyTorch's DistributedDataParallel and TensorFlow's mirrored
//! strategies take them: every rank computes the gradients of its shard of the global batch,
//! the ranks sum them weighted by their sample counts in one flat buffer, and each divides by
//! the global count and takes the same optimizer step.
//!
//! A batch's loss is a mean over its samples, so `Σ_r n_r · mean_r / Σ_r n_r` is the gradient
//! of the mean over the global batch: the step single-process training on the whole batch
//! takes, up to rounding. The moving statistics of normalisation layers are averaged the same
//! way (each rank normalises with its shard's statistics, as Keras's replicas do), which keeps
//! every weight identical on every rank; [`Model::check_replicas_agree`] verifies that.

use tensor_core::{DType, Element, Tensor};

use super::source::Shard;
use super::step::BatchLosses;
use crate::context::commit_state;
use crate::distributed::Communicator;
use crate::{Model, NnError, Result, Weight};

/// A host element type the ranks can sum.
trait Summable: Element {
    fn all_reduce_sum(communicator: &dyn Communicator, values: &mut [Self]);
}

impl Summable for f32 {
    fn all_reduce_sum(communicator: &dyn Communicator, values: &mut [f32]) {
        communicator.all_reduce_sum_f32(values);
    }
}

impl Summable for f64 {
    fn all_reduce_sum(communicator: &dyn Communicator, values: &mut [f64]) {
        communicator.all_reduce_sum_f64(values);
    }
}

/// What the ranks agree on after a step: the gradients to apply and the state to write.
struct Averaged {
    gradients: Vec<(u64, Tensor, Tensor)>,
    state: Vec<(u64, Tensor)>,
}

/// Checks, before training, that every rank has samples in every epoch's first batch: a global
/// batch or a data set smaller than the number of ranks would leave some rank without any.
pub(crate) fn check_shardable(
    samples: usize,
    batch_size: usize,
    communicator: &dyn Communicator,
) -> Result<()> {
    let ranks = communicator.size();
    if batch_size < ranks || samples < ranks {
        return Err(NnError::Usage(format!(
            "fit: data-parallel training over {ranks} ranks splits each batch across them; expected a \
             batch_size and a number of samples of at least {ranks}, got batch_size {batch_size} and {samples} \
             samples"
        )));
    }
    Ok(())
}

/// The seed of the random layers of rank `rank` at a step seeded `seed`: rank 0 keeps the
/// single-process seed, the others draw their own masks.
pub(crate) fn replica_seed(seed: u64, rank: usize) -> u64 {
    seed ^ (rank as u64).wrapping_mul(0xd1b5_4a32_d192_ed03)
}

/// Whether any rank asked to stop: callbacks may decide differently on different ranks, and all
/// must stop at the same step.
pub(crate) fn any_rank_stops(stop: bool, communicator: &dyn Communicator) -> bool {
    let mut votes = [f64::from(u8::from(stop))];
    communicator.all_reduce_sum_f64(&mut votes);
    votes[0] > 0.0
}

impl Model {
    /// One data-parallel training step on this rank's `shard`: the forward and backward pass on
    /// its samples (none when it has none), the ranks' gradients and moving statistics
    /// averaged, and the optimizer's update. Returns the shard's losses and predictions.
    pub(crate) fn replicated_train_step(
        &mut self,
        communicator: &dyn Communicator,
        shard: &Shard,
        seed: u64,
    ) -> Result<Option<(BatchLosses, Vec<Tensor>)>> {
        let pass = match &shard.batch {
            Some((inputs, targets, weights)) => {
                Some(self.backward_pass(inputs, targets, weights.as_ref(), seed, "fit")?)
            }
            None => None,
        };
        let (gradients, state) = match &pass {
            Some(pass) => (
                pass.gradients.iter().map(|(id, _, g)| (*id, g)).collect(),
                pass.state_updates.iter().map(|(id, v)| (*id, v)).collect(),
            ),
            None => (Vec::new(), Vec::new()),
        };
        let averaged = match self.host_dtype() {
            DType::F64 => self.average::<f64>(communicator, &gradients, &state, shard.samples)?,
            _ => self.average::<f32>(communicator, &gradients, &state, shard.samples)?,
        };
        commit_state(averaged.state, &self.weights())?;
        // The averaged gradients are the same on every rank, and so is whether they overflowed.
        self.require_compiled_mut("fit")?.update(&averaged.gradients)?;
        Ok(pass.map(|pass| (pass.losses, pass.predictions)))
    }

    /// The precision gradients travel in between ranks: f64 for a model of f64 weights, else f32.
    fn host_dtype(&self) -> DType {
        match self.weights().iter().all(|w| w.value().dtype() == DType::F64) {
            true => DType::F64,
            false => DType::F32,
        }
    }

    /// Sums over the ranks, in one buffer, each weight's gradient (trainable weights) or new
    /// value (the others) times this rank's `samples`, with the count of samples that
    /// contributed to it, and divides: the sample-weighted averages every rank agrees on.
    ///
    /// The buffer's layout comes from the model alone, the same on every rank: a slot per
    /// weight plus one count, zeros where a rank has nothing (no samples, or a weight its loss
    /// does not reach). A weight no rank contributed to is left out, as alone.
    fn average<T: Summable>(
        &self,
        communicator: &dyn Communicator,
        gradients: &[(u64, &Tensor)],
        state: &[(u64, &Tensor)],
        samples: usize,
    ) -> Result<Averaged> {
        let trainable = self.trainable_weights();
        let non_trainable = self.non_trainable_weights();
        let slots: Vec<(&Weight, Option<&Tensor>)> = trainable
            .iter()
            .map(|w| (*w, gradients.iter().find(|(id, _)| *id == w.id()).map(|(_, g)| *g)))
            .chain(
                non_trainable
                    .iter()
                    .map(|w| (*w, state.iter().find(|(id, _)| *id == w.id()).map(|(_, v)| *v))),
            )
            .collect();
        let mut offsets = Vec::with_capacity(slots.len());
        let mut length = 0;
        for (weight, _) in &slots {
            offsets.push(length);
            length += weight.value().numel() + 1;
        }
        let mut buffer = vec![T::zero(); length];
        let present: Vec<Tensor> = slots
            .iter()
            .filter_map(|(_, value)| *value)
            .map(|t| Ok(t.to_dtype(T::DTYPE)?.reshape([t.numel()])?))
            .collect::<Result<_>>()?;
        if !present.is_empty() {
            // One transfer from the device for the whole step.
            let host = Tensor::concat(&present.iter().collect::<Vec<_>>(), 0)?.to_vec::<T>()?;
            let scale = T::of(samples as f64);
            let mut values = host.into_iter();
            for ((weight, value), &offset) in slots.iter().zip(&offsets) {
                if value.is_none() {
                    continue;
                }
                let numel = weight.value().numel();
                for (slot, v) in buffer[offset..offset + numel].iter_mut().zip(values.by_ref()) {
                    *slot = v * scale;
                }
                buffer[offset + numel] = scale;
            }
        }
        T::all_reduce_sum(communicator, &mut buffer);
        let mut averaged = Averaged { gradients: Vec::new(), state: Vec::new() };
        for (k, ((weight, _), &offset)) in slots.iter().zip(&offsets).enumerate() {
            let numel = weight.value().numel();
            let count = buffer[offset + numel];
            if count <= T::zero() {
                continue;
            }
            let mean: Vec<T> = buffer[offset..offset + numel].iter().map(|&v| v / count).collect();
            let value = weight.value();
            let mean =
                Tensor::from_vec(mean, value.dims().to_vec(), value.device())?.to_dtype(value.dtype())?;
            match k < trainable.len() {
                true => averaged.gradients.push((weight.id(), value.clone(), mean)),
                false => averaged.state.push((weight.id(), mean)),
            }
        }
        Ok(averaged)
    }

    /// Checks that every rank holds the same weights after epoch `epoch` (0-based), by a hash
    /// of their bits: an error naming the ranks that differ from rank 0 if any does.
    pub(crate) fn check_replicas_agree(&self, communicator: &dyn Communicator, epoch: usize) -> Result<()> {
        let mut hash = Fnv::default();
        for weight in self.weights() {
            for value in weight.value().to_vec_f64()? {
                hash.add(value.to_bits());
            }
        }
        let hashes = communicator.all_gather_u64(hash.0);
        let differing: Vec<String> = hashes
            .iter()
            .enumerate()
            .filter(|(_, h)| **h != hashes[0])
            .map(|(rank, _)| rank.to_string())
            .collect();
        if differing.is_empty() {
            return Ok(());
        }
        Err(NnError::Usage(format!(
            "fit: after epoch {}, the weights of rank{} {} differ from rank 0's; data-parallel ranks must \
             take identical steps (same model, data and settings on every rank)",
            epoch + 1,
            if differing.len() == 1 { "" } else { "s" },
            differing.join(", ")
        )))
    }
}

/// FNV-1a over 64-bit words: a cheap hash to compare the ranks' weights by.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn add(&mut self, word: u64) {
        for byte in word.to_le_bytes() {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}
