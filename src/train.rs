//! The main job: train the reference CNN on Fashion-MNIST, evaluate it on the test set, save its
//! weights and write the report. `tessera train` runs it; its fast mode (a slice of the data)
//! runs in the tests.

use std::path::{Path, PathBuf};
use std::time::Instant;

use nn::callbacks::ModelCheckpoint;
use nn::data::FashionMnist;
use nn::{
    Conv2D, Dense, EvaluateOptions, FitOptions, Flatten, History, MaxPooling2D, Model, NnError, Result,
};
use tensor_core::Device;

/// What to train on, for how long, where, and where to write the results.
#[derive(Clone, Debug)]
pub struct TrainOptions {
    /// Directory holding the four Fashion-MNIST IDX files (gzip or raw).
    pub data_dir: PathBuf,
    pub epochs: usize,
    pub batch_size: usize,
    pub device: Device,
    /// Where the model, its checkpoints and the report go.
    pub out_dir: PathBuf,
    /// Use only the first `n` training and `n / 6` test images (a fast run, for checks).
    pub limit: Option<usize>,
    /// Fraction of the training images held out for validation, as Keras's `validation_split`.
    pub validation_split: f64,
    pub seed: u64,
    /// Keras's verbosity: 0 silent, 1 progress bar, 2 one line per epoch.
    pub verbose: u8,
    /// Continue from the latest checkpoint in `out_dir/checkpoints` instead of starting afresh.
    pub resume: bool,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            data_dir: FashionMnist::DEFAULT_DIR.into(),
            epochs: 3,
            batch_size: 64,
            device: Device::Cpu,
            out_dir: "tessera-report".into(),
            limit: None,
            validation_split: 0.1,
            seed: 1,
            verbose: 1,
            resume: false,
        }
    }
}

/// What a run achieved.
#[derive(Debug)]
pub struct TrainResult {
    pub history: History,
    pub test_loss: f64,
    pub test_accuracy: f64,
    pub train_seconds: f64,
    /// Training samples per second over the whole fit (validation included in the time).
    pub samples_per_second: f64,
    /// The trained model (architecture, weights and optimizer state), for `nn::io::load_model`.
    pub model_path: PathBuf,
    /// The epoch the run resumed after, when it continued from a checkpoint.
    pub resumed_after_epoch: Option<usize>,
    /// The report's files: its Markdown summary first, then the pictures.
    pub report: Vec<PathBuf>,
}

/// The reference CNN: Conv2D 32 3x3 same relu, MaxPool 2, Conv2D 64 3x3 same relu, MaxPool 2,
/// Flatten, Dense 128 relu, Dense 10 softmax — 421,642 parameters.
pub fn reference_cnn() -> Result<Model> {
    let mut model = Model::sequential(vec![
        Box::new(Conv2D::new(32, 3).padding("same").activation("relu").input_shape(&[28, 28, 1])),
        Box::new(MaxPooling2D::new()),
        Box::new(Conv2D::new(64, 3).padding("same").activation("relu")),
        Box::new(MaxPooling2D::new()),
        Box::new(Flatten::new()),
        Box::new(Dense::new(128).activation("relu")),
        Box::new(Dense::new(10).activation("softmax")),
    ])?;
    model.compile("adam", "sparse_categorical_crossentropy", &["accuracy"])?;
    Ok(model)
}

/// Loads the data, trains (resuming from the latest checkpoint if asked), evaluates on the test
/// images, saves the model and writes the report.
pub fn run(options: &TrainOptions) -> Result<(Model, TrainResult)> {
    let data = FashionMnist::load(&options.data_dir)?;
    let (train, test) = match options.limit {
        Some(n) => (data.train.first(n), data.test.first(n.div_ceil(6))),
        None => (data.train, data.test),
    };
    let (x_train, y_train) = train.to_scaled_tensors(&options.device)?;
    let (x_test, y_test) = test.to_scaled_tensors(&options.device)?;
    nn::set_random_seed(options.seed);
    let checkpoints = options.out_dir.join("checkpoints");
    let resume_from = if options.resume { latest_checkpoint(&checkpoints)? } else { None };
    let mut model = match &resume_from {
        Some((_, path)) => nn::io::load_model(path)?,
        None => reference_cnn()?,
    };
    model.to_device(&options.device)?;
    if options.verbose > 0 {
        model.print_summary();
    }
    let initial_epoch = resume_from.as_ref().map_or(0, |(epoch, _)| *epoch);
    // A whole-model checkpoint after every epoch: an interrupted run loses at most one epoch.
    let mut checkpoint = ModelCheckpoint::whole_model(
        checkpoints.join("epoch-{epoch:02d}.safetensors").to_string_lossy().into_owned(),
    );
    let start = Instant::now();
    let history = model.fit(
        &x_train,
        &y_train,
        FitOptions::default()
            .epochs(options.epochs)
            .initial_epoch(initial_epoch)
            .batch_size(options.batch_size)
            .validation_split(options.validation_split)
            .seed(options.seed)
            .verbose(options.verbose)
            .callback(&mut checkpoint),
    )?;
    let train_seconds = start.elapsed().as_secs_f64();
    let logs = model.evaluate(&x_test, &y_test, EvaluateOptions::default().batch_size(256).verbose(0))?;
    let model_path = options.out_dir.join("model.safetensors");
    nn::io::save_model(&model, &model_path)?;
    let samples = x_train.dims()[0] as f64 * options.epochs.saturating_sub(initial_epoch) as f64;
    let mut result = TrainResult {
        history,
        test_loss: logs.get("loss").copied().unwrap_or(f64::NAN),
        test_accuracy: logs.get("accuracy").copied().unwrap_or(f64::NAN),
        train_seconds,
        samples_per_second: samples / train_seconds,
        model_path,
        resumed_after_epoch: resume_from.map(|(epoch, _)| epoch),
        report: Vec::new(),
    };
    result.report = crate::report::write_report(&options.out_dir, &model, &result, &test, &options.device)?;
    Ok((model, result))
}

/// The checkpoint of the latest epoch in `dir` ("epoch-NN.safetensors") and its epoch number, if
/// there is one.
fn latest_checkpoint(dir: &Path) -> Result<Option<(usize, PathBuf)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(NnError::Io { path: dir.display().to_string(), detail: e.to_string() }),
    };
    let epoch_of = |path: &Path| -> Option<usize> {
        path.file_name()?.to_str()?.strip_prefix("epoch-")?.strip_suffix(".safetensors")?.parse().ok()
    };
    Ok(entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter_map(|path| epoch_of(&path).map(|epoch| (epoch, path)))
        .max_by_key(|(epoch, _)| *epoch))
}
