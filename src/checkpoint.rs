//! The main job's checkpoints: one whole-model file per epoch in `OUT/checkpoints`, each holding
//! beside the model what resuming needs to continue the same run and report on all of it — the
//! settings that shape the run, the history of every epoch so far and the training time spent.
//! Resuming takes the latest checkpoint that loads, falling back past a corrupt one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use nn::callbacks::{Callback, CallbackContext};
use nn::{History, Logs, Model, NnError, Result};
use serde_json::{Value, json};

/// The metadata keys of a checkpoint's run state.
const SETTINGS: &str = "tessera_run_settings";
const HISTORY: &str = "tessera_history";
const TRAIN_SECONDS: &str = "tessera_train_seconds";

/// What a run trains on and how, besides its length: a run resumed with other settings would no
/// longer be the run its checkpoint belongs to (another slice of data, other batches, another
/// shuffle), so resuming requires them equal. The number of epochs may grow.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSettings {
    pub limit: Option<usize>,
    pub batch_size: usize,
    pub validation_split: f64,
    pub seed: u64,
    pub dtype_policy: String,
}

impl RunSettings {
    fn to_json(&self) -> String {
        json!({
            "limit": self.limit,
            "batch_size": self.batch_size,
            // As Rust writes it, which parses back to the same bits.
            "validation_split": self.validation_split.to_string(),
            "seed": self.seed,
            "dtype_policy": self.dtype_policy,
        })
        .to_string()
    }

    fn from_json(text: &str) -> Option<RunSettings> {
        let value: Value = serde_json::from_str(text).ok()?;
        let limit = match &value["limit"] {
            Value::Null => None,
            limit => Some(usize::try_from(limit.as_u64()?).ok()?),
        };
        Some(RunSettings {
            limit,
            batch_size: usize::try_from(value["batch_size"].as_u64()?).ok()?,
            validation_split: value["validation_split"].as_str()?.parse().ok()?,
            seed: value["seed"].as_u64()?,
            // Checkpoints written before policies were a setting trained in float32.
            dtype_policy: value["dtype_policy"].as_str().unwrap_or("float32").to_string(),
        })
    }

    /// Each setting that differs, as "--flag: checkpoint value, here value".
    fn differences(&self, requested: &RunSettings) -> Vec<String> {
        let show_limit =
            |limit: Option<usize>| limit.map_or("none (all images)".to_string(), |n| n.to_string());
        let mut differences = Vec::new();
        let mut compare = |flag: &str, saved: String, asked: String| {
            if saved != asked {
                differences.push(format!("{flag} {saved} in the checkpoint, {asked} now"));
            }
        };
        compare("--limit", show_limit(self.limit), show_limit(requested.limit));
        compare("--batch-size", self.batch_size.to_string(), requested.batch_size.to_string());
        compare(
            "--validation-split",
            self.validation_split.to_string(),
            requested.validation_split.to_string(),
        );
        compare("--seed", self.seed.to_string(), requested.seed.to_string());
        compare("--dtype-policy", self.dtype_policy.clone(), requested.dtype_policy.clone());
        differences
    }
}

/// The checkpoint a run resumes from.
pub struct Resumed {
    pub model: Model,
    /// The epochs the checkpoint's run had completed.
    pub epoch: usize,
    pub history: History,
    pub train_seconds: f64,
    /// What was wrong with each later checkpoint that was passed over, latest first.
    pub skipped: Vec<String>,
}

/// The file of epoch `epoch`'s (1-based) checkpoint.
fn checkpoint_path(dir: &Path, epoch: usize) -> PathBuf {
    dir.join(format!("epoch-{epoch:02}.safetensors"))
}

/// The checkpoints in `dir` ("epoch-NN.safetensors") with their epochs, latest first; none when
/// `dir` does not exist.
pub fn list(dir: &Path) -> Result<Vec<(usize, PathBuf)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(NnError::Io { path: dir.display().to_string(), detail: e.to_string() }),
    };
    let epoch_of = |path: &Path| -> Option<usize> {
        path.file_name()?.to_str()?.strip_prefix("epoch-")?.strip_suffix(".safetensors")?.parse().ok()
    };
    let mut found: Vec<(usize, PathBuf)> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter_map(|path| epoch_of(&path).map(|epoch| (epoch, path)))
        .collect();
    found.sort_by_key(|(epoch, _)| std::cmp::Reverse(*epoch));
    Ok(found)
}

/// The latest checkpoint in `dir` that loads whole, with its run state; a checkpoint that does
/// not (truncated, corrupt, or without the run state) is passed over for the one before it, and
/// noted in [`Resumed::skipped`]. An error when there is none to resume from, or when the one
/// found was trained with other `settings` or past `epochs`.
pub fn resume(dir: &Path, settings: &RunSettings, epochs: usize) -> Result<Resumed> {
    let found = list(dir)?;
    if found.is_empty() {
        return Err(NnError::Usage(format!(
            "--resume: nothing to resume in {}: no checkpoint (epoch-NN.safetensors) there; run without \
             --resume to start afresh, or give the --out of the run to continue",
            dir.display()
        )));
    }
    let mut skipped = Vec::new();
    for (epoch, path) in &found {
        match read(path, *epoch) {
            Ok((model, saved, history, train_seconds)) => {
                let differences = saved.differences(settings);
                if !differences.is_empty() {
                    return Err(NnError::Usage(format!(
                        "--resume: {} belongs to a run with other settings ({}); resume with the same \
                         settings, or start afresh with --overwrite",
                        path.display(),
                        differences.join("; ")
                    )));
                }
                if *epoch > epochs {
                    return Err(NnError::Usage(format!(
                        "--resume: {} has already trained {epoch} epochs, past --epochs {epochs}; ask for \
                         at least {epoch} epochs",
                        path.display()
                    )));
                }
                return Ok(Resumed { model, epoch: *epoch, history, train_seconds, skipped });
            }
            Err(e) => skipped.push(format!("{} does not load ({e})", path.display())),
        }
    }
    Err(NnError::Usage(format!(
        "--resume: no checkpoint in {} loads: {}; start afresh with --overwrite",
        dir.display(),
        skipped.join("; ")
    )))
}

/// The model of the checkpoint of epoch `epoch` at `path`, with its run settings, history and
/// training time; an error if any is missing or does not agree with `epoch`.
fn read(path: &Path, epoch: usize) -> Result<(Model, RunSettings, History, f64)> {
    let model = nn::io::load_model(path)?;
    let metadata = nn::io::load_model_metadata(path)?;
    let bad = |what: &str| NnError::Io { path: path.display().to_string(), detail: what.to_string() };
    let settings = metadata
        .get(SETTINGS)
        .and_then(|text| RunSettings::from_json(text))
        .ok_or_else(|| bad("holds no run settings: not a checkpoint of `tessera train`"))?;
    let history = metadata
        .get(HISTORY)
        .and_then(|text| history_from_json(text))
        .ok_or_else(|| bad("holds no readable training history"))?;
    if history.epochs() != (0..epoch).collect::<Vec<_>>() {
        return Err(bad(&format!(
            "its history has epochs {:?}, not the {epoch} its name says",
            history.epochs()
        )));
    }
    let train_seconds = metadata
        .get(TRAIN_SECONDS)
        .and_then(|text| text.parse::<f64>().ok())
        .ok_or_else(|| bad("holds no training time"))?;
    Ok((model, settings, history, train_seconds))
}

/// The history as JSON, every value as Rust writes it, since parsing that back gives the same
/// bits (JSON numbers through serde_json may not, and JSON has no NaN for a diverged loss).
fn history_to_json(history: &History) -> String {
    let values: BTreeMap<&str, Vec<String>> = history
        .history()
        .iter()
        .map(|(key, values)| (key.as_str(), values.iter().map(f64::to_string).collect()))
        .collect();
    json!({ "epochs": history.epochs(), "values": values }).to_string()
}

/// The history [`history_to_json`] wrote, if `text` is one: every value list as long as the
/// epoch list.
fn history_from_json(text: &str) -> Option<History> {
    let value: Value = serde_json::from_str(text).ok()?;
    let epochs: Vec<usize> = serde_json::from_value(value["epochs"].clone()).ok()?;
    let values: BTreeMap<String, Vec<String>> = serde_json::from_value(value["values"].clone()).ok()?;
    let values: BTreeMap<String, Vec<f64>> = values
        .into_iter()
        .map(|(key, texts)| Some((key, texts.iter().map(|t| t.parse().ok()).collect::<Option<Vec<f64>>>()?)))
        .collect::<Option<_>>()?;
    if values.values().any(|v| v.len() != epochs.len()) {
        return None;
    }
    let mut history = History::default();
    for (row, &epoch) in epochs.iter().enumerate() {
        let logs: Logs = values.iter().map(|(key, v)| (key.clone(), v[row])).collect();
        history.record(epoch, &logs);
    }
    Some(history)
}

/// Removes the checkpoints in `dir`, for a run that starts afresh where another left them; returns
/// how many there were.
pub fn remove_all(dir: &Path) -> Result<usize> {
    let found = list(dir)?;
    for (_, path) in &found {
        std::fs::remove_file(path)
            .map_err(|e| NnError::Io { path: path.display().to_string(), detail: e.to_string() })?;
    }
    Ok(found.len())
}

/// Saves the model after every epoch with the run's settings, its history since the first epoch
/// (the resumed part included) and the training time so far.
pub struct RunCheckpoint {
    dir: PathBuf,
    settings: String,
    history: History,
    earlier_seconds: f64,
    started: Instant,
    /// Whether this process writes the checkpoints: only rank 0 of a data-parallel run does.
    writes: bool,
}

impl RunCheckpoint {
    /// Checkpoints into `dir` for a run with `settings` that has `history` and `earlier_seconds`
    /// of training behind it (nothing, for a fresh run).
    pub fn new(dir: &Path, settings: &RunSettings, history: History, earlier_seconds: f64) -> RunCheckpoint {
        RunCheckpoint {
            dir: dir.to_path_buf(),
            settings: settings.to_json(),
            history,
            earlier_seconds,
            started: Instant::now(),
            writes: true,
        }
    }

    /// Keeps the run's history and time without writing checkpoints: for the ranks of a
    /// data-parallel run other than rank 0, which holds the same weights and writes for all.
    pub fn without_writing(mut self) -> RunCheckpoint {
        self.writes = false;
        self
    }

    /// The history of the whole run: the resumed epochs, then those trained since.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// The training time of the whole run so far, this process's included.
    pub fn train_seconds(&self) -> f64 {
        self.earlier_seconds + self.started.elapsed().as_secs_f64()
    }
}

impl Callback for RunCheckpoint {
    fn on_train_begin(&mut self, _ctx: &mut CallbackContext<'_>) -> Result<()> {
        self.started = Instant::now();
        Ok(())
    }

    fn on_epoch_end(&mut self, epoch: usize, logs: &mut Logs, ctx: &mut CallbackContext<'_>) -> Result<()> {
        self.history.record(epoch, logs);
        if !self.writes {
            return Ok(());
        }
        let metadata = BTreeMap::from([
            (SETTINGS.to_string(), self.settings.clone()),
            (HISTORY.to_string(), history_to_json(&self.history)),
            (TRAIN_SECONDS.to_string(), self.train_seconds().to_string()),
        ]);
        nn::io::save_model_with_metadata(ctx.model(), checkpoint_path(&self.dir, epoch + 1), &metadata)
    }
}
