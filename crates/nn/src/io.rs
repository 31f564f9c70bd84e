//! Weight files: a model's weights in the safetensors format, written atomically so that a crash
//! mid-write never leaves a truncated file where a good one was.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;

use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use tensor_core::{DType, Tensor};

use crate::{Model, NnError, Result};

fn io_error(path: &Path, detail: impl std::fmt::Display) -> NnError {
    NnError::Io { path: path.display().to_string(), detail: detail.to_string() }
}

/// Every weight of `model` under a unique key, "layer_name/weight_name", in layer order.
pub(crate) fn named_weights(model: &Model) -> Vec<(String, &crate::Weight)> {
    model
        .layers()
        .into_iter()
        .flat_map(|layer| {
            let prefix = layer.name().to_string();
            layer.weights().into_iter().map(move |w| (format!("{prefix}/{}", w.name()), w))
        })
        .collect()
}

/// Host bytes of a tensor (little-endian, as safetensors stores them) and their safetensors type.
fn host_bytes(tensor: &Tensor) -> Result<(Dtype, Vec<u8>)> {
    Ok(match tensor.dtype() {
        DType::F32 => (Dtype::F32, tensor.to_vec::<f32>()?.iter().flat_map(|v| v.to_le_bytes()).collect()),
        DType::F64 => (Dtype::F64, tensor.to_vec::<f64>()?.iter().flat_map(|v| v.to_le_bytes()).collect()),
    })
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

/// Saves every weight of `model` (trainable or not) to a safetensors file at `path`.
pub fn save_weights(model: &Model, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let weights = named_weights(model);
    let mut data = BTreeMap::new();
    for (name, weight) in &weights {
        data.insert(name.clone(), (host_bytes(weight.value())?, weight.value().dims().to_vec()));
    }
    let views = data
        .iter()
        .map(|(name, ((dtype, bytes), shape))| {
            TensorView::new(*dtype, shape.clone(), bytes).map(|view| (name.clone(), view))
        })
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| io_error(path, e))?;
    let metadata =
        HashMap::from([("format".to_string(), "tessera".to_string()), ("model".into(), model.name().into())]);
    let bytes = safetensors::serialize(views, Some(metadata)).map_err(|e| io_error(path, e))?;
    write_atomically(path, &bytes)
}

/// Loads weights saved by [`save_weights`] into `model`, which must have the same layers and
/// weight shapes. Nothing is changed unless every weight is found and fits.
pub fn load_weights(model: &Model, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| io_error(path, e))?;
    let file = SafeTensors::deserialize(&bytes)
        .map_err(|e| io_error(path, format!("not a safetensors file: {e}")))?;
    let weights = named_weights(model);
    let mut loaded = Vec::with_capacity(weights.len());
    for (name, weight) in &weights {
        let view = file.tensor(name).map_err(|_| io_error(path, format!("has no weight {name}")))?;
        let expected = weight.value().dims();
        if view.shape() != expected {
            return Err(io_error(
                path,
                format!("weight {name} has shape {:?}, the model expects {expected:?}", view.shape()),
            ));
        }
        let values: Vec<f64> = match view.dtype() {
            Dtype::F32 => view
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("chunks of 4 bytes")) as f64)
                .collect(),
            Dtype::F64 => view
                .data()
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("chunks of 8 bytes")))
                .collect(),
            other => return Err(io_error(path, format!("weight {name} is {other:?}; expected F32 or F64"))),
        };
        let tensor = Tensor::from_vec(values, expected.to_vec(), &tensor_core::Device::Cpu)?
            .to_dtype(weight.value().dtype())?
            .to(weight.value().device())?;
        loaded.push((weight, tensor));
    }
    let known: Vec<&str> = weights.iter().map(|(n, _)| n.as_str()).collect();
    if let Some(extra) = file.names().into_iter().find(|n| !known.contains(n)) {
        return Err(io_error(path, format!("has weight {extra}, which the model does not have")));
    }
    for (weight, tensor) in loaded {
        weight.assign(&tensor)?;
    }
    Ok(())
}
