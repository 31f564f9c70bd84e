//! Launcher for `shaders/peak.wgsl`, the arithmetic ceiling benchmarks compare against.

use super::WORKGROUP;
use crate::Result;
use crate::gpu::GpuDevice;
use crate::gpu::kernel::{INDEX, kernel, kernel_params};
use crate::gpu::storage::GpuStorage;

kernel_params! {
    struct PeakParams {
        n: u32,
        iterations: u32,
    }
}

kernel!(PEAK = "peak.wgsl", "main", PeakParams, [ReadWrite], [INDEX]);

#[cfg(test)]
pub(crate) static KERNELS: &[&crate::gpu::kernel::Kernel] = &[&PEAK.kernel];

/// Floating-point operations one `fma_burst` performs: per iteration, 8 chains x 4 steps x
/// 4 lanes x 2 flops per fma.
pub(crate) fn flops(invocations: u32, iterations: u32) -> f64 {
    f64::from(invocations) * f64::from(iterations) * 256.0
}

/// Records one dispatch of `invocations` register-only FMA chains.
pub(crate) fn fma_burst(device: &GpuDevice, invocations: u32, iterations: u32) -> Result<GpuStorage> {
    let out = GpuStorage::empty(device, invocations as usize)?;
    let ctx = &device.ctx;
    let params = PeakParams { n: invocations, iterations };
    ctx.dispatch(&PEAK, &[], &params, &[out.binding()], ctx.linear_groups(invocations as usize, WORKGROUP))?;
    Ok(out)
}
