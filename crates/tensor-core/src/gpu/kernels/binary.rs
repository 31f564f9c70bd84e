//! Launcher for `shaders/binary.wgsl`.

use super::{MAX_RANK, WORKGROUP, for_each_chunk, pack};
use crate::gpu::pipelines::{KernelSpec, kernel};
use crate::gpu::storage::GpuStorage;
use crate::ops::BinaryOp;
use crate::{Result, Shape};

const SPEC: KernelSpec = kernel!("binary.wgsl", "main", [Read, Read, ReadWrite]);

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    op: u32,
    rank: u32,
    base: u32,
    a_base: u32,
    b_base: u32,
    pad: [u32; 2],
    dims: [u32; MAX_RANK],
    a_strides: [u32; MAX_RANK],
    b_strides: [u32; MAX_RANK],
}

fn encode(op: BinaryOp) -> u32 {
    match op {
        BinaryOp::Add => 0,
        BinaryOp::Sub => 1,
        BinaryOp::Mul => 2,
        BinaryOp::Div => 3,
        BinaryOp::Equal => 4,
    }
}

/// `op(a, b)` broadcast to `out_shape`. The output is processed in binding-sized chunks; an
/// operand as large as the output is bound chunk by chunk alongside it, a broadcast (smaller)
/// operand is bound whole.
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
    let template = Params {
        n: 0,
        op: encode(op),
        rank: dims.len() as u32,
        base: 0,
        a_base: 0,
        b_base: 0,
        pad: [0; 2],
        dims: pack(name, &dims)?,
        a_strides: pack(name, &a_strides)?,
        b_strides: pack(name, &b_strides)?,
    };
    for_each_chunk(&a.device, n, |start, len| {
        let (a_binding, a_base) = if a.len == n { (a.range(start, len), start) } else { (a.binding(), 0) };
        let (b_binding, b_base) = if b.len == n { (b.range(start, len), start) } else { (b.binding(), 0) };
        let mut params = template;
        params.n = len as u32;
        params.base = start as u32;
        params.a_base = a_base as u32;
        params.b_base = b_base as u32;
        ctx.dispatch(
            &SPEC,
            bytemuck::bytes_of(&params),
            &[a_binding, b_binding, out.range(start, len)],
            ctx.linear_groups(len, WORKGROUP),
        )
    })?;
    Ok(out)
}
