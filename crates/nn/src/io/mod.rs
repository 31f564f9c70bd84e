//! Model files in the safetensors format, written atomically so that a crash mid-write never
//! leaves a truncated file where a good one was: a model's weights alone ([`save_weights`]), or
//! the whole model in one file ([`save_model`]): architecture, weights, training config and
//! optimizer state, from which training resumes where it stopped. Keras's own files are read
//! and written too (`load_keras`, `save_keras`...; see `keras/`).

mod declared;
mod keras;
mod model;
mod tensors;
mod weights;

use std::io::Write;
use std::path::{Path, PathBuf};

pub use keras::{KerasWeightsOptions, load_keras, load_keras_weights, save_keras, save_keras_weights};
pub use model::{load_model, load_model_metadata, save_model, save_model_with_metadata};
pub use weights::{load_weights, save_weights};

use crate::{Layer, Model, NnError, Result, Weight};

/// Where a whole-model file keeps the optimizer's slots: `optimizer/<layer>/<weight>/<slot>`.
const OPTIMIZER_PREFIX: &str = "optimizer/";

fn io_error(path: &Path, detail: impl std::fmt::Display) -> NnError {
    NnError::Io { path: path.display().to_string(), detail: detail.to_string() }
}

/// Every weight of `model` under a unique key, "layer_name/weight_name", in layer order.
pub(crate) fn named_weights(model: &Model) -> Vec<(String, &Weight)> {
    // A weight two layers hold (a nested copy sharing its original's) is kept once, under the
    // first path that reaches it.
    let mut seen = std::collections::HashSet::new();
    model.weight_paths().into_iter().filter(|(_, w)| seen.insert(w.id())).collect()
}

/// What names the temporary files of [`write_atomically`]: `.<name>.tmp<process id>`.
const TEMPORARY_MARK: &str = ".tmp";

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename, so
/// readers see either the old file or the complete new one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
    let name = path.file_name().ok_or_else(|| io_error(path, "not a file path"))?;
    let tmp = dir.join(format!(".{}{TEMPORARY_MARK}{}", name.to_string_lossy(), std::process::id()));
    let written = (|| -> std::io::Result<()> {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    written.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io_error(path, e)
    })
}

/// Removes from `dir` the temporary files that [`write_atomically`] left behind when its process
/// died mid-write (a kill cannot be cleaned up after), and returns their paths. The temporaries
/// of this process are kept: they may be writes in progress. A missing `dir` holds none.
pub fn remove_stale_temporaries(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error(dir, e)),
    };
    let own = std::process::id().to_string();
    let is_stale = |name: &str| {
        let Some((stem, pid)) = name.strip_prefix('.').and_then(|rest| rest.rsplit_once(TEMPORARY_MARK))
        else {
            return false;
        };
        !stem.is_empty() && !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()) && pid != own
    };
    let mut removed = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| io_error(dir, e))?.path();
        if path.is_file() && path.file_name().and_then(|n| n.to_str()).is_some_and(is_stale) {
            std::fs::remove_file(&path).map_err(|e| io_error(&path, e))?;
            removed.push(path);
        }
    }
    Ok(removed)
}
