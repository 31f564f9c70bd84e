//! Model files in the safetensors format, written atomically so that a crash mid-write never
//! leaves a truncated file where a good one was: a model's weights alone ([`save_weights`]), or
//! the whole model in one file ([`save_model`]): architecture, weights, training config and
//! optimizer state, from which training resumes where it stopped.

mod declared;
mod model;
mod tensors;
mod weights;

use std::io::Write;
use std::path::Path;

pub use model::{load_model, save_model};
pub use weights::{load_weights, save_weights};

use crate::{Model, NnError, Result, Weight};

/// Where a whole-model file keeps the optimizer's slots: `optimizer/<layer>/<weight>/<slot>`.
const OPTIMIZER_PREFIX: &str = "optimizer/";

fn io_error(path: &Path, detail: impl std::fmt::Display) -> NnError {
    NnError::Io { path: path.display().to_string(), detail: detail.to_string() }
}

/// Every weight of `model` under a unique key, "layer_name/weight_name", in layer order.
pub(crate) fn named_weights(model: &Model) -> Vec<(String, &Weight)> {
    model
        .layers()
        .into_iter()
        .flat_map(|layer| {
            let prefix = layer.name().to_string();
            layer.weights().into_iter().map(move |w| (format!("{prefix}/{}", w.name()), w))
        })
        .collect()
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename, so
/// readers see either the old file or the complete new one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
    let name = path.file_name().ok_or_else(|| io_error(path, "not a file path"))?;
    let tmp = dir.join(format!(".{}.tmp{}", name.to_string_lossy(), std::process::id()));
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
