//! `fit`: epochs of mini-batch gradient descent, with validation, progress and callbacks.

use super::data::{Dataset, sample_order};
use super::step::step_seed;
use super::weights::class_weights_for;
use super::{FitOptions, Inputs, Targets};
use crate::callbacks::{BatchLogs, Callback, CallbackContext};
use crate::progress::Progress;
use crate::{History, Model, Result};

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
            validation_batch_size,
            sample_weight,
            class_weight,
            mut callbacks,
            output,
        } = options;
        let x = x.into();
        self.build_for(&x)?;
        let output_shapes = self.output_shapes();
        let targets = y.into().per_output(self, "fit")?;
        self.require_compiled("fit")?.check_targets(&targets, &output_shapes)?;
        let data =
            Dataset::new(self, x, &targets, "fit")?.with_weights(self, sample_weight.as_ref(), "fit")?;
        let (train, validation) = match validation_data {
            Some((x_val, y_val, weights_val)) => {
                let targets = y_val.per_output(self, "validation_data")?;
                self.require_compiled("fit")?.check_targets(&targets, &output_shapes)?;
                let validation = Dataset::new(self, x_val, &targets, "validation_data")?.with_weights(
                    self,
                    weights_val.as_ref(),
                    "validation_data",
                )?;
                (data, Some(validation))
            }
            None if validation_split > 0.0 => {
                let (train, validation) = data.split_tail(validation_split)?;
                (train, Some(validation))
            }
            None => (data, None),
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
        let mut progress = Progress::new(verbose, output, self.log_order());
        let mut history = History::default();
        let mut stop = self.notify(&mut callbacks, &mut progress, |c, ctx| c.on_train_begin(ctx))?;
        for epoch in initial_epoch..epochs {
            progress.epoch(epoch, epochs)?;
            stop |= self.notify(&mut callbacks, &mut progress, |c, ctx| c.on_epoch_begin(epoch, ctx))?;
            let mut tracker = self.require_compiled("fit")?.tracker()?;
            let order = sample_order(train.samples(), shuffle, step_seed(seed, epoch as u64).rotate_left(32));
            progress.start(order.len().div_ceil(batch_size));
            for (step, chunk) in order.chunks(batch_size).enumerate() {
                let (inputs, targets, weights) = train.batch(chunk)?;
                let iteration = self.require_compiled("fit")?.optimizer.iterations();
                let weights = weights.as_ref();
                let (losses, predictions) =
                    self.train_step(&inputs, &targets, weights, step_seed(seed, iteration))?;
                tracker.update(
                    &losses.total,
                    &losses.per_output,
                    chunk.len(),
                    &targets,
                    &predictions,
                    weights,
                )?;
                progress.step(step + 1, || tracker.read(""))?;
                let logs = BatchLogs::new(&tracker);
                stop |= self
                    .notify(&mut callbacks, &mut progress, |c, ctx| c.on_train_batch_end(step, &logs, ctx))?;
                if stop {
                    break;
                }
            }
            let mut logs = tracker.read("")?;
            if let Some(validation) = &validation {
                let batch_size = validation_batch_size.unwrap_or(batch_size);
                logs.extend(self.run_test(validation, batch_size, None)?.read("val_")?);
            }
            progress.finish(&logs)?;
            stop |=
                self.notify(&mut callbacks, &mut progress, |c, ctx| c.on_epoch_end(epoch, &mut logs, ctx))?;
            history.record(epoch, &logs);
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
