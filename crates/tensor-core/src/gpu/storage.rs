//! A tensor's data on a GPU: f32 elements in a pooled storage buffer, the whole buffer or an
//! aligned range of one that several tensors share (an optimizer packs parameters and their
//! state that way, so that one dispatch updates them all).

use std::sync::Arc;

use super::context::Binding;
use super::{GpuDevice, PooledBuffer};
use crate::{Error, Result};

pub(crate) struct GpuStorage {
    pub(crate) device: GpuDevice,
    buffer: Arc<PooledBuffer>,
    /// Where the tensor's first element is in the buffer, in elements (a multiple of the
    /// adapter's storage offset alignment, so the tensor can be bound on its own).
    offset: usize,
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
        Ok(GpuStorage { device: device.clone(), buffer: Arc::new(buffer), offset: 0, len })
    }

    pub(crate) fn from_host(device: &GpuDevice, data: &[f32]) -> Result<GpuStorage> {
        let buffer = device.ctx.upload(bytemuck::cast_slice(data))?;
        Ok(GpuStorage { device: device.clone(), buffer: Arc::new(buffer), offset: 0, len: data.len() })
    }

    /// Elements `offset..offset + len` of `buffer`, as a tensor of their own (`offset` aligned
    /// by the caller).
    pub(crate) fn view(
        device: &GpuDevice,
        buffer: &Arc<PooledBuffer>,
        offset: usize,
        len: usize,
    ) -> GpuStorage {
        GpuStorage { device: device.clone(), buffer: Arc::clone(buffer), offset, len }
    }

    /// The buffer this tensor lives in, and where in it.
    pub(crate) fn placement(&self) -> (&Arc<PooledBuffer>, usize) {
        (&self.buffer, self.offset)
    }

    /// Copies the elements to the host (submits pending work and waits for it).
    pub(crate) fn to_host(&self) -> Result<Vec<f32>> {
        let bytes = self.device.ctx.read(&self.buffer, self.offset as u64 * 4, bytes_of(self.len)?)?;
        Ok(bytemuck::pod_collect_to_vec(&bytes))
    }

    /// Copies `src`'s elements over this tensor's (same length; checked by the caller).
    pub(crate) fn copy_from(&self, src: &GpuStorage) {
        self.write_at(0, src);
    }

    /// Elements `start..start + len` as a tensor of their own, copied (a buffer copy, not a
    /// kernel).
    pub(crate) fn copy_range(&self, start: usize, len: usize) -> Result<GpuStorage> {
        let out = GpuStorage::empty(&self.device, len)?;
        self.device.ctx.copy(
            (&self.buffer, (self.offset + start) as u64 * 4),
            (&out.buffer, out.offset as u64 * 4),
            len as u64 * 4,
        );
        Ok(out)
    }

    /// Writes `src`'s elements over this tensor's from element `start` on.
    pub(crate) fn write_at(&self, start: usize, src: &GpuStorage) {
        self.device.ctx.copy(
            (&src.buffer, src.offset as u64 * 4),
            (&self.buffer, (self.offset + start) as u64 * 4),
            src.len as u64 * 4,
        );
    }

    /// The whole tensor as one binding.
    pub(crate) fn binding(&self) -> Binding<'_> {
        self.range(0, self.len)
    }

    /// Elements `start..start + len` as one binding (`start` aligned by the caller).
    pub(crate) fn range(&self, start: usize, len: usize) -> Binding<'_> {
        Binding { buffer: &self.buffer, offset: (self.offset + start) as u64 * 4, size: len as u64 * 4 }
    }

    /// Elements `start..start + len` as whole vec4s (the last one padded with whatever follows
    /// in the buffer), when they start on a vector and the buffer holds the padding; else
    /// `None`, and the caller takes its scalar path. Pool buffers are whole vectors, so this
    /// holds for every tensor that does not start mid-vector.
    pub(crate) fn vectors(&self, start: usize, len: usize) -> Option<Binding<'_>> {
        let first = self.offset + start;
        let padded = len.div_ceil(4) * 4;
        let fits = (first + padded) as u64 * 4 <= self.buffer.buffer().size();
        (first.is_multiple_of(4) && fits).then(|| self.range(start, padded))
    }

    /// Elements `start..start + len` for any `start`: the binding begins at the nearest offset the
    /// adapter accepts at or below it, and the returned skew (in elements) locates `start` in it.
    pub(crate) fn window(&self, start: usize, len: usize) -> (Binding<'_>, usize) {
        let align = self.device.ctx.offset_alignment();
        let aligned = start / align * align;
        let skew = start - aligned;
        (self.range(aligned, len + skew), skew)
    }
}

/// Bytes for `len` f32 elements; indices in kernels are u32, so larger tensors are refused.
pub(crate) fn bytes_of(len: usize) -> Result<u64> {
    if len > u32::MAX as usize {
        return Err(Error::Limit(format!(
            "a tensor of {len} elements exceeds the 2^32 elements kernels can index"
        )));
    }
    Ok(len as u64 * 4)
}
