//! The arguments of `fit` and `evaluate`, with Keras's defaults and builder methods.

use std::collections::BTreeMap;
use std::io::Write;

use tensor_core::Tensor;

use super::{Inputs, Targets};
use crate::callbacks::Callback;
use crate::data::BatchStream;
use crate::distributed::Communicator;
use crate::{NnError, Result};

/// `fit`'s arguments besides the data. `FitOptions::default()` is Keras's: batch size 32, one
/// epoch, shuffled, verbose 1, no validation.
///
/// ```ignore
/// let options = FitOptions::default().batch_size(10).epochs(20).verbose(2).validation_split(0.1);
/// ```
pub struct FitOptions<'a> {
    pub(crate) batch_size: usize,
    pub(crate) epochs: usize,
    pub(crate) initial_epoch: usize,
    pub(crate) shuffle: bool,
    pub(crate) seed: u64,
    pub(crate) verbose: u8,
    pub(crate) validation_split: f64,
    pub(crate) validation_data: Option<(Inputs, Targets, Option<Tensor>)>,
    pub(crate) validation_stream: Option<&'a mut dyn BatchStream>,
    pub(crate) validation_batch_size: Option<usize>,
    pub(crate) sample_weight: Option<Tensor>,
    pub(crate) class_weight: Option<BTreeMap<usize, f64>>,
    pub(crate) callbacks: Vec<&'a mut dyn Callback>,
    pub(crate) output: Option<&'a mut dyn Write>,
    pub(crate) communicator: Option<&'a dyn Communicator>,
}

impl Default for FitOptions<'_> {
    fn default() -> Self {
        FitOptions {
            batch_size: 32,
            epochs: 1,
            initial_epoch: 0,
            shuffle: true,
            seed: 0,
            verbose: 1,
            validation_split: 0.0,
            validation_data: None,
            validation_stream: None,
            validation_batch_size: None,
            sample_weight: None,
            class_weight: None,
            callbacks: Vec::new(),
            output: None,
            communicator: None,
        }
    }
}

impl<'a> FitOptions<'a> {
    /// Samples per gradient step; the last batch of an epoch takes what is left.
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// The epoch at which training ends: epochs `initial_epoch..epochs` run.
    pub fn epochs(mut self, epochs: usize) -> Self {
        self.epochs = epochs;
        self
    }

    /// The epoch to start from (0-based), to resume an earlier run.
    pub fn initial_epoch(mut self, epoch: usize) -> Self {
        self.initial_epoch = epoch;
        self
    }

    /// Whether to visit the training samples in a new random order each epoch.
    pub fn shuffle(mut self, shuffle: bool) -> Self {
        self.shuffle = shuffle;
        self
    }

    /// Seeds the shuffling and the random layers (dropout), so runs repeat exactly.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// 0: silent; 1: a live progress bar; 2: one line per epoch.
    pub fn verbose(mut self, verbose: u8) -> Self {
        self.verbose = verbose;
        self
    }

    /// The fraction of the samples, taken from the end before any shuffling, held out to
    /// validate on after each epoch. Ignored when `validation_data` is given.
    pub fn validation_split(mut self, fraction: f64) -> Self {
        self.validation_split = fraction;
        self
    }

    /// Data to validate on after each epoch (one target tensor per output).
    pub fn validation_data(mut self, x: impl Into<Inputs>, y: impl Into<Targets>) -> Self {
        self.validation_data = Some((x.into(), y.into(), None));
        self
    }

    /// Keras's `validation_data=(x, y, sample_weight)`: data to validate on after each epoch,
    /// each sample's loss (and weighted metrics) weighed by `sample_weight` (shape `(N,)`).
    pub fn validation_data_weighted(
        mut self,
        x: impl Into<Inputs>,
        y: impl Into<Targets>,
        sample_weight: &Tensor,
    ) -> Self {
        self.validation_data = Some((x.into(), y.into(), Some(sample_weight.clone())));
        self
    }

    /// A stream to validate on after each epoch (its first epoch's batches, every time), for
    /// `fit` or `fit_stream`; not together with `validation_data`.
    pub fn validation_stream(mut self, stream: &'a mut dyn BatchStream) -> Self {
        self.validation_stream = Some(stream);
        self
    }

    /// Samples per validation batch (the training batch size by default).
    pub fn validation_batch_size(mut self, batch_size: usize) -> Self {
        self.validation_batch_size = Some(batch_size);
        self
    }

    /// Keras's `sample_weight`: one weight per sample (shape `(N,)`) scaling its loss. The batch
    /// loss stays Keras's "sum_over_batch_size": the sum of the weighted losses over the batch
    /// size. A `validation_split` holds out the weights' tail with the samples'.
    pub fn sample_weight(mut self, weights: &Tensor) -> Self {
        self.sample_weight = Some(weights.clone());
        self
    }

    /// Keras's `class_weight`: a weight per class index scaling the loss of the training samples
    /// of that class (classes left out weigh 1). The class of a sample is its class id (sparse
    /// targets), the arg-max of its one-hot row, or its rounded 0/1 target (one output column).
    /// Validation is not weighted. Not together with `sample_weight`, as in Keras.
    pub fn class_weight(mut self, weights: impl IntoIterator<Item = (usize, f64)>) -> Self {
        self.class_weight = Some(weights.into_iter().collect());
        self
    }

    /// Adds a callback; it stays the caller's, to be read after `fit`.
    pub fn callback(mut self, callback: &'a mut dyn Callback) -> Self {
        self.callbacks.push(callback);
        self
    }

    /// Writes the progress lines to `output` instead of standard output (verbose 1 then writes
    /// each epoch's final line only).
    pub fn output(mut self, output: &'a mut dyn Write) -> Self {
        self.output = Some(output);
        self
    }

    /// Trains data-parallel over `communicator`'s ranks: each takes its shard of every batch and
    /// all take the same averaged step. Without it, `fit` uses the world of the MPI job it was
    /// started in (`mpirun -np N`, with the `mpi` feature) and trains alone otherwise.
    pub fn communicator(mut self, communicator: &'a dyn Communicator) -> Self {
        self.communicator = Some(communicator);
        self
    }

    /// Rejects arguments Keras rejects.
    pub(crate) fn check(&self) -> Result<()> {
        check_batch_size("batch_size", self.batch_size)?;
        if let Some(b) = self.validation_batch_size {
            check_batch_size("validation_batch_size", b)?;
        }
        check_verbose(self.verbose)?;
        if !(0.0..1.0).contains(&self.validation_split) {
            return Err(NnError::Usage(format!(
                "fit: validation_split must be in [0, 1), got {}",
                self.validation_split
            )));
        }
        if self.sample_weight.is_some() && self.class_weight.is_some() {
            return Err(NnError::Usage(
                "fit: give class_weight or sample_weight, not both (Keras refuses both at once)".to_string(),
            ));
        }
        if self.initial_epoch > self.epochs {
            return Err(NnError::Usage(format!(
                "fit: initial_epoch ({}) is past epochs ({}); epochs is the last epoch, not a count to add",
                self.initial_epoch, self.epochs
            )));
        }
        Ok(())
    }
}

/// `train_on_batch`'s arguments besides the data: Keras's `sample_weight` and `class_weight`.
#[derive(Clone, Debug, Default)]
pub struct BatchOptions {
    pub(crate) sample_weight: Option<Tensor>,
    pub(crate) class_weight: Option<BTreeMap<usize, f64>>,
}

impl BatchOptions {
    /// One weight per sample (shape `(N,)`) scaling its loss and weighted metrics, as in
    /// [`FitOptions::sample_weight`].
    pub fn sample_weight(mut self, weights: &Tensor) -> Self {
        self.sample_weight = Some(weights.clone());
        self
    }

    /// A weight per class index scaling the loss of the batch's samples of that class, as in
    /// [`FitOptions::class_weight`]; for a model of one output.
    pub fn class_weight(mut self, weights: impl IntoIterator<Item = (usize, f64)>) -> Self {
        self.class_weight = Some(weights.into_iter().collect());
        self
    }

    pub(crate) fn check(&self) -> Result<()> {
        if self.sample_weight.is_some() && self.class_weight.is_some() {
            return Err(NnError::Usage(
                "train_on_batch: give class_weight or sample_weight, not both (Keras refuses both at once)"
                    .to_string(),
            ));
        }
        Ok(())
    }
}

/// `evaluate`'s arguments besides the data. The default is Keras's: batch size 32, verbose 1.
pub struct EvaluateOptions<'a> {
    pub(crate) batch_size: usize,
    pub(crate) verbose: u8,
    pub(crate) sample_weight: Option<Tensor>,
    pub(crate) output: Option<&'a mut dyn Write>,
}

impl Default for EvaluateOptions<'_> {
    fn default() -> Self {
        EvaluateOptions { batch_size: 32, verbose: 1, sample_weight: None, output: None }
    }
}

impl<'a> EvaluateOptions<'a> {
    /// Samples per batch; the last batch takes what is left.
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// 0: silent; 1: a live progress bar; 2: one line.
    pub fn verbose(mut self, verbose: u8) -> Self {
        self.verbose = verbose;
        self
    }

    /// Keras's `sample_weight`: one weight per sample (shape `(N,)`) scaling its loss, as in
    /// [`FitOptions::sample_weight`].
    pub fn sample_weight(mut self, weights: &Tensor) -> Self {
        self.sample_weight = Some(weights.clone());
        self
    }

    /// Writes the progress line to `output` instead of standard output.
    pub fn output(mut self, output: &'a mut dyn Write) -> Self {
        self.output = Some(output);
        self
    }

    pub(crate) fn check(&self) -> Result<()> {
        check_batch_size("batch_size", self.batch_size)?;
        check_verbose(self.verbose)
    }
}

pub(crate) fn check_batch_size(name: &str, batch_size: usize) -> Result<()> {
    if batch_size == 0 {
        return Err(NnError::Usage(format!("{name} must be at least 1, got 0")));
    }
    Ok(())
}

fn check_verbose(verbose: u8) -> Result<()> {
    if verbose > 2 {
        return Err(NnError::Usage(format!("verbose must be 0, 1 or 2, got {verbose}")));
    }
    Ok(())
}
