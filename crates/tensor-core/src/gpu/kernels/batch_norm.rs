//! Launcher for `shaders/batch_norm.wgsl`.

use super::index;
use crate::Result;
use crate::backend::BatchNormConfig;
use crate::gpu::kernel::{WORKGROUP_REDUCE, kernel, kernel_params};
use crate::gpu::storage::GpuStorage;

kernel_params! {
    struct BatchNormParams {
        outer: u32,
        channels: u32,
        inner: u32,
        epsilon: f32,
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
        })
    }
}

/// The normalized output and the per-channel batch mean and biased variance, in one dispatch of
/// a workgroup per channel. A workgroup reads its channel wherever it lies in the input, so the
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
    let ctx = &device.ctx;
    ctx.dispatch(
        &FORWARD,
        &[],
        &BatchNormParams::new(p)?,
        &[x.binding(), gamma.binding(), beta.binding(), y.binding(), mean.binding(), var.binding()],
        ctx.linear_groups(p.split.len, 1),
    )?;
    Ok((y, mean, var))
}

/// The gradients of the input, gamma and beta given the output's gradient `grad` and the batch
/// statistics the forward pass returned, in one dispatch of a workgroup per channel.
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
    let ctx = &device.ctx;
    ctx.dispatch(
        &BACKWARD,
        &[],
        &BatchNormParams::new(p)?,
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
        ctx.linear_groups(p.split.len, 1),
    )?;
    Ok((dx, d_gamma, d_beta))
}
