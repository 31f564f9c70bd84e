//! Where a pass over data takes its batches from: tensors already on the model's device
//! ([`TensorBatches`]: batches gathered there by index) or a user's [`BatchStream`]
//! ([`StreamBatches`]: batches made on the host, moved to the device one at a time). `fit`'s
//! epoch loop and `evaluate`'s pass read either through [`BatchSource`], so both kinds of data
//! share one loop: progress, callbacks, validation and history.

use std::collections::BTreeMap;

use super::data::{Batch, Dataset, Placement, check_samples, sample_order};
use super::step::step_seed;
use super::weights::class_sample_weights;
use crate::data::{BatchStream, HostBatch};
use crate::losses::AnyLoss;
use crate::{Model, NnError, Result};

/// One epoch's batches, each with its number of samples.
pub(crate) type EpochBatches<'s> = Box<dyn Iterator<Item = Result<(Batch, usize)>> + 's>;

/// One rank's shards of an epoch's batches, in data-parallel training.
pub(crate) type EpochShards<'s> = Box<dyn Iterator<Item = Result<Shard>> + 's>;

/// One rank's part of a global batch.
pub(crate) struct Shard {
    /// The rank's samples; `None` when the global batch has fewer samples than there are ranks
    /// and this one is left without.
    pub(crate) batch: Option<Batch>,
    /// How many samples the rank's part holds.
    pub(crate) samples: usize,
}

/// Batches with a known count per epoch.
pub(crate) trait BatchSource {
    /// Batches per epoch: what the progress bar counts to.
    fn steps(&self) -> usize;

    /// The batches of epoch `epoch`, on the model's device.
    fn epoch(&mut self, epoch: usize) -> Result<EpochBatches<'_>>;

    /// Rank `rank`'s shards of the batches of epoch `epoch` split across `ranks` ranks: the
    /// same batches as [`BatchSource::epoch`] gives on every rank, each cut into `ranks`
    /// disjoint parts as equal as possible.
    fn epoch_shards(&mut self, epoch: usize, rank: usize, ranks: usize) -> Result<EpochShards<'_>>;
}

/// A [`Dataset`] on the device, in batches of `batch_size`, visited in an order shuffled per
/// epoch from `seed` when `shuffle` is set.
pub(crate) struct TensorBatches {
    pub(crate) data: Dataset,
    pub(crate) batch_size: usize,
    pub(crate) shuffle: bool,
    pub(crate) seed: u64,
}

impl TensorBatches {
    /// The sample indices of each batch of epoch `epoch`, in order.
    fn chunks(&self, epoch: usize) -> Vec<Vec<usize>> {
        let order = sample_order(
            self.data.samples(),
            self.shuffle,
            step_seed(self.seed, epoch as u64).rotate_left(32),
        );
        order.chunks(self.batch_size).map(<[usize]>::to_vec).collect()
    }
}

impl BatchSource for TensorBatches {
    fn steps(&self) -> usize {
        self.data.samples().div_ceil(self.batch_size)
    }

    fn epoch(&mut self, epoch: usize) -> Result<EpochBatches<'_>> {
        let data = &self.data;
        let chunks = self.chunks(epoch);
        Ok(Box::new(chunks.into_iter().map(move |chunk| Ok((data.batch(&chunk)?, chunk.len())))))
    }

    fn epoch_shards(&mut self, epoch: usize, rank: usize, ranks: usize) -> Result<EpochShards<'_>> {
        let data = &self.data;
        let shards: Vec<Vec<usize>> = self
            .chunks(epoch)
            .into_iter()
            .map(|chunk| chunk[shard_range(chunk.len(), rank, ranks)].to_vec())
            .collect();
        Ok(Box::new(shards.into_iter().map(move |part| {
            let batch = if part.is_empty() { None } else { Some(data.batch(&part)?) };
            Ok(Shard { batch, samples: part.len() })
        })))
    }
}

/// A stream's batches moved to the model's device and dtype, their targets checked against
/// the compiled loss, and class weights (if any) turned into sample weights batch by batch.
pub(crate) struct StreamBatches<'s> {
    stream: &'s mut dyn BatchStream,
    conversion: Conversion,
}

/// What [`StreamBatches`] does to each batch.
struct Conversion {
    placement: Placement,
    loss: AnyLoss,
    output_shape: Vec<usize>,
    class_weight: Option<BTreeMap<usize, f64>>,
    /// Names the data in errors ("fit", "validation_data"...).
    what: &'static str,
}

impl<'s> StreamBatches<'s> {
    pub(crate) fn new(model: &Model, stream: &'s mut dyn BatchStream, what: &'static str) -> Result<Self> {
        let conversion = Conversion {
            placement: Placement::of(model),
            // A stream's batches hold one target tensor, so they train a model of one output.
            loss: model.require_compiled(what)?.single_loss(what)?.clone(),
            output_shape: model.output_shape(),
            class_weight: None,
            what,
        };
        Ok(StreamBatches { stream, conversion })
    }

    /// Weighs each sample's loss by its class's weight (Keras's `class_weight`).
    pub(crate) fn with_class_weight(mut self, class_weight: Option<BTreeMap<usize, f64>>) -> Self {
        self.conversion.class_weight = class_weight;
        self
    }
}

impl Conversion {
    /// A stream's batch as a training or test batch: targets required, counts checked.
    fn convert(&self, step: usize, batch: HostBatch) -> Result<(Batch, usize)> {
        let what = self.what;
        let HostBatch { inputs, targets, sample_weights } = batch;
        let Some(targets) = targets else {
            return Err(NnError::Data(format!(
                "{what}: batch {step} of the stream has no targets; training and evaluation need labelled \
                 data (a label_mode other than None)"
            )));
        };
        let samples = match inputs.first().map(|x| x.dims().first()) {
            Some(Some(&n)) if n > 0 => n,
            _ => {
                return Err(NnError::Data(format!(
                    "{what}: batch {step} of the stream has no samples in its first input (inputs: {})",
                    inputs.iter().map(|x| x.shape().to_string()).collect::<Vec<_>>().join(", ")
                )));
            }
        };
        let named = inputs.iter().enumerate().map(|(i, x)| (format!("input {i}"), x));
        let named = named
            .chain([("y".to_string(), &targets)])
            .chain(sample_weights.iter().map(|w| ("sample_weight".to_string(), w)));
        check_samples(&format!("{what}: batch {step} of the stream"), samples, named)?;
        self.loss.check_targets(&targets, &self.output_shape)?;
        let weights = match (&sample_weights, &self.class_weight) {
            (Some(_), Some(_)) => {
                return Err(NnError::Usage(format!(
                    "{what}: the stream gives sample weights and class_weight is set; give one of them"
                )));
            }
            (Some(w), None) => Some(w.clone()),
            (None, Some(class_weight)) => {
                Some(class_sample_weights(class_weight, &targets, &self.loss, &self.output_shape)?)
            }
            (None, None) => None,
        };
        let inputs = inputs.iter().map(|x| self.placement.place(x)).collect::<Result<Vec<_>>>()?;
        let weights = weights.as_ref().map(|w| self.placement.place(w)).transpose()?;
        Ok(((inputs, vec![self.placement.place(&targets)?], weights), samples))
    }
}

impl BatchSource for StreamBatches<'_> {
    fn steps(&self) -> usize {
        self.stream.steps_per_epoch()
    }

    fn epoch(&mut self, epoch: usize) -> Result<EpochBatches<'_>> {
        let steps = self.stream.steps_per_epoch();
        let StreamBatches { stream, conversion } = self;
        let batches = stream.epoch(epoch)?;
        let conversion = &*conversion;
        Ok(Box::new(batches.take(steps).enumerate().map(move |(step, b)| conversion.convert(step, b?))))
    }

    fn epoch_shards(&mut self, _epoch: usize, _rank: usize, ranks: usize) -> Result<EpochShards<'_>> {
        // Each rank would need its own disjoint part of the stream's shuffled batches, which a
        // stream seeded on its own cannot promise; training every rank on all of it would be
        // a different (and silently wrong) run.
        Err(NnError::Usage(format!(
            "{}: a stream cannot be split across the {ranks} ranks of data-parallel training; train \
             on tensors with fit, or run a single process",
            self.conversion.what
        )))
    }
}

/// The part of a batch of `samples` samples that rank `rank` of `ranks` takes: contiguous, the
/// first `samples % ranks` ranks taking one sample more than the others.
pub(crate) fn shard_range(samples: usize, rank: usize, ranks: usize) -> std::ops::Range<usize> {
    let (base, extra) = (samples / ranks, samples % ranks);
    let start = rank * base + rank.min(extra);
    start..start + base + usize::from(rank < extra)
}

#[cfg(test)]
mod tests {
    use super::shard_range;

    #[test]
    fn shards_cover_a_batch_once_and_differ_by_at_most_one_sample() {
        for samples in [1, 2, 7, 63, 64, 65] {
            for ranks in 1..=5 {
                let shards: Vec<_> = (0..ranks).map(|rank| shard_range(samples, rank, ranks)).collect();
                let covered: Vec<usize> = shards.iter().flat_map(Clone::clone).collect();
                assert_eq!(covered, (0..samples).collect::<Vec<_>>(), "{samples} samples over {ranks} ranks");
                let sizes: Vec<usize> = shards.iter().map(ExactSizeIterator::len).collect();
                let (least, most) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
                assert!(most - least <= 1, "{samples} samples over {ranks} ranks: sizes {sizes:?}");
            }
        }
        assert_eq!(shard_range(64, 0, 3), 0..22);
        assert_eq!(shard_range(64, 2, 3), 43..64);
    }
}
