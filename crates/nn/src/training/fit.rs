//! `fit`: epochs of mini-batch gradient descent, with validation, progress and callbacks.

use std::io::Write;

use tensor_core::Tensor;

use super::data::Dataset;
use super::replicated::{any_rank_stops, check_shardable, replica_seed};
use super::source::{BatchSource, Shard, StreamBatches, TensorBatches};
use super::step::step_seed;
use super::weights::class_weights_for;
use super::{FitOptions, Inputs, Targets};
use crate::callbacks::{BatchLogs, Callback, CallbackContext};
use crate::data::BatchStream;
use crate::distributed::{self, Communicator};
use crate::progress::Progress;
use crate::{History, Model, NnError, Result};

/// What `fit`'s epoch loop needs besides the data.
pub(crate) struct EpochRun<'a, 'c> {
    pub(crate) epochs: usize,
    pub(crate) initial_epoch: usize,
    pub(crate) seed: u64,
    pub(crate) verbose: u8,
    pub(crate) callbacks: Vec<&'a mut dyn Callback>,
    pub(crate) output: Option<&'a mut dyn Write>,
    /// The ranks to train data-parallel with; alone when `None`.
    pub(crate) communicator: Option<&'c dyn Communicator>,
}

/// The communicator a `fit` trains over: the one its options give, else the world of the MPI
/// job the process was started in, if any; `None` (alone) for a single rank. `launched` keeps
/// the latter alive.
pub(crate) fn resolve_communicator<'a>(
    given: Option<&'a dyn Communicator>,
    launched: &'a mut Option<Box<dyn Communicator>>,
) -> Result<Option<&'a dyn Communicator>> {
    let communicator = match given {
        Some(communicator) => Some(communicator),
        None => {
            *launched = distributed::launched_world()?;
            launched.as_deref()
        }
    };
    Ok(communicator.filter(|c| c.size() > 1))
}

impl Model {
    /// Keras's `fit`: trains on `x` and `y` (one target tensor per output) for `options.epochs`
    /// epochs of mini-batches and returns the history of every logged value ("loss", the
    /// metrics, their "val_" versions).
    ///
    /// Errors, before any training: not compiled, sample counts that differ, targets that do not
    /// fit the output (sparse class ids are checked on the host), bad options. An input of the
    /// wrong shape fails at the first step, with the layer's message.
    pub fn fit(
        &mut self,
        x: impl Into<Inputs>,
        y: impl Into<Targets>,
        options: FitOptions<'_>,
    ) -> Result<History> {
        options.check()?;
        let FitOptions {
            batch_size,
            epochs,
            initial_epoch,
            shuffle,
            seed,
            verbose,
            validation_split,
            validation_data,
            validation_stream,
            validation_batch_size,
            sample_weight,
            class_weight,
            callbacks,
            output,
            communicator,
        } = options;
        let mut launched = None;
        let communicator = resolve_communicator(communicator, &mut launched)?;
        let x = x.into();
        self.build_for(&x)?;
        let output_shapes = self.output_shapes();
        let targets = y.into().per_output(self, "fit")?;
        self.require_compiled("fit")?.check_targets(&targets, &output_shapes)?;
        let data =
            Dataset::new(self, x, &targets, "fit")?.with_weights(self, sample_weight.as_ref(), "fit")?;
        let validation_batch_size = validation_batch_size.unwrap_or(batch_size);
        let split = validation_data.is_none() && validation_stream.is_none() && validation_split > 0.0;
        let (train, mut validation) = if split {
            let (train, validation) = data.split_tail(validation_split)?;
            let validation =
                TensorBatches { data: validation, batch_size: validation_batch_size, shuffle: false, seed };
            (train, Some(Box::new(validation) as Box<dyn BatchSource>))
        } else {
            (data, self.validation_source(validation_data, validation_stream, validation_batch_size)?)
        };
        // Keras turns class weights into sample weights for the training data only, after the
        // validation split.
        let train = match &class_weight {
            Some(class_weight) => {
                let weights = class_weights_for(self, class_weight, train.targets(), "fit")?;
                train.with_weights(self, Some(&weights), "fit")?
            }
            None => train,
        };
        if let Some(communicator) = communicator {
            check_shardable(train.samples(), batch_size, communicator)?;
        }
        let mut train = TensorBatches { data: train, batch_size, shuffle, seed };
        let run = EpochRun { epochs, initial_epoch, seed, verbose, callbacks, output, communicator };
        self.run_epochs(&mut train, validation.as_deref_mut(), run)
    }

    /// The validation data of `fit` and `fit_stream`: tensors, in batches of `batch_size`, or
    /// a stream (not both); `None` without either.
    pub(crate) fn validation_source<'s>(
        &self,
        tensors: Option<(Inputs, Targets, Option<Tensor>)>,
        stream: Option<&'s mut dyn BatchStream>,
        batch_size: usize,
    ) -> Result<Option<Box<dyn BatchSource + 's>>> {
        Ok(match (tensors, stream) {
            (Some(_), Some(_)) => {
                return Err(NnError::Usage(
                    "fit: give validation_data or validation_stream, not both".to_string(),
                ));
            }
            (Some((x_val, y_val, weights_val)), None) => {
                let targets = y_val.per_output(self, "validation_data")?;
                self.require_compiled("fit")?.check_targets(&targets, &self.output_shapes())?;
                let data = Dataset::new(self, x_val, &targets, "validation_data")?.with_weights(
                    self,
                    weights_val.as_ref(),
                    "validation_data",
                )?;
                Some(Box::new(TensorBatches { data, batch_size, shuffle: false, seed: 0 }))
            }
            (None, Some(stream)) => Some(Box::new(StreamBatches::new(self, stream, "validation_stream")?)),
            (None, None) => None,
        })
    }

    /// `fit`'s epochs over `train`, validating on `validation` after each, whatever the data
    /// is: the progress display, the callbacks and the history.
    ///
    /// Data-parallel, an error on one rank ends every rank (MPI's abort, with the message): the
    /// others would otherwise wait for it forever in the next collective.
    pub(crate) fn run_epochs(
        &mut self,
        train: &mut dyn BatchSource,
        validation: Option<&mut (dyn BatchSource + '_)>,
        run: EpochRun<'_, '_>,
    ) -> Result<History> {
        let communicator = run.communicator;
        match (self.epoch_loop(train, validation, run), communicator) {
            (Err(e), Some(c)) => c.abort(&format!(
                "rank {} of {} stopped training: {e}; ending every rank of the job",
                c.rank(),
                c.size()
            )),
            (outcome, _) => outcome,
        }
    }

    /// [`Model::run_epochs`]'s work. Data-parallel, each rank trains on its shards, only rank 0
    /// shows progress (the running values mid-epoch are its shard's), and the epoch's logs are
    /// the whole batch's, summed over the ranks; validation runs whole on every rank.
    fn epoch_loop(
        &mut self,
        train: &mut dyn BatchSource,
        mut validation: Option<&mut (dyn BatchSource + '_)>,
        run: EpochRun<'_, '_>,
    ) -> Result<History> {
        let EpochRun { epochs, initial_epoch, seed, verbose, mut callbacks, output, communicator } = run;
        let verbose = match communicator {
            Some(c) if c.rank() != 0 => 0,
            _ => verbose,
        };
        let mut progress = Progress::new(verbose, output, self.log_order());
        let mut history = History::default();
        let mut stop = self.notify(&mut callbacks, &mut progress, |c, ctx| c.on_train_begin(ctx))?;
        for epoch in initial_epoch..epochs {
            progress.epoch(epoch, epochs)?;
            stop |= self.notify(&mut callbacks, &mut progress, |c, ctx| c.on_epoch_begin(epoch, ctx))?;
            let mut tracker = self.require_compiled("fit")?.tracker()?;
            progress.start(train.steps());
            let batches = match communicator {
                Some(c) => train.epoch_shards(epoch, c.rank(), c.size())?,
                None => Box::new(
                    train
                        .epoch(epoch)?
                        .map(|batch| batch.map(|(batch, samples)| Shard { batch: Some(batch), samples })),
                ),
            };
            for (step, shard) in batches.enumerate() {
                let shard = shard?;
                let iteration = self.require_compiled("fit")?.optimizer.iterations();
                let step_seed = step_seed(seed, iteration);
                let outcome = match (communicator, &shard.batch) {
                    (Some(c), _) => {
                        self.replicated_train_step(c, &shard, replica_seed(step_seed, c.rank()))?
                    }
                    (None, Some((inputs, targets, weights))) => {
                        Some(self.train_step(inputs, targets, weights.as_ref(), step_seed)?)
                    }
                    (None, None) => None,
                };
                if let (Some((losses, predictions)), Some((_, targets, weights))) = (outcome, &shard.batch) {
                    let weights = weights.as_ref();
                    let (total, per_output) = (&losses.total, &losses.per_output);
                    tracker.update(total, per_output, shard.samples, targets, &predictions, weights)?;
                }
                progress.step(step + 1, || tracker.read(""))?;
                let logs = BatchLogs::new(&tracker);
                stop |= self
                    .notify(&mut callbacks, &mut progress, |c, ctx| c.on_train_batch_end(step, &logs, ctx))?;
                // Every rank votes, whatever its callbacks: a rank left out of a collective hangs.
                if let Some(c) = communicator {
                    stop = any_rank_stops(stop, c);
                }
                if stop {
                    break;
                }
            }
            let mut logs = tracker.read_across("", communicator)?;
            // Before the callbacks, which may save the model: a checkpoint of diverged ranks
            // would be rank 0's alone.
            if let Some(c) = communicator {
                self.check_replicas_agree(c, epoch)?;
            }
            if let Some(validation) = validation.as_deref_mut() {
                logs.extend(self.run_test(validation, None)?.read("val_")?);
            }
            progress.finish(&logs)?;
            stop |=
                self.notify(&mut callbacks, &mut progress, |c, ctx| c.on_epoch_end(epoch, &mut logs, ctx))?;
            history.record(epoch, &logs);
            if let Some(c) = communicator {
                stop = any_rank_stops(stop, c);
            }
            if stop {
                break;
            }
        }
        self.notify(&mut callbacks, &mut progress, |c, ctx| c.on_train_end(ctx))?;
        Ok(history)
    }

    /// Runs `event` on every callback in order, then prints what they printed; returns whether
    /// one asked to stop training. The first error stops the round and is returned.
    fn notify(
        &mut self,
        callbacks: &mut [&mut dyn Callback],
        progress: &mut Progress<'_>,
        mut event: impl FnMut(&mut dyn Callback, &mut CallbackContext<'_>) -> Result<()>,
    ) -> Result<bool> {
        if callbacks.is_empty() {
            return Ok(false);
        }
        let mut ctx = CallbackContext::new(self);
        let outcome = callbacks.iter_mut().try_for_each(|c| event(&mut **c, &mut ctx));
        let (stop, messages) = ctx.into_outcome();
        for message in &messages {
            progress.message(message)?;
        }
        outcome.map(|()| stop)
    }
}
