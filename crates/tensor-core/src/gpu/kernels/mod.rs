//! Host-side launchers: one module per shader family, each packing its parameter block and
//! splitting work that would exceed the adapter's binding limit.

pub(crate) mod batch_norm;
pub(crate) mod binary;
pub(crate) mod conv;
pub(crate) mod copy;
pub(crate) mod cross_entropy;
pub(crate) mod fill;
pub(crate) mod gather;
pub(crate) mod matmul;
pub(crate) mod optim;
pub(crate) mod peak;
pub(crate) mod pool;
pub(crate) mod random;
pub(crate) mod reduce;
pub(crate) mod softmax;
pub(crate) mod strided_copy;
pub(crate) mod unary;

use super::GpuDevice;
use crate::{Error, Result};

/// Workgroup size of the one-invocation-per-element kernels.
pub(crate) const WORKGROUP: u32 = 256;

/// Axes a kernel's parameter block can describe.
pub(crate) const MAX_RANK: usize = 8;

/// `values` packed into the `array<vec4u, 2>` layout the shaders use for shapes and strides.
pub(crate) fn pack(op: &'static str, values: &[usize]) -> Result<[u32; MAX_RANK]> {
    if values.len() > MAX_RANK {
        return Err(Error::argument(
            op,
            format!("GPU kernels handle up to {MAX_RANK} axes, got {}", values.len()),
        ));
    }
    let mut packed = [0u32; MAX_RANK];
    for (slot, &v) in packed.iter_mut().zip(values) {
        *slot = index(op, v)?;
    }
    Ok(packed)
}

/// `v` as a kernel index (u32), or an error naming the op.
pub(crate) fn index(op: &'static str, v: usize) -> Result<u32> {
    u32::try_from(v)
        .map_err(|_| Error::Limit(format!("{op}: a size, stride or offset of {v} exceeds u32 indexing")))
}

/// Splits `total` elements into ranges that each fit one binding and start at an offset the
/// adapter accepts, calling `run(start, len)` for each.
pub(crate) fn for_each_chunk(
    device: &GpuDevice,
    total: usize,
    mut run: impl FnMut(usize, usize) -> Result<()>,
) -> Result<()> {
    let limits = &device.ctx.limits;
    let align = (limits.min_storage_buffer_offset_alignment as usize / 4).max(1);
    let fit = (limits.max_storage_buffer_binding_size as usize / 4) / align * align;
    let mut start = 0;
    while start < total {
        let len = fit.min(total - start);
        run(start, len)?;
        start += len;
    }
    Ok(())
}
