//! Launcher for `shaders/batch_norm.wgsl`.

use super::{DATA_LOOP_ITERATIONS, index, segments};
use crate::Result;
use crate::backend::BatchNormConfig;
use crate::gpu::GpuDevice;
use crate::gpu::context::Binding;
use crate::gpu::kernel::{KernelSpec, WORKGROUP_REDUCE, kernel, kernel_params};
use crate::gpu::storage::GpuStorage;

kernel_params! {
    struct BatchNormParams {
        outer: u32,
        channels: u32,
        inner: u32,
        epsilon: f32,
        phase: u32,
        begin: u32,
        end: u32,
        _pad0: u32,
    }
}

kernel!(
    FORWARD = "batch_norm.wgsl",
    "batch_norm_forward",
    BatchNormParams,
    [Read, Read, Read, ReadWrite, ReadWrite, ReadWrite],
    [WORKGROUP_REDUCE]
);
kernel!(
    BACKWARD = "batch_norm.wgsl",
    "batch_norm_backward",
    BatchNormParams,
    [Read, Read, Read, Read, Read, ReadWrite, ReadWrite, ReadWrite],
    [WORKGROUP_REDUCE]
);

#[cfg(test)]
pub(crate) static KERNELS: &[&crate::gpu::kernel::Kernel] = &[&FORWARD.kernel, &BACKWARD.kernel];

impl BatchNormParams {
    fn new(p: BatchNormConfig) -> Result<BatchNormParams> {
        let name = "batch_norm_train";
        Ok(BatchNormParams {
            outer: index(name, p.split.outer)?,
            channels: index(name, p.split.len)?,
            inner: index(name, p.split.inner)?,
            epsilon: p.epsilon as f32,
            ..BatchNormParams::default()
        })
    }
}

/// Invocations per channel.
const THREADS: usize = 256;

/// The shaders' phases: one dispatch, or segment by segment the sums, the squared deviations
/// (forward only) and the outputs.
const FUSED: u32 = 0;
const SUM: u32 = 1;
const SQUARES: u32 = 2;
const WRITE: u32 = 3;

/// Dispatches `spec` a workgroup per channel: once when a channel is short enough for one pass
/// to walk it three times, else once per segment of each of `phases` in turn.
fn run_phases(
    spec: &'static KernelSpec<BatchNormParams>,
    p: BatchNormConfig,
    bindings: &[Binding<'_>],
    phases: &[u32],
    device: &GpuDevice,
) -> Result<()> {
    let name = "batch_norm_train";
    let params = BatchNormParams::new(p)?;
    let ctx = &device.ctx;
    let groups = ctx.linear_groups(p.split.len, 1);
    let count = p.split.outer * p.split.inner;
    if count.div_ceil(THREADS) * 3 <= DATA_LOOP_ITERATIONS {
        return ctx.dispatch(spec, &[], &BatchNormParams { phase: FUSED, ..params }, bindings, groups);
    }
    let ranges = segments(name, count, DATA_LOOP_ITERATIONS * THREADS)?;
    for &phase in phases {
        for range in &ranges {
            let params = BatchNormParams { phase, begin: range.start, end: range.end, ..params };
            ctx.dispatch(spec, &[], &params, bindings, groups)?;
        }
    }
    Ok(())
}

/// The normalized output and the per-channel batch mean and biased variance, a workgroup per
/// channel. A workgroup reads its channel wherever it lies in the input, so the
/// input is bound whole: one larger than a binding is a limit error.
pub(crate) fn batch_norm_train(
    p: BatchNormConfig,
    x: &GpuStorage,
    gamma: &GpuStorage,
    beta: &GpuStorage,
) -> Result<(GpuStorage, GpuStorage, GpuStorage)> {
    let device = &x.device;
    let y = GpuStorage::empty(device, x.len)?;
    let mean = GpuStorage::empty(device, p.split.len)?;
    let var = GpuStorage::empty(device, p.split.len)?;
    run_phases(
        &FORWARD,
        p,
        &[x.binding(), gamma.binding(), beta.binding(), y.binding(), mean.binding(), var.binding()],
        &[SUM, SQUARES, WRITE],
        device,
    )?;
    Ok((y, mean, var))
}

/// The gradients of the input, gamma and beta given the output's gradient `grad` and the batch
/// statistics the forward pass returned, a workgroup per channel.
pub(crate) fn batch_norm_backward(
    p: BatchNormConfig,
    x: &GpuStorage,
    gamma: &GpuStorage,
    mean: &GpuStorage,
    var: &GpuStorage,
    grad: &GpuStorage,
) -> Result<(GpuStorage, GpuStorage, GpuStorage)> {
    let device = &x.device;
    let dx = GpuStorage::empty(device, x.len)?;
    let d_gamma = GpuStorage::empty(device, p.split.len)?;
    let d_beta = GpuStorage::empty(device, p.split.len)?;
    run_phases(
        &BACKWARD,
        p,
        &[
            x.binding(),
            gamma.binding(),
            mean.binding(),
            var.binding(),
            grad.binding(),
            dx.binding(),
            d_gamma.binding(),
            d_beta.binding(),
        ],
        &[SUM, WRITE],
        device,
    )?;
    Ok((dx, d_gamma, d_beta))
}
