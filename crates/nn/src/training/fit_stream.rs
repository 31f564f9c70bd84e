//! `fit`, `evaluate` and `predict` on a [`BatchStream`]: data made batch by batch on the host
//! (a folder of images read as training consumes it) rather than tensors uploaded whole. Each
//! runs the very loop its tensor sibling runs, over the stream's batches.

use tensor_core::Tensor;

use super::data::Placement;
use super::fit::{EpochRun, resolve_communicator};
use super::source::{BatchSource, StreamBatches};
use super::{EvaluateOptions, FitOptions, Inputs};
use crate::data::BatchStream;
use crate::progress::Progress;
use crate::{History, Logs, Model, NnError, Result};

impl Model {
    /// Keras's `fit` on a dataset: trains for `options.epochs` epochs, each one pass over the
    /// stream's batches (`steps_per_epoch` of them; the stream shuffles, from its own seed),
    /// and returns the history, as [`Model::fit`] does on tensors.
    ///
    /// The batch size and the shuffling are the stream's, so `batch_size` and `shuffle` are not
    /// read; `validation_split` and `sample_weight` (which need the whole data) are errors:
    /// validate on `validation_data` or `validation_stream`, and give weights in the batches.
    /// `class_weight` weighs each batch's samples by their targets. The model is built from
    /// the first batch if it has no input shape yet.
    ///
    /// ```no_run
    /// use nn::data::{DirectoryOptions, ImageAugmenter, ImageDataGenerator};
    /// use nn::{FitOptions, Model};
    ///
    /// # fn train(model: &mut Model) -> nn::Result<()> {
    /// let generator = ImageDataGenerator::new().rescale(1.0 / 255.0).augmentation(ImageAugmenter::new(1).zoom_range(0.2));
    /// let mut train = generator.flow_from_directory("data/train", DirectoryOptions::default().image_size(64, 64))?;
    /// let mut validation = ImageDataGenerator::new().rescale(1.0 / 255.0)
    ///     .flow_from_directory("data/validation", DirectoryOptions::default().image_size(64, 64).shuffle(false))?;
    /// model.fit_stream(&mut train, FitOptions::default().epochs(10).validation_stream(&mut validation))?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn fit_stream(&mut self, data: &mut dyn BatchStream, options: FitOptions<'_>) -> Result<History> {
        options.check()?;
        if options.validation_split > 0.0 {
            return Err(NnError::Usage(
                "fit_stream: validation_split needs tensors; give validation_data or validation_stream \
                 (image_dataset_from_directory splits a folder with validation_split and subset)"
                    .to_string(),
            ));
        }
        if options.sample_weight.is_some() {
            return Err(NnError::Usage(
                "fit_stream: sample_weight needs tensors; a stream gives its weights in each batch"
                    .to_string(),
            ));
        }
        let FitOptions {
            batch_size,
            epochs,
            initial_epoch,
            seed,
            verbose,
            validation_data,
            validation_stream,
            validation_batch_size,
            class_weight,
            callbacks,
            output,
            communicator,
            ..
        } = options;
        let mut launched = None;
        if let Some(communicator) = resolve_communicator(communicator, &mut launched)? {
            return Err(NnError::Usage(format!(
                "fit_stream: a stream cannot be split across the {} ranks of data-parallel training (this \
                 process is rank {}); train on tensors with fit, or run a single process",
                communicator.size(),
                communicator.rank()
            )));
        }
        self.require_compiled("fit_stream")?;
        self.build_from_stream(data)?;
        let mut train = StreamBatches::new(self, data, "fit_stream")?.with_class_weight(class_weight);
        let batch_size = validation_batch_size.unwrap_or(batch_size);
        let mut validation = self.validation_source(validation_data, validation_stream, batch_size)?;
        let run = EpochRun { epochs, initial_epoch, seed, verbose, callbacks, output, communicator: None };
        self.run_epochs(&mut train, validation.as_deref_mut(), run)
    }

    /// Keras's `evaluate` on a dataset: the loss and metrics over one pass of the stream (its
    /// first epoch), as [`Model::evaluate`]. The batch size is the stream's; weights come in
    /// its batches, so `sample_weight` is an error.
    pub fn evaluate_stream(&self, data: &mut dyn BatchStream, options: EvaluateOptions<'_>) -> Result<Logs> {
        options.check()?;
        if options.sample_weight.is_some() {
            return Err(NnError::Usage(
                "evaluate_stream: sample_weight needs tensors; a stream gives its weights in each batch"
                    .to_string(),
            ));
        }
        self.require_built("evaluate_stream")?;
        let mut data = StreamBatches::new(self, data, "evaluate_stream")?;
        let mut progress = Progress::new(options.verbose, options.output, self.log_order());
        progress.start(data.steps());
        let logs = self.run_test(&mut data, Some(&mut progress))?.read("")?;
        progress.finish(&logs)?;
        Ok(logs)
    }

    /// Keras's `predict` on a dataset: the model's output for every batch of one pass of the
    /// stream (its first epoch; targets, if any, are not read), in the stream's order. Read a
    /// folder with `shuffle(false)` to have the outputs in the order of its files.
    pub fn predict_stream(&self, data: &mut dyn BatchStream) -> Result<Tensor> {
        self.single_output(self.predict_all_stream(data)?, "predict_stream")
    }

    /// [`Model::predict_stream`] for a model of any number of outputs: one tensor per output.
    pub fn predict_all_stream(&self, data: &mut dyn BatchStream) -> Result<Vec<Tensor>> {
        self.require_built("predict_stream")?;
        let placement = Placement::of(self);
        let steps = data.steps_per_epoch();
        let batches = data.epoch(0)?.take(steps);
        self.predict_batches(batches.map(|b| b?.inputs.iter().map(|x| placement.place(x)).collect()))
    }

    /// Builds the model from the shapes of the stream's first batch, if it is not built.
    fn build_from_stream(&mut self, data: &mut dyn BatchStream) -> Result<()> {
        if self.is_built() {
            return Ok(());
        }
        let first = data.epoch(0)?.next().transpose()?.ok_or_else(|| {
            NnError::Data("fit_stream: the stream has no batches to build the model from".to_string())
        })?;
        self.build_for(&Inputs(first.inputs))
    }

    /// An error naming `call` if the model has no input shape yet.
    fn require_built(&self, call: &str) -> Result<()> {
        match self.is_built() {
            true => Ok(()),
            false => Err(NnError::Usage(format!(
                "{call}: model \"{}\" is not built; give its first layer an input_shape or fit it first",
                self.name()
            ))),
        }
    }
}
