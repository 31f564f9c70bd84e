//! Named tensors to and from safetensors bytes: little-endian f32 or f64, as the format stores
//! them, with a string-to-string metadata map.

use std::collections::HashMap;
use std::path::Path;

use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use tensor_core::{DType, Device, Tensor};

use super::{io_error, write_atomically};
use crate::Result;

/// Writes `tensors` (read back from their device) and `metadata` to a safetensors file at
/// `path`, atomically.
pub(super) fn write(
    path: &Path,
    tensors: &[(String, &Tensor)],
    metadata: HashMap<String, String>,
) -> Result<()> {
    let data = tensors
        .iter()
        .map(|(name, tensor)| Ok((name, host_bytes(tensor)?, tensor.dims().to_vec())))
        .collect::<Result<Vec<_>>>()?;
    let views = data
        .iter()
        .map(|(name, (dtype, bytes), shape)| {
            TensorView::new(*dtype, shape.clone(), bytes).map(|view| (name.to_string(), view))
        })
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| io_error(path, e))?;
    let bytes = safetensors::serialize(views, Some(metadata)).map_err(|e| io_error(path, e))?;
    write_atomically(path, &bytes)
}

/// Host bytes of a tensor (little-endian, as safetensors stores them) and their safetensors type.
fn host_bytes(tensor: &Tensor) -> Result<(Dtype, Vec<u8>)> {
    Ok(match tensor.dtype() {
        DType::F32 => (Dtype::F32, tensor.to_vec::<f32>()?.iter().flat_map(|v| v.to_le_bytes()).collect()),
        DType::F16 => {
            let bits = tensor.to_vec::<tensor_core::f16>()?;
            (Dtype::F16, bits.iter().flat_map(|v| v.to_le_bytes()).collect())
        }
        DType::F64 => (Dtype::F64, tensor.to_vec::<f64>()?.iter().flat_map(|v| v.to_le_bytes()).collect()),
    })
}

/// The bytes of the file at `path`.
pub(super) fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| io_error(path, e))
}

/// A safetensors file parsed from its bytes, with the path its errors name.
pub(super) struct File<'a> {
    path: &'a Path,
    tensors: SafeTensors<'a>,
    metadata: HashMap<String, String>,
}

impl<'a> File<'a> {
    /// Parses `bytes`, read from `path`; anything but a whole safetensors file is an error.
    pub(super) fn parse(bytes: &'a [u8], path: &'a Path) -> Result<File<'a>> {
        let not_safetensors = |e| io_error(path, format!("not a safetensors file: {e}"));
        let tensors = SafeTensors::deserialize(bytes).map_err(not_safetensors)?;
        let (_, header) = SafeTensors::read_metadata(bytes).map_err(not_safetensors)?;
        Ok(File { path, tensors, metadata: header.metadata().clone().unwrap_or_default() })
    }

    /// The metadata entry `key`, if there is one.
    pub(super) fn metadata(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).map(String::as_str)
    }

    /// The shape of the tensor `name`, if the file has one of that name.
    pub(super) fn shape(&self, name: &str) -> Option<Vec<usize>> {
        self.tensors.tensor(name).ok().map(|view| view.shape().to_vec())
    }

    /// Every metadata entry, in no particular order.
    pub(super) fn metadata_entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.metadata.iter().map(|(key, value)| (key.as_str(), value.as_str()))
    }

    /// The names of the tensors in the file.
    pub(super) fn names(&self) -> Vec<&str> {
        self.tensors.names()
    }

    /// The tensor `name`, which must have the shape of `like`, in the dtype and on the device of
    /// `like`. `what` names it in errors ("weight").
    pub(super) fn tensor_like(&self, name: &str, like: &Tensor, what: &str) -> Result<Tensor> {
        let view =
            self.tensors.tensor(name).map_err(|_| io_error(self.path, format!("has no {what} {name}")))?;
        let expected = like.dims();
        if view.shape() != expected {
            return Err(io_error(
                self.path,
                format!("{what} {name} has shape {:?}, the model expects {expected:?}", view.shape()),
            ));
        }
        let (data, shape, cpu) = (view.data(), expected.to_vec(), &Device::Cpu);
        let tensor = match view.dtype() {
            Dtype::F32 => Tensor::from_vec(le_values(data, f32::from_le_bytes), shape, cpu)?,
            Dtype::F16 => Tensor::from_vec(le_values(data, tensor_core::f16::from_le_bytes), shape, cpu)?,
            Dtype::F64 => Tensor::from_vec(le_values(data, f64::from_le_bytes), shape, cpu)?,
            other => {
                return Err(io_error(self.path, format!("{what} {name} is {other:?}; expected F32 or F64")));
            }
        };
        Ok(tensor.to_dtype(like.dtype())?.to(like.device())?)
    }
}

/// The little-endian values of `N` bytes each in `data` (safetensors checked that the length fits
/// the shape and dtype).
fn le_values<T, const N: usize>(data: &[u8], from_le: fn([u8; N]) -> T) -> Vec<T> {
    data.chunks_exact(N).filter_map(|c| c.try_into().ok()).map(from_le).collect()
}
