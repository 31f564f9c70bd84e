//! A tensor's data on a GPU: f32 (or, on adapters with `SHADER_F16`, f16) elements in a pooled
//! storage buffer, the whole buffer or an aligned range of one that several tensors share (an
//! optimizer packs parameters and their state that way, so that one dispatch updates them all).

use std::sync::Arc;

use super::context::Binding;
use super::{GpuDevice, PooledBuffer};
use crate::{DType, Error, Result};

pub(crate) struct GpuStorage {
    pub(crate) device: GpuDevice,
    buffer: Arc<PooledBuffer>,
    /// Where the tensor's first element is in the buffer, in elements (a multiple of the
    /// adapter's storage offset alignment, so the tensor can be bound on its own).
    offset: usize,
    /// Number of elements (the buffer may be larger: it is a pool size class).
    pub(crate) len: usize,
    /// f32, or f16 on adapters that have it.
    pub(crate) dtype: DType,
}

impl std::fmt::Debug for GpuStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GpuStorage({} {} on {})", self.len, self.dtype, self.device)
    }
}

impl GpuStorage {
    /// An uninitialised buffer for `len` f32 elements.
    pub(crate) fn empty(device: &GpuDevice, len: usize) -> Result<GpuStorage> {
        GpuStorage::empty_of(device, len, DType::F32)
    }

    /// An uninitialised buffer for `len` elements of `dtype`.
    pub(crate) fn empty_of(device: &GpuDevice, len: usize, dtype: DType) -> Result<GpuStorage> {
        let buffer = device.ctx.alloc(bytes_of(len, stored(device, dtype)?)?)?;
        Ok(GpuStorage { device: device.clone(), buffer: Arc::new(buffer), offset: 0, len, dtype })
    }

    /// Host elements of `dtype`, as bytes, moved onto the GPU.
    pub(crate) fn from_host(device: &GpuDevice, data: &[u8], dtype: DType) -> Result<GpuStorage> {
        let len = data.len() / stored(device, dtype)?.size_in_bytes();
        let buffer = device.ctx.upload(data)?;
        Ok(GpuStorage { device: device.clone(), buffer: Arc::new(buffer), offset: 0, len, dtype })
    }

    /// Elements `offset..offset + len` of `buffer`, as a tensor of their own (`offset` aligned
    /// by the caller).
    pub(crate) fn view(
        device: &GpuDevice,
        buffer: &Arc<PooledBuffer>,
        offset: usize,
        len: usize,
    ) -> GpuStorage {
        GpuStorage { device: device.clone(), buffer: Arc::clone(buffer), offset, len, dtype: DType::F32 }
    }

    /// The buffer this tensor lives in, and where in it.
    pub(crate) fn placement(&self) -> (&Arc<PooledBuffer>, usize) {
        (&self.buffer, self.offset)
    }

    /// Bytes per element.
    fn unit(&self) -> u64 {
        self.dtype.size_in_bytes() as u64
    }

    /// Copies the elements to the host as bytes (submits pending work and waits for it).
    pub(crate) fn to_host(&self) -> Result<Vec<u8>> {
        let mut bytes = self.device.ctx.read(
            &self.buffer,
            self.offset as u64 * self.unit(),
            bytes_of(self.len, self.dtype)?,
        )?;
        bytes.truncate(self.len * self.dtype.size_in_bytes());
        Ok(bytes)
    }

    /// Copies `src`'s elements over this tensor's (same length and dtype; checked by the caller).
    pub(crate) fn copy_from(&self, src: &GpuStorage) {
        self.write_at(0, src);
    }

    /// Elements `start..start + len` as a tensor of their own, copied (a buffer copy, not a
    /// kernel).
    pub(crate) fn copy_range(&self, start: usize, len: usize) -> Result<GpuStorage> {
        let out = GpuStorage::empty_of(&self.device, len, self.dtype)?;
        self.device.ctx.copy(
            (&self.buffer, (self.offset + start) as u64 * self.unit()),
            (&out.buffer, out.offset as u64 * self.unit()),
            bytes_of(len, self.dtype)?,
        );
        Ok(out)
    }

    /// Writes `src`'s elements over this tensor's from element `start` on.
    pub(crate) fn write_at(&self, start: usize, src: &GpuStorage) {
        // Whole words: a buffer copy moves multiples of four bytes (an odd f16 tail carries the
        // padding that follows it, which the pool's size classes always hold).
        let size = (src.len as u64 * src.unit()).next_multiple_of(4);
        self.device.ctx.copy(
            (&src.buffer, src.offset as u64 * src.unit()),
            (&self.buffer, (self.offset + start) as u64 * self.unit()),
            size,
        );
    }

    /// The whole tensor as one binding.
    pub(crate) fn binding(&self) -> Binding<'_> {
        self.range(0, self.len)
    }

    /// Elements `start..start + len` as one binding (`start` aligned by the caller); an odd
    /// number of f16 elements is bound with the half word that follows, as bindings are words.
    pub(crate) fn range(&self, start: usize, len: usize) -> Binding<'_> {
        let unit = self.unit();
        Binding {
            buffer: &self.buffer,
            offset: (self.offset + start) as u64 * unit,
            size: (len as u64 * unit).next_multiple_of(4),
        }
    }

    /// Elements `start..start + len` as whole vec4s (the last one padded with whatever follows
    /// in the buffer), when they start on a vector and the buffer holds the padding; else
    /// `None`, and the caller takes its scalar path. Pool buffers are whole vectors, so this
    /// holds for every tensor that does not start mid-vector.
    pub(crate) fn vectors(&self, start: usize, len: usize) -> Option<Binding<'_>> {
        let first = self.offset + start;
        let padded = len.div_ceil(4) * 4;
        let fits = (first + padded) as u64 * self.unit() <= self.buffer.buffer().size();
        (first.is_multiple_of(4) && fits).then(|| self.range(start, padded))
    }

    /// Elements `start..start + len` for any `start`: the binding begins at the nearest offset the
    /// adapter accepts at or below it, and the returned skew (in elements) locates `start` in it.
    pub(crate) fn window(&self, start: usize, len: usize) -> (Binding<'_>, usize) {
        let align = self.device.ctx.offset_alignment() * 4 / self.dtype.size_in_bytes();
        let aligned = start / align * align;
        let skew = start - aligned;
        (self.range(aligned, len + skew), skew)
    }
}

/// `dtype` if GPU tensors can hold it on `device`: f32 always, f16 where the adapter has
/// `SHADER_F16`; anything else is an error naming what the adapter lacks.
pub(crate) fn stored(device: &GpuDevice, dtype: DType) -> Result<DType> {
    match dtype {
        DType::F32 => Ok(dtype),
        DType::F16 if device.has_f16() => Ok(dtype),
        DType::F16 => Err(Error::Unsupported(format!(
            "f16 tensors need an adapter with SHADER_F16, which {device} lacks; use f32 on it"
        ))),
        DType::F64 => Err(Error::DType { op: "to", expected: DType::F32, got: dtype }),
    }
}

/// Bytes for `len` elements of `dtype`, in whole words; indices in kernels are u32, so larger
/// tensors are refused.
pub(crate) fn bytes_of(len: usize, dtype: DType) -> Result<u64> {
    if len > u32::MAX as usize {
        return Err(Error::Limit(format!(
            "a tensor of {len} elements exceeds the 2^32 elements kernels can index"
        )));
    }
    Ok((len as u64 * dtype.size_in_bytes() as u64).next_multiple_of(4))
}
