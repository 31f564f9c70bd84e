//! The main job: train the reference CNN on Fashion-MNIST, evaluate it on the test set, save its
//! weights and write the report. `tessera train` runs it; its fast mode (a slice of the data)
//! runs in the tests.

use std::path::{Path, PathBuf};

use nn::data::FashionMnist;
use nn::{
    Conv2D, Dense, EvaluateOptions, FitOptions, Flatten, History, MaxPooling2D, Model, NnError, Result,
};
use tensor_core::Device;

use crate::checkpoint::{self, RunCheckpoint, RunSettings};
use crate::fault_injection::AbortAfterSteps;
use crate::memory::{MemoryMonitor, MemorySample};

/// What to train on, for how long, where, and where to write the results.
#[derive(Clone, Debug)]
pub struct TrainOptions {
    /// Directory holding the four Fashion-MNIST IDX files (gzip or raw).
    pub data_dir: PathBuf,
    /// The epoch training ends at, counted from the run's start (a resumed run trains the
    /// epochs its checkpoint had not).
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
    /// Start afresh even where `out_dir/checkpoints` holds an earlier run's checkpoints, removing
    /// them (without it, that is an error: they are work a forgotten `resume` would lose).
    pub overwrite: bool,
    /// Keras's dtype policy: `float32`, or `mixed_float16` (see `nn::mixed_precision`).
    pub dtype_policy: String,
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
            overwrite: false,
            dtype_policy: "float32".into(),
        }
    }
}

impl TrainOptions {
    /// The settings a resumed run must share with its checkpoint.
    fn settings(&self) -> RunSettings {
        RunSettings {
            limit: self.limit,
            batch_size: self.batch_size,
            validation_split: self.validation_split,
            seed: self.seed,
            dtype_policy: self.dtype_policy.clone(),
        }
    }

    /// Rejects values that cannot make a run, naming the command line's flag, before anything is
    /// loaded or trained.
    fn check(&self) -> Result<()> {
        let usage = |message: String| Err(NnError::Usage(message));
        if self.batch_size == 0 {
            return usage("--batch-size 0: expected at least 1 image per batch".into());
        }
        if self.limit == Some(0) {
            return usage("--limit 0: expected at least 1 image to train on".into());
        }
        if !(0.0..1.0).contains(&self.validation_split) {
            return usage(format!(
                "--validation-split {}: expected a fraction in [0, 1) of the training images",
                self.validation_split
            ));
        }
        if self.resume && self.overwrite {
            return usage("--resume and --overwrite: expected one or the other, not both".into());
        }
        Ok(())
    }
}

/// What a run achieved.
#[derive(Debug)]
pub struct TrainResult {
    /// Every epoch of the run, those before a resume included.
    pub history: History,
    pub test_loss: f64,
    pub test_accuracy: f64,
    /// The training time of every epoch of the run, those before a resume included (an epoch
    /// cut short by a crash is not counted).
    pub train_seconds: f64,
    /// Training samples per second over the run's epochs (validation included in the time); 0
    /// when no epoch was trained.
    pub samples_per_second: f64,
    /// The trained model (architecture, weights and optimizer state), for `nn::io::load_model`.
    pub model_path: PathBuf,
    /// The epoch the run resumed after, when it continued from a checkpoint.
    pub resumed_after_epoch: Option<usize>,
    /// Later checkpoints that did not load and were passed over when resuming, with why.
    pub skipped_checkpoints: Vec<String>,
    /// Temporary files of writes cut short by an earlier process's death, removed at the start.
    pub removed_temporaries: Vec<PathBuf>,
    /// Memory after each epoch this process trained.
    pub memory: Vec<MemorySample>,
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

/// Checks the options and the output directory, loads the data, trains (resuming from the
/// latest checkpoint if asked), evaluates on the test images, saves the model and writes the
/// report.
///
/// Every step after the last checkpoint is redone by a resumed run, so a run that died anywhere
/// — mid-epoch, mid-write, during evaluation or the report — finishes when resumed.
///
/// Started by `mpirun -np N` (with the `mpi` feature), the N processes train data-parallel:
/// each reads the data and any checkpoint to resume from, trains on its shard of every batch,
/// and only rank 0 removes or writes files (checkpoints, model, report) and evaluates; the
/// others return with a NaN test loss and accuracy and no report.
pub fn run(options: &TrainOptions) -> Result<(Model, TrainResult)> {
    options.check()?;
    let world = nn::distributed::launched_world()?;
    let leader = world.as_ref().is_none_or(|w| w.rank() == 0);
    let checkpoints = options.out_dir.join("checkpoints");
    let settings = options.settings();
    // Everything about the output directory is settled before the data is loaded, so that a
    // wrong --out or changed settings fail at once; a resume is looked for before anything is
    // made, so that a mistyped --out is not left behind as an empty directory.
    let resumed = match options.resume {
        true => Some(checkpoint::resume(&checkpoints, &settings, options.epochs)?),
        false => None,
    };
    prepare_out_dir(&options.out_dir)?;
    let mut removed_temporaries = Vec::new();
    if leader {
        removed_temporaries.extend(nn::io::remove_stale_temporaries(&options.out_dir)?);
        removed_temporaries.extend(nn::io::remove_stale_temporaries(&checkpoints)?);
    }
    for path in &removed_temporaries {
        log::warn!("removed {}, left by a write that an earlier run died during", path.display());
    }
    if resumed.is_none() {
        start_afresh(&checkpoints, options.overwrite, leader)?;
    }
    for skipped in resumed.iter().flat_map(|r| &r.skipped) {
        log::warn!("passing over a checkpoint: {skipped}");
    }

    let data = FashionMnist::load(&options.data_dir)?;
    let (train, test) = match options.limit {
        Some(n) => (data.train.first(n), data.test.first(n.div_ceil(6))),
        None => (data.train, data.test),
    };
    let (x_train, y_train) = train.to_scaled_tensors(&options.device)?;
    let (x_test, y_test) = test.to_scaled_tensors(&options.device)?;
    nn::set_random_seed(options.seed);
    let (mut model, initial_epoch, history, earlier_seconds, skipped_checkpoints) = match resumed {
        Some(r) => (r.model, r.epoch, r.history, r.train_seconds, r.skipped),
        None => (reference_cnn()?, 0, History::default(), 0.0, Vec::new()),
    };
    model.to_device(&options.device)?;
    model.set_dtype_policy(&options.dtype_policy)?;
    if options.verbose > 0 && leader {
        model.print_summary();
    }
    let mut memory = MemoryMonitor::new(&options.device);
    // A whole-model checkpoint after every epoch, with the run's state: an interrupted run loses
    // at most one epoch, and its report still covers every epoch.
    let mut checkpoint = RunCheckpoint::new(&checkpoints, &settings, history, earlier_seconds);
    if !leader {
        checkpoint = checkpoint.without_writing();
    }
    let mut abort = AbortAfterSteps::from_env(world.as_deref())?;
    let mut fit_options = FitOptions::default()
        .epochs(options.epochs)
        .initial_epoch(initial_epoch)
        .batch_size(options.batch_size)
        .validation_split(options.validation_split)
        .seed(options.seed)
        .verbose(options.verbose)
        .callback(&mut memory)
        .callback(&mut checkpoint);
    if let Some(world) = world.as_deref() {
        fit_options = fit_options.communicator(world);
    }
    if let Some(abort) = abort.as_mut() {
        fit_options = fit_options.callback(abort);
    }
    model.fit(&x_train, &y_train, fit_options)?;
    let history = checkpoint.history().clone();
    let train_seconds = if history.is_empty() { 0.0 } else { checkpoint.train_seconds() };
    let samples = x_train.dims()[0] as f64 * history.len() as f64;
    let samples_per_second = if samples > 0.0 { samples / train_seconds } else { 0.0 };
    let mut result = TrainResult {
        history,
        test_loss: f64::NAN,
        test_accuracy: f64::NAN,
        train_seconds,
        samples_per_second,
        model_path: options.out_dir.join("model.safetensors"),
        resumed_after_epoch: options.resume.then_some(initial_epoch),
        skipped_checkpoints,
        removed_temporaries,
        memory: memory.samples().to_vec(),
        report: Vec::new(),
    };
    // Data-parallel, only rank 0 evaluates, saves and reports.
    if !leader {
        return Ok((model, result));
    }
    let logs = model.evaluate(&x_test, &y_test, EvaluateOptions::default().batch_size(256).verbose(0))?;
    nn::io::save_model(&model, &result.model_path)?;
    result.test_loss = logs.get("loss").copied().unwrap_or(f64::NAN);
    result.test_accuracy = logs.get("accuracy").copied().unwrap_or(f64::NAN);
    result.report = crate::report::write_report(&options.out_dir, &model, &result, &test, &options.device)?;
    Ok((model, result))
}

/// Makes `dir` and its checkpoint folder, and makes sure files can be written there: a path that
/// is a file, or a place that cannot be written, fails here rather than after an epoch.
fn prepare_out_dir(dir: &Path) -> Result<()> {
    let refuse = |why: String| NnError::Usage(format!("--out {}: {why}", dir.display()));
    if dir.exists() && !dir.is_dir() {
        return Err(refuse("is a file; expected a directory (or a path to make one at)".into()));
    }
    let checkpoints = dir.join("checkpoints");
    std::fs::create_dir_all(&checkpoints).map_err(|e| refuse(format!("cannot make the directory: {e}")))?;
    for folder in [dir, checkpoints.as_path()] {
        let probe = folder.join(format!(".tessera-write-check{}", std::process::id()));
        std::fs::write(&probe, b"")
            .and_then(|()| std::fs::remove_file(&probe))
            .map_err(|e| refuse(format!("cannot write into {}: {e}", folder.display())))?;
    }
    Ok(())
}

/// Readies `checkpoints` for a fresh run: an earlier run's checkpoints there are an error, unless
/// `overwrite` says to remove them. Left in place, they would be lost to the new run's, or mixed
/// with them for a later resume. Only the `leader` (rank 0 of a data-parallel run) removes.
fn start_afresh(checkpoints: &Path, overwrite: bool, leader: bool) -> Result<()> {
    let earlier = checkpoint::list(checkpoints)?;
    if earlier.is_empty() {
        return Ok(());
    }
    if !overwrite {
        return Err(NnError::Usage(format!(
            "{} holds the checkpoints of an earlier run (up to epoch {}); continue it with --resume, or \
             start afresh with --overwrite (which removes them)",
            checkpoints.display(),
            earlier[0].0
        )));
    }
    if !leader {
        return Ok(());
    }
    let removed = checkpoint::remove_all(checkpoints)?;
    log::warn!("removed {removed} checkpoints of an earlier run from {}", checkpoints.display());
    Ok(())
}
