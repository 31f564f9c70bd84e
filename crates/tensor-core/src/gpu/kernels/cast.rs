//! Launchers for `shaders/cast.wgsl`: f32 ↔ f16 conversions of GPU tensors.

use super::{WORKGROUP, for_each_chunk};
use crate::gpu::kernel::{INDEX, KernelSpec, kernel, kernel_params};
use crate::gpu::storage::{GpuStorage, stored};
use crate::{DType, Error, Result};

kernel_params! {
    struct CastParams {
        n: u32,
        src_offset: u32,
        dst_offset: u32,
        _pad: u32,
    }
}

kernel!(f16 TO_F16 = "cast.wgsl", "to_f16", CastParams, [Read, ReadWrite], [INDEX]);
kernel!(f16 TO_F32 = "cast.wgsl", "to_f32", CastParams, [Read, ReadWrite], [INDEX]);

#[cfg(test)]
pub(crate) static KERNELS: &[&crate::gpu::kernel::Kernel] = &[&TO_F16.kernel, &TO_F32.kernel];

/// `x` converted to `dtype` (a copy when it already is).
pub(crate) fn cast(x: &GpuStorage, dtype: DType) -> Result<GpuStorage> {
    let spec: &'static KernelSpec<CastParams> = match (x.dtype, stored(&x.device, dtype)?) {
        (from, to) if from == to => return x.copy_range(0, x.len),
        (DType::F32, DType::F16) => &TO_F16,
        (DType::F16, DType::F32) => &TO_F32,
        (from, to) => return Err(Error::DType { op: "to_dtype", expected: from, got: to }),
    };
    let out = GpuStorage::empty_of(&x.device, x.len, dtype)?;
    let ctx = &x.device.ctx;
    for_each_chunk(&x.device, x.len, |start, len| {
        let (src, src_offset) = x.window(start, len);
        let (dst, dst_offset) = out.window(start, len);
        let params = CastParams {
            n: len as u32,
            src_offset: src_offset as u32,
            dst_offset: dst_offset as u32,
            _pad: 0,
        };
        ctx.dispatch(spec, &[], &params, &[src, dst], ctx.linear_groups(len, WORKGROUP))
    })?;
    Ok(out)
}
