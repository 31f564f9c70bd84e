//! Launcher for `shaders/reduce.wgsl`.

use super::{MAX_RANK, pack};
use crate::gpu::pipelines::{KernelSpec, kernel};
use crate::gpu::storage::GpuStorage;
use crate::ops::ReduceOp;
use crate::{Result, Shape};

const PER_WORKGROUP: KernelSpec = kernel!("reduce.wgsl", "main", [Read, ReadWrite]);
const PER_OUTPUT: KernelSpec = kernel!("reduce.wgsl", "per_output", [Read, ReadWrite]);

/// Reductions at most this long, over at least `MANY_OUTPUTS` outputs, get one invocation per
/// output; longer or fewer ones a workgroup per output.
const SHORT: usize = 256;
const MANY_OUTPUTS: usize = 256;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    outputs: u32,
    length: u32,
    op: u32,
    kept_rank: u32,
    reduced_rank: u32,
    pad: [u32; 3],
    kept_dims: [u32; MAX_RANK],
    kept_strides: [u32; MAX_RANK],
    reduced_dims: [u32; MAX_RANK],
    reduced_strides: [u32; MAX_RANK],
}

/// Reduces `x` (of `shape`) to the keep-dims shape `kept` (1 on every reduced axis).
pub(crate) fn reduce(op: ReduceOp, x: &GpuStorage, shape: &Shape, kept: &Shape) -> Result<GpuStorage> {
    let outputs = kept.numel();
    let out = GpuStorage::empty(&x.device, outputs)?;
    let strides = shape.strides();
    let (mut kept_dims, mut kept_strides, mut reduced_dims, mut reduced_strides) =
        (vec![], vec![], vec![], vec![]);
    for (axis, &d) in shape.dims().iter().enumerate() {
        if kept.dim(axis) == d && d != 1 {
            kept_dims.push(d);
            kept_strides.push(strides[axis]);
        } else if kept.dim(axis) == 1 && d != 1 {
            reduced_dims.push(d);
            reduced_strides.push(strides[axis]);
        }
    }
    let length: usize = reduced_dims.iter().product();
    let name = "reduce";
    let params = Params {
        outputs: outputs as u32,
        length: length as u32,
        op: match op {
            ReduceOp::Sum => 0,
            ReduceOp::Max => 1,
        },
        kept_rank: kept_dims.len() as u32,
        reduced_rank: reduced_dims.len() as u32,
        pad: [0; 3],
        kept_dims: pack(name, &kept_dims)?,
        kept_strides: pack(name, &kept_strides)?,
        reduced_dims: pack(name, &reduced_dims)?,
        reduced_strides: pack(name, &reduced_strides)?,
    };
    let ctx = &x.device.ctx;
    let bindings = [x.binding(), out.binding()];
    if length <= SHORT && outputs >= MANY_OUTPUTS {
        ctx.dispatch(&PER_OUTPUT, bytemuck::bytes_of(&params), &bindings, ctx.linear_groups(outputs, 64))?;
    } else {
        ctx.dispatch(&PER_WORKGROUP, bytemuck::bytes_of(&params), &bindings, ctx.linear_groups(outputs, 1))?;
    }
    Ok(out)
}
