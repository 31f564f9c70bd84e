//! Launcher for `shaders/softmax.wgsl`.

use super::gather::for_each_row_block;
use super::{WORKGROUP, index};
use crate::Result;
use crate::cpu::layout::AxisSplit;
use crate::gpu::pipelines::{KernelSpec, kernel};
use crate::gpu::storage::GpuStorage;

/// A workgroup per contiguous row (the last axis).
const ROWS: KernelSpec = kernel!("softmax.wgsl", "softmax_rows", [Read, ReadWrite]);
/// An invocation per lane, for axes with elements after them.
const LANES: KernelSpec = kernel!("softmax.wgsl", "softmax_lanes", [Read, ReadWrite]);

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    outer: u32,
    len: u32,
    inner: u32,
    offset: u32,
    log: u32,
    pad: [u32; 3],
}

/// Softmax (or, with `log`, log-softmax) of `x` along the axis `split` describes. Blocks of
/// outer positions are bound one at a time, so only one (len, inner) slab must fit a binding.
pub(crate) fn softmax(x: &GpuStorage, split: AxisSplit, log: bool) -> Result<GpuStorage> {
    let name = if log { "log_softmax" } else { "softmax" };
    let out = GpuStorage::empty(&x.device, x.len)?;
    let ctx = &x.device.ctx;
    let slab = split.len * split.inner;
    for_each_row_block(&x.device, name, split.outer, slab, |first, outer| {
        let (x_block, offset) = x.window(first * slab, outer * slab);
        let (y_block, _) = out.window(first * slab, outer * slab);
        let params = Params {
            outer: index(name, outer)?,
            len: index(name, split.len)?,
            inner: index(name, split.inner)?,
            offset: index(name, offset)?,
            log: log as u32,
            pad: [0; 3],
        };
        let (spec, groups) = if split.inner == 1 {
            (&ROWS, ctx.linear_groups(outer, 1))
        } else {
            (&LANES, ctx.linear_groups(outer * split.inner, WORKGROUP))
        };
        ctx.dispatch(spec, bytemuck::bytes_of(&params), &[x_block, y_block], groups)
    })?;
    Ok(out)
}
