//! Launcher for `shaders/cross_entropy.wgsl`.

use super::{DATA_LOOP_ITERATIONS, for_each_row_block, index, segments};
use crate::Result;
use crate::backend::Rows;
use crate::gpu::kernel::{WORKGROUP_REDUCE, kernel, kernel_params};
use crate::gpu::storage::GpuStorage;

kernel_params! {
    struct CrossEntropyParams {
        rows: u32,
        classes: u32,
        wide_offset: u32,
        narrow_offset: u32,
        sparse: u32,
        begin: u32,
        end: u32,
        _pad0: u32,
    }
}

kernel!(
    LOSS = "cross_entropy.wgsl",
    "cross_entropy_loss",
    CrossEntropyParams,
    [Read, Read, ReadWrite],
    [WORKGROUP_REDUCE]
);
kernel!(
    GRAD = "cross_entropy.wgsl",
    "cross_entropy_grad",
    CrossEntropyParams,
    [Read, Read, ReadWrite, Read],
    [WORKGROUP_REDUCE]
);

// Rows too long for one pass: running totals a segment per dispatch, then the loss or the
// gradient from them.
kernel!(
    STATS = "cross_entropy.wgsl",
    "cross_entropy_stats",
    CrossEntropyParams,
    [Read, Read, ReadWrite],
    [WORKGROUP_REDUCE]
);
kernel!(
    LOSS_TOTAL = "cross_entropy.wgsl",
    "cross_entropy_loss_total",
    CrossEntropyParams,
    [Read, Read, ReadWrite, Read],
    [WORKGROUP_REDUCE]
);
kernel!(
    GRAD_SEGMENT = "cross_entropy.wgsl",
    "cross_entropy_grad_segment",
    CrossEntropyParams,
    [Read, Read, ReadWrite, Read, Read],
    [WORKGROUP_REDUCE]
);

#[cfg(test)]
pub(crate) static KERNELS: &[&crate::gpu::kernel::Kernel] =
    &[&LOSS.kernel, &GRAD.kernel, &STATS.kernel, &LOSS_TOTAL.kernel, &GRAD_SEGMENT.kernel];

/// Invocations per row.
const THREADS: usize = 64;

/// One loss per row of the (rows, classes) `logits`, against dense labels or, with `sparse`,
/// class ids (which the caller has validated, or accepts NaN for where they are invalid).
pub(crate) fn loss(p: Rows, sparse: bool, logits: &GpuStorage, labels: &GpuStorage) -> Result<GpuStorage> {
    let out = GpuStorage::empty(&logits.device, p.rows)?;
    launch(p, sparse, logits, labels, None, &out)?;
    Ok(out)
}

/// The gradient with respect to `logits` given each row's loss gradient `grad`.
pub(crate) fn logits_grad(
    p: Rows,
    sparse: bool,
    logits: &GpuStorage,
    labels: &GpuStorage,
    grad: &GpuStorage,
) -> Result<GpuStorage> {
    let out = GpuStorage::empty(&logits.device, logits.len)?;
    launch(p, sparse, logits, labels, Some(grad), &out)?;
    Ok(out)
}

/// Computes the loss (without `grad`: `out` is per row) or the logits' gradient (with it: `out`
/// is per class) over blocks of rows, a workgroup per row: in one dispatch when a row is short
/// enough for one pass to walk it three times, else through running totals a segment at a time.
fn launch(
    p: Rows,
    sparse: bool,
    logits: &GpuStorage,
    labels: &GpuStorage,
    grad: Option<&GpuStorage>,
    out: &GpuStorage,
) -> Result<()> {
    let name = if sparse { "sparse_softmax_cross_entropy" } else { "softmax_cross_entropy" };
    let device = &logits.device;
    let ctx = &device.ctx;
    let c = p.classes;
    let fused = c.div_ceil(THREADS) * 3 <= DATA_LOOP_ITERATIONS;
    let ranges = segments(name, c, DATA_LOOP_ITERATIONS / 2 * THREADS)?;
    // Rows longer than one pass: (m, s, sum y, sum y * (m - z)) per row of a block.
    let running = if fused { None } else { Some(GpuStorage::empty(device, 4 * p.rows)?) };
    for_each_row_block(device, name, p.rows, c, |first, rows| {
        // Per-class bindings share one offset, and so do per-row ones.
        let (logits_block, wide_offset) = logits.window(first * c, rows * c);
        let (labels_block, _) =
            if sparse { labels.window(first, rows) } else { labels.window(first * c, rows * c) };
        let (bindings, narrow_offset) = match grad {
            Some(grad) => {
                let (grad_block, narrow_offset) = grad.window(first, rows);
                let out_block = out.window(first * c, rows * c).0;
                (vec![logits_block, labels_block, out_block, grad_block], narrow_offset)
            }
            None => {
                let (out_block, narrow_offset) = out.window(first, rows);
                (vec![logits_block, labels_block, out_block], narrow_offset)
            }
        };
        let params = CrossEntropyParams {
            rows: index(name, rows)?,
            classes: index(name, c)?,
            wide_offset: index(name, wide_offset)?,
            narrow_offset: index(name, narrow_offset)?,
            sparse: sparse as u32,
            ..CrossEntropyParams::default()
        };
        let groups = ctx.linear_groups(rows, 1);
        let Some(running) = &running else {
            let spec = if grad.is_some() { &GRAD } else { &LOSS };
            return ctx.dispatch(spec, &[], &params, &bindings, groups);
        };
        let segment = |range: &std::ops::Range<u32>| CrossEntropyParams {
            begin: range.start,
            end: range.end,
            ..params
        };
        for range in &ranges {
            let stats = [logits_block, labels_block, running.binding()];
            ctx.dispatch(&STATS, &[], &segment(range), &stats, groups)?;
        }
        let finishing = [bindings.as_slice(), &[running.binding()]].concat();
        match grad {
            Some(_) => {
                for range in &ranges {
                    ctx.dispatch(&GRAD_SEGMENT, &[], &segment(range), &finishing, groups)?;
                }
                Ok(())
            }
            None => ctx.dispatch(&LOSS_TOTAL, &[], &params, &finishing, groups),
        }
    })
}
