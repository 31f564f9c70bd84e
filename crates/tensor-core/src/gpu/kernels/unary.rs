//! Launchers for `shaders/unary.wgsl`: an elementwise op, and its backward rule.

use super::{WORKGROUP, for_each_chunk};
use crate::Result;
use crate::backend::UnaryOp;
use crate::gpu::kernel::{INDEX, UNARY_CODES, kernel, kernel_params};
use crate::gpu::storage::GpuStorage;

kernel_params! {
    struct UnaryParams {
        n: u32,
        a: f32,
        b: f32,
        _pad: u32,
    }
}

kernel!(UNARY = "unary.wgsl", "unary", UnaryParams, [Read, ReadWrite], [INDEX, UNARY_CODES]);
kernel!(
    UNARY_BACKWARD = "unary.wgsl",
    "unary_backward",
    UnaryParams,
    [Read, Read, Read, ReadWrite],
    [INDEX, UNARY_CODES]
);

#[cfg(test)]
pub(crate) static KERNELS: &[&crate::gpu::kernel::Kernel] = &[&UNARY.kernel, &UNARY_BACKWARD.kernel];

/// `op` of every element of `x`.
pub(crate) fn unary(op: UnaryOp, x: &GpuStorage) -> Result<GpuStorage> {
    let out = GpuStorage::empty(&x.device, x.len)?;
    let ctx = &x.device.ctx;
    let (code, a, b) = op.code();
    let constants = [("OP", f64::from(code.code()))];
    for_each_chunk(&x.device, x.len, |start, len| {
        let params = UnaryParams { n: len as u32, a: a as f32, b: b as f32, _pad: 0 };
        ctx.dispatch(
            &UNARY,
            &constants,
            &params,
            &[x.range(start, len), out.range(start, len)],
            ctx.linear_groups(len, WORKGROUP),
        )
    })?;
    Ok(out)
}

/// `grad` times the derivative of `op` at `x`, whose output was `out`.
pub(crate) fn unary_backward(
    op: UnaryOp,
    x: &GpuStorage,
    out: &GpuStorage,
    grad: &GpuStorage,
) -> Result<GpuStorage> {
    let dx = GpuStorage::empty(&x.device, x.len)?;
    let ctx = &x.device.ctx;
    let (code, a, b) = op.code();
    let constants = [("OP", f64::from(code.code()))];
    for_each_chunk(&x.device, x.len, |start, len| {
        let params = UnaryParams { n: len as u32, a: a as f32, b: b as f32, _pad: 0 };
        ctx.dispatch(
            &UNARY_BACKWARD,
            &constants,
            &params,
            &[x.range(start, len), out.range(start, len), grad.range(start, len), dx.range(start, len)],
            ctx.linear_groups(len, WORKGROUP),
        )
    })?;
    Ok(dx)
}
