//! Launchers for `shaders/unary.wgsl`: an elementwise op, and its backward rule, each over
//! vec4s where every operand starts on a vector (always, but for views into packed buffers).

use super::{WORKGROUP, for_each_chunk, vector_groups};
use crate::Result;
use crate::backend::UnaryOp;
use crate::gpu::kernel::{INDEX, UNARY_CODES, VECTORS, kernel, kernel_params};
use crate::gpu::storage::GpuStorage;

kernel_params! {
    struct UnaryParams {
        n: u32,
        a: f32,
        b: f32,
        _pad: u32,
    }
}

kernel!(UNARY = "unary.wgsl", "unary", UnaryParams, [Read, ReadWrite], [INDEX, VECTORS, UNARY_CODES]);
kernel!(
    UNARY_BACKWARD = "unary.wgsl",
    "unary_backward",
    UnaryParams,
    [Read, Read, Read, ReadWrite],
    [INDEX, VECTORS, UNARY_CODES]
);

kernel!(
    UNARY_VEC4 = "unary.wgsl",
    "unary_vec4",
    UnaryParams,
    [Read, ReadWrite],
    [INDEX, VECTORS, UNARY_CODES]
);
kernel!(
    UNARY_BACKWARD_VEC4 = "unary.wgsl",
    "unary_backward_vec4",
    UnaryParams,
    [Read, Read, Read, ReadWrite],
    [INDEX, VECTORS, UNARY_CODES]
);

#[cfg(test)]
pub(crate) static KERNELS: &[&crate::gpu::kernel::Kernel] =
    &[&UNARY.kernel, &UNARY_BACKWARD.kernel, &UNARY_VEC4.kernel, &UNARY_BACKWARD_VEC4.kernel];

/// `op` of every element of `x`.
pub(crate) fn unary(op: UnaryOp, x: &GpuStorage) -> Result<GpuStorage> {
    let out = GpuStorage::empty(&x.device, x.len)?;
    let ctx = &x.device.ctx;
    let (code, a, b) = op.code();
    let constants = [("OP", f64::from(code.code()))];
    for_each_chunk(&x.device, x.len, |start, len| {
        let params = UnaryParams { n: len as u32, a: a as f32, b: b as f32, _pad: 0 };
        if let (Some(x4), Some(out4)) = (x.vectors(start, len), out.vectors(start, len)) {
            return ctx.dispatch(
                &UNARY_VEC4,
                &constants,
                &params,
                &[x4, out4],
                vector_groups(&x.device, len),
            );
        }
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
        let vectors = [x, out, grad, &dx].map(|s| s.vectors(start, len));
        if let [Some(x4), Some(out4), Some(grad4), Some(dx4)] = vectors {
            let groups = vector_groups(&x.device, len);
            return ctx.dispatch(&UNARY_BACKWARD_VEC4, &constants, &params, &[x4, out4, grad4, dx4], groups);
        }
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
