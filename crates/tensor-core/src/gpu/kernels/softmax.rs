//! Launcher for `shaders/softmax.wgsl`.

use super::{WORKGROUP, for_each_row_block, index};
use crate::Result;
use crate::backend::AxisSplit;
use crate::gpu::kernel::{INDEX, WORKGROUP_REDUCE, kernel, kernel_params};
use crate::gpu::storage::GpuStorage;

kernel_params! {
    struct SoftmaxParams {
        outer: u32,
        len: u32,
        inner: u32,
        offset: u32,
        log: u32,
        _pad0: u32,
        _pad1: u32,
        _pad2: u32,
    }
}

// A workgroup per contiguous row (the last axis).
kernel!(ROWS = "softmax.wgsl", "softmax_rows", SoftmaxParams, [Read, ReadWrite], [INDEX, WORKGROUP_REDUCE]);
// An invocation per lane, for axes with elements after them.
kernel!(LANES = "softmax.wgsl", "softmax_lanes", SoftmaxParams, [Read, ReadWrite], [INDEX, WORKGROUP_REDUCE]);

#[cfg(test)]
pub(crate) static KERNELS: &[&crate::gpu::kernel::Kernel] = &[&ROWS.kernel, &LANES.kernel];

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
        let params = SoftmaxParams {
            outer: index(name, outer)?,
            len: index(name, split.len)?,
            inner: index(name, split.inner)?,
            offset: index(name, offset)?,
            log: log as u32,
            ..SoftmaxParams::default()
        };
        let (spec, groups) = if split.inner == 1 {
            (&ROWS, ctx.linear_groups(outer, 1))
        } else {
            (&LANES, ctx.linear_groups(outer * split.inner, WORKGROUP))
        };
        ctx.dispatch(spec, &[], &params, &[x_block, y_block], groups)
    })?;
    Ok(out)
}
