//! Launcher for `shaders/fill.wgsl`.

use super::{WORKGROUP, for_each_chunk};
use crate::Result;
use crate::gpu::GpuDevice;
use crate::gpu::pipelines::{KernelSpec, kernel};
use crate::gpu::storage::GpuStorage;

const SPEC: KernelSpec = kernel!("fill.wgsl", "main", [ReadWrite]);

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    value: f32,
}

/// A new buffer of `len` copies of `value`.
pub(crate) fn fill(device: &GpuDevice, len: usize, value: f32) -> Result<GpuStorage> {
    let out = GpuStorage::empty(device, len)?;
    let ctx = &device.ctx;
    for_each_chunk(device, len, |start, n| {
        let params = Params { n: n as u32, value };
        ctx.dispatch(
            &SPEC,
            bytemuck::bytes_of(&params),
            &[out.range(start, n)],
            ctx.linear_groups(n, WORKGROUP),
        )
    })?;
    Ok(out)
}
