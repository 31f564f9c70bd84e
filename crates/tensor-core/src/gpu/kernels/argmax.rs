//! Launcher for `shaders/argmax.wgsl`.

use super::{DATA_LOOP_ITERATIONS, for_each_row_block, index, segments};
use crate::backend::Rows;
use crate::gpu::kernel::{kernel, kernel_params};
use crate::gpu::storage::GpuStorage;
use crate::{Error, Result};

kernel_params! {
    struct ArgmaxParams {
        rows: u32,
        classes: u32,
        offset: u32,
        out_offset: u32,
        begin: u32,
        end: u32,
        _pad0: u32,
        _pad1: u32,
    }
}

kernel!(ARGMAX = "argmax.wgsl", "main", ArgmaxParams, [Read, ReadWrite], []);
// Rows too long for one pass, a segment per dispatch.
kernel!(SEGMENT = "argmax.wgsl", "segment", ArgmaxParams, [Read, ReadWrite, ReadWrite], []);

#[cfg(test)]
pub(crate) static KERNELS: &[&crate::gpu::kernel::Kernel] = &[&ARGMAX.kernel, &SEGMENT.kernel];

/// Invocations per row.
const THREADS: usize = 64;

/// Indices travel as f32, exact up to 2^24.
const MAX_CLASSES: usize = 1 << 24;

/// The index of each row's first maximum, a workgroup per row, in blocks of rows that fit a
/// binding; rows longer than one pass may walk are scanned a segment per dispatch.
pub(crate) fn argmax(x: &GpuStorage, p: Rows) -> Result<GpuStorage> {
    let name = "argmax";
    if p.classes > MAX_CLASSES {
        return Err(Error::Limit(format!(
            "{name}: rows of {} elements; GPU indices are exact only up to {MAX_CLASSES}",
            p.classes
        )));
    }
    let device = &x.device;
    let out = GpuStorage::empty(device, p.rows)?;
    let ctx = &device.ctx;
    let ranges = segments(name, p.classes, DATA_LOOP_ITERATIONS * THREADS)?;
    // Rows longer than one pass: the best (value, index, NaN flag) so far per row of a block.
    let running = if ranges.len() > 1 { Some(GpuStorage::empty(device, 4 * p.rows)?) } else { None };
    for_each_row_block(device, name, p.rows, p.classes, |first, rows| {
        let (x_block, offset) = x.window(first * p.classes, rows * p.classes);
        let (out_block, out_offset) = out.window(first, rows);
        let params = ArgmaxParams {
            rows: index(name, rows)?,
            classes: index(name, p.classes)?,
            offset: index(name, offset)?,
            out_offset: index(name, out_offset)?,
            ..ArgmaxParams::default()
        };
        let groups = ctx.linear_groups(rows, 1);
        let Some(running) = &running else {
            return ctx.dispatch(&ARGMAX, &[], &params, &[x_block, out_block], groups);
        };
        for range in &ranges {
            let params = ArgmaxParams { begin: range.start, end: range.end, ..params };
            ctx.dispatch(&SEGMENT, &[], &params, &[x_block, out_block, running.binding()], groups)?;
        }
        Ok(())
    })?;
    Ok(out)
}
