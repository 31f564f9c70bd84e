//! Launcher for `shaders/fill.wgsl`.

use super::{WORKGROUP, for_each_chunk};
use crate::Result;
use crate::gpu::GpuDevice;
use crate::gpu::kernel::{INDEX, kernel, kernel_params};
use crate::gpu::storage::GpuStorage;

kernel_params! {
    struct FillParams {
        n: u32,
        offset: u32,
        start: f32,
        step: f32,
    }
}

kernel!(FILL = "fill.wgsl", "main", FillParams, [ReadWrite], [INDEX]);

#[cfg(test)]
pub(crate) static KERNELS: &[&crate::gpu::kernel::Kernel] = &[&FILL.kernel];

/// A new buffer of `len` copies of `value`.
pub(crate) fn fill(device: &GpuDevice, len: usize, value: f32) -> Result<GpuStorage> {
    ramp(device, len, value, 0.0)
}

/// A new buffer holding `start + step * i` for `i` in `0..len`.
pub(crate) fn ramp(device: &GpuDevice, len: usize, start: f32, step: f32) -> Result<GpuStorage> {
    let out = GpuStorage::empty(device, len)?;
    let ctx = &device.ctx;
    for_each_chunk(device, len, |first, n| {
        let params = FillParams { n: n as u32, offset: first as u32, start, step };
        ctx.dispatch(&FILL, &[], &params, &[out.range(first, n)], ctx.linear_groups(n, WORKGROUP))
    })?;
    Ok(out)
}
