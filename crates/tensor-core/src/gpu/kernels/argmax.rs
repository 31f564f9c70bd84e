//! Launcher for `shaders/argmax.wgsl`.

use super::{for_each_row_block, index};
use crate::Result;
use crate::backend::Rows;
use crate::gpu::kernel::{kernel, kernel_params};
use crate::gpu::storage::GpuStorage;

kernel_params! {
    struct ArgmaxParams {
        rows: u32,
        classes: u32,
        offset: u32,
        out_offset: u32,
    }
}

kernel!(ARGMAX = "argmax.wgsl", "main", ArgmaxParams, [Read, ReadWrite], []);

#[cfg(test)]
pub(crate) static KERNELS: &[&crate::gpu::kernel::Kernel] = &[&ARGMAX.kernel];

/// The index of each row's first maximum, a workgroup per row, in blocks of rows that fit a
/// binding.
pub(crate) fn argmax(x: &GpuStorage, p: Rows) -> Result<GpuStorage> {
    let name = "argmax";
    let out = GpuStorage::empty(&x.device, p.rows)?;
    let ctx = &x.device.ctx;
    for_each_row_block(&x.device, name, p.rows, p.classes, |first, rows| {
        let (x_block, offset) = x.window(first * p.classes, rows * p.classes);
        let (out_block, out_offset) = out.window(first, rows);
        let params = ArgmaxParams {
            rows: index(name, rows)?,
            classes: index(name, p.classes)?,
            offset: index(name, offset)?,
            out_offset: index(name, out_offset)?,
        };
        ctx.dispatch(&ARGMAX, &[], &params, &[x_block, out_block], ctx.linear_groups(rows, 1))
    })?;
    Ok(out)
}
