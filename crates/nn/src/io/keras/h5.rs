//! The HDF5 side of Keras's files, read with `hdf5-pure` (a pure-Rust HDF5 reader and writer:
//! no C library to install, and malformed files come back as its errors rather than panics).
//! Every error names the file and the group, attribute or dataset it concerns.

use std::path::{Path, PathBuf};

use hdf5_pure::{AttrValue, File};
use tensor_core::{DType, Device, Tensor};

use super::super::io_error;
use crate::{NnError, Result};

/// The first bytes of every HDF5 file without a user block (Keras and h5py write none).
pub(super) const MAGIC: &[u8] = b"\x89HDF\r\n\x1a\n";

/// An HDF5 file parsed from its bytes, with the path its errors name.
pub(super) struct H5 {
    file: File,
    path: PathBuf,
    len: usize,
}

impl H5 {
    /// Parses `bytes`, read from `path` (or from a member of the archive at `path`).
    pub(super) fn parse(bytes: Vec<u8>, path: &Path) -> Result<H5> {
        let len = bytes.len();
        let file = File::from_bytes(bytes).map_err(|e| io_error(path, format!("not an HDF5 file: {e}")))?;
        Ok(H5 { file, path: path.to_path_buf(), len })
    }

    /// The file's length in bytes.
    pub(super) fn byte_len(&self) -> usize {
        self.len
    }

    pub(super) fn error(&self, detail: impl std::fmt::Display) -> NnError {
        io_error(&self.path, detail)
    }

    /// Whether the group `group` exists.
    pub(super) fn has_group(&self, group: &str) -> bool {
        self.file.group(group).is_ok()
    }

    /// The names of the groups inside `group`, sorted.
    pub(super) fn groups(&self, group: &str) -> Result<Vec<String>> {
        let mut names = self
            .file
            .group(group)
            .and_then(|g| g.groups())
            .map_err(|e| self.error(format!("group {group}: {e}")))?;
        names.sort();
        Ok(names)
    }

    /// The names of the datasets inside `group`, sorted.
    pub(super) fn datasets(&self, group: &str) -> Result<Vec<String>> {
        let mut names = self
            .file
            .group(group)
            .and_then(|g| g.datasets())
            .map_err(|e| self.error(format!("group {group}: {e}")))?;
        names.sort();
        Ok(names)
    }

    /// The attribute `name` of the group `group`, if it has one.
    fn attr(&self, group: &str, name: &str) -> Result<Option<AttrValue>> {
        let mut attrs = self
            .file
            .group(group)
            .and_then(|g| g.attrs())
            .map_err(|e| self.error(format!("group {group}: {e}")))?;
        Ok(attrs.remove(name))
    }

    /// The string attribute `name` of `group` (h5py writes them variable-length, fixed-width
    /// ones are read too), if it has one.
    pub(super) fn string_attr(&self, group: &str, name: &str) -> Result<Option<String>> {
        Ok(match self.attr(group, name)? {
            None => None,
            Some(
                AttrValue::String(s)
                | AttrValue::AsciiString(s)
                | AttrValue::VarLenString(s)
                | AttrValue::VarLenAsciiString(s)
                | AttrValue::StringSized { value: s, .. }
                | AttrValue::AsciiStringSized { value: s, .. },
            ) => Some(s),
            Some(other) => {
                return Err(self.error(format!(
                    "attribute {name} of group {group} should be a string, got {}",
                    describe(&other)
                )));
            }
        })
    }

    /// The string-array attribute `name` of `group` (the layer and weight names of legacy
    /// files), if it has one. h5py writes an empty list as an empty float array.
    pub(super) fn strings_attr(&self, group: &str, name: &str) -> Result<Option<Vec<String>>> {
        Ok(match self.attr(group, name)? {
            None => None,
            Some(
                AttrValue::StringArray(v)
                | AttrValue::AsciiStringArray(v)
                | AttrValue::VarLenAsciiCharArray(v)
                | AttrValue::VarLenStringArray(v)
                | AttrValue::VarLenAsciiStringArray(v)
                | AttrValue::StringArraySized { values: v, .. }
                | AttrValue::AsciiStringArraySized { values: v, .. },
            ) => Some(v),
            Some(AttrValue::F64Array(v)) if v.is_empty() => Some(Vec::new()),
            Some(other) => {
                return Err(self.error(format!(
                    "attribute {name} of group {group} should be a list of strings, got {}",
                    describe(&other)
                )));
            }
        })
    }

    /// The shape of the dataset `dataset`.
    pub(super) fn shape(&self, dataset: &str) -> Result<Vec<usize>> {
        let shape = self
            .file
            .dataset(dataset)
            .and_then(|d| d.shape())
            .map_err(|e| self.error(format!("dataset {dataset}: {e}")))?;
        shape
            .into_iter()
            .map(|d| {
                usize::try_from(d)
                    .map_err(|_| self.error(format!("dataset {dataset}: dimension {d} is too large")))
            })
            .collect()
    }

    /// The dataset `dataset` as a tensor of `like`'s shape, dtype and device; `what` names it in
    /// errors ("weight 0 of layer dense").
    pub(super) fn tensor_like(&self, dataset: &str, like: &Tensor, what: &str) -> Result<Tensor> {
        let shape = self.shape(dataset)?;
        if shape != like.dims() {
            return Err(self.error(format!(
                "{what} (dataset {dataset}) has shape {shape:?}, the model expects {:?}",
                like.dims()
            )));
        }
        let data = self.file.dataset(dataset).map_err(|e| self.error(format!("dataset {dataset}: {e}")))?;
        // The shape matches a weight the model already holds, so reading it allocates no more
        // than the model did; a corrupt header can still claim more data than the file holds,
        // which Keras's uncompressed weights never do.
        let bytes = like.dims().iter().product::<usize>().saturating_mul(like.dtype().size_in_bytes());
        if bytes > self.len {
            return Err(self.error(format!(
                "{what} (dataset {dataset}) declares {bytes} bytes of data, more than the file's {} bytes",
                self.len
            )));
        }
        let read_error = |e: hdf5_pure::Error| self.error(format!("{what} (dataset {dataset}): {e}"));
        let (shape, cpu) = (like.dims().to_vec(), &Device::Cpu);
        let tensor = match like.dtype() {
            DType::F32 => Tensor::from_vec(data.read_f32().map_err(read_error)?, shape, cpu)?,
            DType::F16 => {
                Tensor::from_vec(data.read_f32().map_err(read_error)?, shape, cpu)?.to_dtype(DType::F16)?
            }
            DType::F64 => Tensor::from_vec(data.read_f64().map_err(read_error)?, shape, cpu)?,
        };
        Ok(tensor.to(like.device())?)
    }

    /// The scalar dataset `dataset` (an optimizer's step count or learning rate).
    pub(super) fn scalar(&self, dataset: &str) -> Result<f64> {
        let shape = self.shape(dataset)?;
        let values = match shape.iter().product::<usize>() {
            1 => self
                .file
                .dataset(dataset)
                .and_then(|d| d.read_f64())
                .map_err(|e| self.error(format!("dataset {dataset}: {e}")))?,
            _ => Vec::new(),
        };
        match values.as_slice() {
            [value] => Ok(*value),
            _ => Err(self.error(format!("dataset {dataset} should hold one number, has shape {shape:?}"))),
        }
    }
}

/// An attribute's kind, for errors.
fn describe(value: &AttrValue) -> String {
    let text = format!("{value:?}");
    match text.find('(') {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}
