//! Launcher for `shaders/random.wgsl`.

use super::{WORKGROUP, for_each_chunk};
use crate::Result;
use crate::gpu::GpuDevice;
use crate::gpu::kernel::{INDEX, RANDOM, kernel, kernel_params};
use crate::gpu::storage::GpuStorage;

kernel_params! {
    struct RandomParams {
        n: u32,
        seed_lo: u32,
        seed_hi: u32,
        offset: u32,
        low: f32,
        high: f32,
        _pad0: u32,
        _pad1: u32,
    }
}

kernel!(UNIFORM = "random.wgsl", "main", RandomParams, [ReadWrite], [INDEX, RANDOM]);

#[cfg(test)]
pub(crate) static KERNELS: &[&crate::gpu::kernel::Kernel] = &[&UNIFORM.kernel];

/// `n` uniform samples in `[low, high)` from stream `seed`, drawn on the device.
pub(crate) fn uniform(device: &GpuDevice, n: u32, low: f64, high: f64, seed: u64) -> Result<GpuStorage> {
    let out = GpuStorage::empty(device, n as usize)?;
    let ctx = &device.ctx;
    for_each_chunk(device, n as usize, |start, len| {
        let params = RandomParams {
            n: len as u32,
            seed_lo: seed as u32,
            seed_hi: (seed >> 32) as u32,
            offset: start as u32,
            low: low as f32,
            high: high as f32,
            _pad0: 0,
            _pad1: 0,
        };
        ctx.dispatch(&UNIFORM, &[], &params, &[out.range(start, len)], ctx.linear_groups(len, WORKGROUP))
    })?;
    Ok(out)
}
