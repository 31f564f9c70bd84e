//! A tensor's data on a GPU: f32 elements in a pooled storage buffer.

use super::context::Binding;
use super::{GpuDevice, PooledBuffer};
use crate::{Error, Result};

pub(crate) struct GpuStorage {
    pub(crate) device: GpuDevice,
    pub(crate) buffer: PooledBuffer,
    /// Number of f32 elements (the buffer may be larger: it is a pool size class).
    pub(crate) len: usize,
}

impl std::fmt::Debug for GpuStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GpuStorage({} f32 on {})", self.len, self.device)
    }
}

impl GpuStorage {
    /// An uninitialised buffer for `len` elements.
    pub(crate) fn empty(device: &GpuDevice, len: usize) -> Result<GpuStorage> {
        let buffer = device.ctx.alloc(bytes_of(len)?)?;
        Ok(GpuStorage { device: device.clone(), buffer, len })
    }

    pub(crate) fn from_host(device: &GpuDevice, data: &[f32]) -> Result<GpuStorage> {
        let buffer = device.ctx.upload(bytemuck::cast_slice(data))?;
        Ok(GpuStorage { device: device.clone(), buffer, len: data.len() })
    }

    /// Copies the elements to the host (submits pending work and waits for it).
    pub(crate) fn to_host(&self) -> Result<Vec<f32>> {
        let bytes = self.device.ctx.read(self.buffer.buffer(), bytes_of(self.len)?)?;
        Ok(bytemuck::pod_collect_to_vec(&bytes))
    }

    /// The whole tensor as one binding.
    pub(crate) fn binding(&self) -> Binding<'_> {
        Binding { buffer: self.buffer.buffer(), offset: 0, size: self.len as u64 * 4 }
    }

    /// Elements `start..start + len` as one binding (`start` aligned by the caller).
    pub(crate) fn range(&self, start: usize, len: usize) -> Binding<'_> {
        Binding { buffer: self.buffer.buffer(), offset: start as u64 * 4, size: len as u64 * 4 }
    }

    /// Elements `start..start + len` for any `start`: the binding begins at the nearest offset the
    /// adapter accepts at or below it, and the returned skew (in elements) locates `start` in it.
    pub(crate) fn window(&self, start: usize, len: usize) -> (Binding<'_>, usize) {
        let align = (self.device.ctx.limits.min_storage_buffer_offset_alignment as usize / 4).max(1);
        let aligned = start / align * align;
        let skew = start - aligned;
        (self.range(aligned, len + skew), skew)
    }
}

/// Bytes for `len` f32 elements; indices in kernels are u32, so larger tensors are refused.
fn bytes_of(len: usize) -> Result<u64> {
    if len > u32::MAX as usize {
        return Err(Error::Limit(format!(
            "a tensor of {len} elements exceeds the 2^32 elements kernels can index"
        )));
    }
    Ok(len as u64 * 4)
}
