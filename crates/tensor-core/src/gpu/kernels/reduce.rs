//! Launcher for `shaders/reduce.wgsl`.

use super::{Axes, DATA_LOOP_ITERATIONS, index, pack, segments};
use crate::backend::ReduceOp;
use crate::gpu::kernel::{INDEX, REDUCE_CODES, WORKGROUP_REDUCE, kernel, kernel_params};
use crate::gpu::storage::GpuStorage;
use crate::{Result, Shape};

kernel_params! {
    struct ReduceParams {
        outputs: u32,
        length: u32,
        kept_rank: u32,
        reduced_rank: u32,
        scale: f32,
        begin: u32,
        end: u32,
        accumulate: u32,
        kept_dims: Axes,
        kept_strides: Axes,
        reduced_dims: Axes,
        reduced_strides: Axes,
    }
}

kernel!(
    PER_WORKGROUP = "reduce.wgsl",
    "main",
    ReduceParams,
    [Read, ReadWrite],
    [INDEX, REDUCE_CODES, WORKGROUP_REDUCE]
);
kernel!(
    PER_OUTPUT = "reduce.wgsl",
    "per_output",
    ReduceParams,
    [Read, ReadWrite],
    [INDEX, REDUCE_CODES, WORKGROUP_REDUCE]
);

#[cfg(test)]
pub(crate) static KERNELS: &[&crate::gpu::kernel::Kernel] = &[&PER_WORKGROUP.kernel, &PER_OUTPUT.kernel];

/// Reductions at most this long, over at least `MANY_OUTPUTS` outputs, get one invocation per
/// output; longer or fewer ones a workgroup per output.
const SHORT: usize = 256;
const MANY_OUTPUTS: usize = 256;
/// Invocations of the workgroup-per-output schedule.
const THREADS: usize = 256;

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
    let params = ReduceParams {
        outputs: index(name, outputs)?,
        length: index(name, length)?,
        kept_rank: kept_dims.len() as u32,
        reduced_rank: reduced_dims.len() as u32,
        // The CPU's reciprocal, rounded once (NaN for an empty mean, as there).
        scale: (1.0 / length as f64) as f32,
        kept_dims: pack(name, &kept_dims)?,
        kept_strides: pack(name, &kept_strides)?,
        reduced_dims: pack(name, &reduced_dims)?,
        reduced_strides: pack(name, &reduced_strides)?,
        ..ReduceParams::default()
    };
    let ctx = &x.device.ctx;
    let bindings = [x.binding(), out.binding()];
    let constants = [("OP", f64::from(op.code()))];
    // Each reduced element costs one iteration plus one per reduced axis (decoding its offset).
    let per_element = reduced_dims.len() + 1;
    let (spec, groups, threads) = if length <= SHORT && outputs >= MANY_OUTPUTS {
        (&PER_OUTPUT, ctx.linear_groups(outputs, 64), 1)
    } else {
        (&PER_WORKGROUP, ctx.linear_groups(outputs, 1), THREADS)
    };
    let ranges = segments(name, length, DATA_LOOP_ITERATIONS / per_element * threads)?;
    let last = ranges.len() - 1;
    for (i, range) in ranges.into_iter().enumerate() {
        let params = ReduceParams {
            begin: range.start,
            end: range.end,
            accumulate: u32::from(i > 0),
            scale: if i == last { params.scale } else { 1.0 },
            ..params
        };
        ctx.dispatch(spec, &constants, &params, &bindings, groups)?;
    }
    Ok(out)
}
