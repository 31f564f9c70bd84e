//! Launcher for `shaders/binary.wgsl`.

use super::{Axes, WORKGROUP, for_each_chunk, pack, vector_groups};
use crate::backend::BinaryOp;
use crate::gpu::kernel::{BINARY_CODES, INDEX, VECTORS, kernel, kernel_params};
use crate::gpu::storage::GpuStorage;
use crate::{Result, Shape};

kernel_params! {
    struct BinaryParams {
        n: u32,
        rank: u32,
        base: u32,
        a_base: u32,
        b_base: u32,
        /// `binary_repeat_vec4`: the repeating operand's length, and whether it is `a`.
        period: u32,
        a_repeats: u32,
        _pad: u32,
        dims: Axes,
        a_strides: Axes,
        b_strides: Axes,
    }
}

kernel!(
    BINARY = "binary.wgsl",
    "main",
    BinaryParams,
    [Read, Read, ReadWrite],
    [INDEX, VECTORS, BINARY_CODES]
);

kernel!(
    BINARY_VEC4 = "binary.wgsl",
    "binary_vec4",
    BinaryParams,
    [Read, Read, ReadWrite],
    [INDEX, VECTORS, BINARY_CODES]
);

kernel!(
    BINARY_REPEAT_VEC4 = "binary.wgsl",
    "binary_repeat_vec4",
    BinaryParams,
    [Read, Read, ReadWrite],
    [INDEX, VECTORS, BINARY_CODES]
);

#[cfg(test)]
pub(crate) static KERNELS: &[&crate::gpu::kernel::Kernel] =
    &[&BINARY.kernel, &BINARY_VEC4.kernel, &BINARY_REPEAT_VEC4.kernel];

/// The operand `binary_repeat_vec4` wraps around: its length, and 1 when it is `a`.
#[derive(Clone, Copy)]
struct Repeating {
    period: u32,
    a_repeats: u32,
}

/// Whether `small`, broadcast to `out`, is `out`'s trailing axes repeated along the leading ones
/// (as a bias is over a batch): its dims after any leading 1s are the last dims of `out`.
fn repeats_as_suffix(small: &Shape, out: &Shape) -> bool {
    let dims = small.dims();
    let own = &dims[dims.iter().take_while(|&&d| d == 1).count()..];
    out.dims().ends_with(own)
}

/// `op(a, b)` broadcast to `out_shape`. The output is processed in binding-sized chunks; an
/// operand as large as the output is bound chunk by chunk alongside it, a broadcast (smaller)
/// operand is bound whole. Operands both of the output's size run over vec4s, and so does an
/// operand repeating along the output's leading axes (a bias), whose index then wraps instead
/// of being decoded.
pub(crate) fn binary(
    op: BinaryOp,
    a: &GpuStorage,
    a_shape: &Shape,
    b: &GpuStorage,
    b_shape: &Shape,
    out_shape: &Shape,
) -> Result<GpuStorage> {
    let n = out_shape.numel();
    let out = GpuStorage::empty(&a.device, n)?;
    let ctx = &a.device.ctx;
    // Equal shapes need no index decoding: describe them as one flat axis.
    let (dims, a_strides, b_strides) = if a_shape == b_shape {
        (vec![n], vec![1], vec![1])
    } else {
        (
            out_shape.dims().to_vec(),
            a_shape.broadcast_strides(out_shape),
            b_shape.broadcast_strides(out_shape),
        )
    };
    let name = "binary";
    let template = BinaryParams {
        rank: dims.len() as u32,
        dims: pack(name, &dims)?,
        a_strides: pack(name, &a_strides)?,
        b_strides: pack(name, &b_strides)?,
        ..BinaryParams::default()
    };
    let constants = [("OP", f64::from(op.code()))];
    // One operand whole, the other a repeating suffix in whole vectors: the wrapping kernel.
    let repeating = match (a.len == n, b.len == n) {
        (true, false) if repeats_as_suffix(b_shape, out_shape) => Some((b.len, 0)),
        (false, true) if repeats_as_suffix(a_shape, out_shape) => Some((a.len, 1)),
        _ => None,
    }
    .filter(|&(period, _)| period.is_multiple_of(4))
    .map(|(period, a_repeats)| Repeating { period: period as u32, a_repeats });
    for_each_chunk(&a.device, n, |start, len| {
        let (a_binding, a_base) = if a.len == n { (a.range(start, len), start) } else { (a.binding(), 0) };
        let (b_binding, b_base) = if b.len == n { (b.range(start, len), start) } else { (b.binding(), 0) };
        let params = BinaryParams {
            n: len as u32,
            base: start as u32,
            a_base: a_base as u32,
            b_base: b_base as u32,
            ..template
        };
        let groups = vector_groups(&a.device, len);
        if a.len == n && b.len == n {
            let vectors = [a, b, &out].map(|s| s.vectors(start, len));
            if let [Some(a4), Some(b4), Some(out4)] = vectors {
                return ctx.dispatch(&BINARY_VEC4, &constants, &params, &[a4, b4, out4], groups);
            }
        }
        if let Some(repeating) = repeating {
            let (a_len, b_len) = if repeating.a_repeats == 1 { (a.len, len) } else { (len, b.len) };
            let a_start = if a.len == n { start } else { 0 };
            let b_start = if b.len == n { start } else { 0 };
            let vectors = [a.vectors(a_start, a_len), b.vectors(b_start, b_len), out.vectors(start, len)];
            if let [Some(a4), Some(b4), Some(out4)] = vectors {
                let params =
                    BinaryParams { period: repeating.period, a_repeats: repeating.a_repeats, ..params };
                return ctx.dispatch(&BINARY_REPEAT_VEC4, &constants, &params, &[a4, b4, out4], groups);
            }
        }
        ctx.dispatch(
            &BINARY,
            &constants,
            &params,
            &[a_binding, b_binding, out.range(start, len)],
            ctx.linear_groups(len, WORKGROUP),
        )
    })?;
    Ok(out)
}
