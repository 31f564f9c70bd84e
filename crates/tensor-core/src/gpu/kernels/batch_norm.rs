//! Launcher for `shaders/batch_norm.wgsl`.

use super::index;
use crate::Result;
use crate::cpu::batch_norm::BatchNormParams;
use crate::gpu::pipelines::{KernelSpec, kernel};
use crate::gpu::storage::GpuStorage;

const FORWARD: KernelSpec =
    kernel!("batch_norm.wgsl", "batch_norm_forward", [Read, Read, Read, ReadWrite, ReadWrite, ReadWrite]);
const BACKWARD: KernelSpec = kernel!(
    "batch_norm.wgsl",
    "batch_norm_backward",
    [Read, Read, Read, Read, Read, ReadWrite, ReadWrite, ReadWrite]
);

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    outer: u32,
    channels: u32,
    inner: u32,
    epsilon: f32,
}

impl Params {
    fn new(p: BatchNormParams) -> Result<Params> {
        let name = "batch_norm_train";
        Ok(Params {
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
    p: BatchNormParams,
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
        bytemuck::bytes_of(&Params::new(p)?),
        &[x.binding(), gamma.binding(), beta.binding(), y.binding(), mean.binding(), var.binding()],
        ctx.linear_groups(p.split.len, 1),
    )?;
    Ok((y, mean, var))
}

/// The gradients of the input, gamma and beta given the output's gradient `grad` and the batch
/// statistics the forward pass returned, in one dispatch of a workgroup per channel.
pub(crate) fn batch_norm_train_grad(
    p: BatchNormParams,
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
        bytemuck::bytes_of(&Params::new(p)?),
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
