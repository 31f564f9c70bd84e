//! Launcher for `shaders/unary.wgsl`.

use super::{WORKGROUP, for_each_chunk};
use crate::Result;
use crate::gpu::pipelines::{KernelSpec, kernel};
use crate::gpu::storage::GpuStorage;
use crate::ops::UnaryOp;

const SPEC: KernelSpec = kernel!("unary.wgsl", "main", [Read, ReadWrite]);

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    op: u32,
    a: f32,
    b: f32,
}

/// The shader's op code and scalar arguments for `op`.
fn encode(op: UnaryOp) -> (u32, f32, f32) {
    match op {
        UnaryOp::Neg => (0, 0.0, 0.0),
        UnaryOp::Exp => (1, 0.0, 0.0),
        UnaryOp::Log => (2, 0.0, 0.0),
        UnaryOp::Sqrt => (3, 0.0, 0.0),
        UnaryOp::Abs => (4, 0.0, 0.0),
        UnaryOp::Sign => (5, 0.0, 0.0),
        UnaryOp::Square => (6, 0.0, 0.0),
        UnaryOp::Powf(e) => (7, e as f32, 0.0),
        UnaryOp::AddScalar(c) => (8, c as f32, 0.0),
        UnaryOp::MulScalar(c) => (9, c as f32, 0.0),
        UnaryOp::Relu => (10, 0.0, 0.0),
        UnaryOp::LeakyRelu(alpha) => (11, alpha as f32, 0.0),
        UnaryOp::Sigmoid => (12, 0.0, 0.0),
        UnaryOp::Tanh => (13, 0.0, 0.0),
        UnaryOp::Step(t) => (14, t as f32, 0.0),
        UnaryOp::Clip(low, high) => (15, low as f32, high as f32),
    }
}

pub(crate) fn unary(op: UnaryOp, x: &GpuStorage) -> Result<GpuStorage> {
    let out = GpuStorage::empty(&x.device, x.len)?;
    let ctx = &x.device.ctx;
    let (code, a, b) = encode(op);
    for_each_chunk(&x.device, x.len, |start, len| {
        let params = Params { n: len as u32, op: code, a, b };
        ctx.dispatch(
            &SPEC,
            bytemuck::bytes_of(&params),
            &[x.range(start, len), out.range(start, len)],
            ctx.linear_groups(len, WORKGROUP),
        )
    })?;
    Ok(out)
}
