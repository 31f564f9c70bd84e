//! Launcher for `shaders/cross_entropy.wgsl`.

use super::{for_each_row_block, index};
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
        _pad0: u32,
        _pad1: u32,
        _pad2: u32,
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

#[cfg(test)]
pub(crate) static KERNELS: &[&crate::gpu::kernel::Kernel] = &[&LOSS.kernel, &GRAD.kernel];

/// One loss per row of the (rows, classes) `logits`, against dense labels or, with `sparse`,
/// class ids (which the caller has validated, or accepts NaN for where they are invalid).
pub(crate) fn loss(p: Rows, sparse: bool, logits: &GpuStorage, labels: &GpuStorage) -> Result<GpuStorage> {
    let out = GpuStorage::empty(&logits.device, p.rows)?;
    launch(&LOSS, p, sparse, logits, labels, None, &out)?;
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
    launch(&GRAD, p, sparse, logits, labels, Some(grad), &out)?;
    Ok(out)
}

/// Runs `spec` over blocks of rows: a workgroup per row. `out` is per row without `grad` (the
/// loss) and per class with it (the logits' gradient).
fn launch(
    spec: &'static crate::gpu::kernel::KernelSpec<CrossEntropyParams>,
    p: Rows,
    sparse: bool,
    logits: &GpuStorage,
    labels: &GpuStorage,
    grad: Option<&GpuStorage>,
    out: &GpuStorage,
) -> Result<()> {
    let name = if sparse { "sparse_softmax_cross_entropy" } else { "softmax_cross_entropy" };
    let ctx = &logits.device.ctx;
    let c = p.classes;
    for_each_row_block(&logits.device, name, p.rows, c, |first, rows| {
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
        ctx.dispatch(spec, &[], &params, &bindings, ctx.linear_groups(rows, 1))
    })
}
