//! Launcher for `shaders/softmax.wgsl`.

use super::{DATA_LOOP_ITERATIONS, WORKGROUP, for_each_row_block, index, segments};
use std::ops::Range;

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
        begin: u32,
        end: u32,
        _pad0: u32,
    }
}

// A workgroup per contiguous row (the last axis).
kernel!(ROWS = "softmax.wgsl", "softmax_rows", SoftmaxParams, [Read, ReadWrite], [INDEX, WORKGROUP_REDUCE]);
// An invocation per lane, for axes with elements after them.
kernel!(LANES = "softmax.wgsl", "softmax_lanes", SoftmaxParams, [Read, ReadWrite], [INDEX, WORKGROUP_REDUCE]);

// The two passes over segments of lanes too long for one invocation to walk.
kernel!(
    ROWS_STATS = "softmax.wgsl",
    "softmax_rows_stats",
    SoftmaxParams,
    [Read, ReadWrite],
    [INDEX, WORKGROUP_REDUCE]
);
kernel!(
    ROWS_WRITE = "softmax.wgsl",
    "softmax_rows_write",
    SoftmaxParams,
    [Read, ReadWrite, Read],
    [INDEX, WORKGROUP_REDUCE]
);
kernel!(
    LANES_STATS = "softmax.wgsl",
    "softmax_lanes_stats",
    SoftmaxParams,
    [Read, ReadWrite],
    [INDEX, WORKGROUP_REDUCE]
);
kernel!(
    LANES_WRITE = "softmax.wgsl",
    "softmax_lanes_write",
    SoftmaxParams,
    [Read, ReadWrite, Read],
    [INDEX, WORKGROUP_REDUCE]
);

#[cfg(test)]
pub(crate) static KERNELS: &[&crate::gpu::kernel::Kernel] = &[
    &ROWS.kernel,
    &LANES.kernel,
    &ROWS_STATS.kernel,
    &ROWS_WRITE.kernel,
    &LANES_STATS.kernel,
    &LANES_WRITE.kernel,
];

/// Invocations of the workgroup-per-row kernels.
const ROW_THREADS: usize = 64;

/// Softmax (or, with `log`, log-softmax) of `x` along the axis `split` describes. Blocks of
/// outer positions are bound one at a time, so only one (len, inner) slab must fit a binding.
pub(crate) fn softmax(x: &GpuStorage, split: AxisSplit, log: bool) -> Result<GpuStorage> {
    let name = if log { "log_softmax" } else { "softmax" };
    let device = &x.device;
    let out = GpuStorage::empty(device, x.len)?;
    let ctx = &device.ctx;
    let slab = split.len * split.inner;
    // Elements of a lane each invocation walks: all of a row's elements spread over a workgroup,
    // or every element of a lane for one invocation.
    let rows = split.inner == 1;
    let threads = if rows { ROW_THREADS } else { 1 };
    // One pass walks a lane three times (maximum, sum, write); two passes walk a segment twice,
    // then once.
    let fused = split.len.div_ceil(threads) * 3 <= DATA_LOOP_ITERATIONS;
    let ranges = segments(name, split.len, DATA_LOOP_ITERATIONS / 2 * threads)?;
    // Two passes keep each lane's (maximum, shifted sum) between dispatches.
    let running = if fused { None } else { Some(GpuStorage::empty(device, 2 * split.outer * split.inner)?) };
    for_each_row_block(device, name, split.outer, slab, |first, outer| {
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
        let groups = if rows {
            ctx.linear_groups(outer, 1)
        } else {
            ctx.linear_groups(outer * split.inner, WORKGROUP)
        };
        let Some(running) = &running else {
            let spec = if rows { &ROWS } else { &LANES };
            return ctx.dispatch(spec, &[], &params, &[x_block, y_block], groups);
        };
        let (stats_spec, write_spec) =
            if rows { (&ROWS_STATS, &ROWS_WRITE) } else { (&LANES_STATS, &LANES_WRITE) };
        let segment = |range: &Range<u32>| SoftmaxParams { begin: range.start, end: range.end, ..params };
        for range in &ranges {
            ctx.dispatch(stats_spec, &[], &segment(range), &[x_block, running.binding()], groups)?;
        }
        for range in &ranges {
            ctx.dispatch(write_spec, &[], &segment(range), &[x_block, y_block, running.binding()], groups)?;
        }
        Ok(())
    })?;
    Ok(out)
}
