//! Launchers for the optimizer shaders (`shaders/optim_*.wgsl`): one fused dispatch per parameter
//! tensor (per binding-sized chunk of it) that updates the parameter and its state slots in place.
//! Each takes the same hyper-parameters or per-step scalars as its CPU kernel in `cpu/optim.rs`;
//! the differences that kernel takes in f64 (`1 - rho`...) are taken here in f64 too, so both
//! backends round the same constants.

use bytemuck::Pod;

use super::{WORKGROUP, for_each_chunk};
use crate::Result;
use crate::cpu::optim::{AdamStep, NadamStep};
use crate::gpu::pipelines::{KernelSpec, kernel};
use crate::gpu::storage::GpuStorage;
use crate::optim::{Adadelta, Adagrad, RmsProp, Sgd};

const SGD: KernelSpec = kernel!("optim_sgd.wgsl", "sgd", [ReadWrite, Read]);
const SGD_MOMENTUM: KernelSpec = kernel!("optim_sgd.wgsl", "sgd_momentum", [ReadWrite, Read, ReadWrite]);
const RMSPROP: KernelSpec =
    kernel!("optim_rmsprop.wgsl", "rmsprop", [ReadWrite, Read, ReadWrite, ReadWrite, ReadWrite]);
const ADAGRAD: KernelSpec = kernel!("optim_adagrad.wgsl", "adagrad", [ReadWrite, Read, ReadWrite]);
const ADADELTA: KernelSpec =
    kernel!("optim_adadelta.wgsl", "adadelta", [ReadWrite, Read, ReadWrite, ReadWrite]);
const ADAM: KernelSpec = kernel!("optim_adam.wgsl", "adam", [ReadWrite, Read, ReadWrite, ReadWrite]);
const NADAM: KernelSpec = kernel!("optim_adam.wgsl", "nadam", [ReadWrite, Read, ReadWrite, ReadWrite]);

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct SgdParams {
    n: u32,
    nesterov: u32,
    learning_rate: f32,
    momentum: f32,
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct RmsPropParams {
    n: u32,
    has_momentum: u32,
    centered: u32,
    pad0: u32,
    learning_rate: f32,
    rho: f32,
    one_minus_rho: f32,
    momentum: f32,
    epsilon: f32,
    pad1: [u32; 3],
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct AdagradParams {
    n: u32,
    learning_rate: f32,
    epsilon: f32,
    pad: u32,
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct AdadeltaParams {
    n: u32,
    learning_rate: f32,
    rho: f32,
    one_minus_rho: f32,
    epsilon: f32,
    pad: [u32; 3],
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct AdamParams {
    n: u32,
    alpha: f32,
    one_minus_beta_1: f32,
    one_minus_beta_2: f32,
    epsilon: f32,
    pad: [u32; 3],
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct NadamParams {
    n: u32,
    learning_rate: f32,
    one_minus_beta_1: f32,
    one_minus_beta_2: f32,
    epsilon: f32,
    u: f32,
    u_next: f32,
    one_minus_u_product: f32,
    one_minus_u_product_next: f32,
    one_minus_beta_2_power: f32,
    pad: [u32; 2],
}

/// Runs `spec` over `param` in binding-sized chunks, binding the same range of `param`, `grad`
/// and every slot; `params(n)` is the parameter block for a chunk of `n` elements. A missing
/// slot (`None`, which the kernel's flags tell it not to touch) is bound to a one-element
/// placeholder from the pool.
fn launch<P: Pod>(
    spec: &KernelSpec,
    param: &GpuStorage,
    grad: &GpuStorage,
    slots: &[Option<&GpuStorage>],
    params: impl Fn(u32) -> P,
) -> Result<()> {
    let ctx = &param.device.ctx;
    let placeholder =
        slots.iter().any(Option::is_none).then(|| GpuStorage::empty(&param.device, 1)).transpose()?;
    for_each_chunk(&param.device, param.len, |start, len| {
        let mut bindings = vec![param.range(start, len), grad.range(start, len)];
        for slot in slots {
            bindings.push(match (slot, &placeholder) {
                (Some(s), _) => s.range(start, len),
                (None, Some(p)) => p.binding(),
                (None, None) => unreachable!("a placeholder exists when a slot is missing"),
            });
        }
        ctx.dispatch(
            spec,
            bytemuck::bytes_of(&params(len as u32)),
            &bindings,
            ctx.linear_groups(len, WORKGROUP),
        )
    })
}

/// `w -= lr * g`.
pub(crate) fn sgd(h: &Sgd, param: &GpuStorage, grad: &GpuStorage) -> Result<()> {
    launch(&SGD, param, grad, &[], |n| SgdParams {
        n,
        nesterov: 0,
        learning_rate: h.learning_rate as f32,
        momentum: 0.0,
    })
}

/// SGD with momentum, or Nesterov momentum.
pub(crate) fn sgd_momentum(
    h: &Sgd,
    param: &GpuStorage,
    grad: &GpuStorage,
    momentums: &GpuStorage,
) -> Result<()> {
    launch(&SGD_MOMENTUM, param, grad, &[Some(momentums)], |n| SgdParams {
        n,
        nesterov: h.nesterov as u32,
        learning_rate: h.learning_rate as f32,
        momentum: h.momentum as f32,
    })
}

/// RMSprop, with momentum and centering where their slots are given.
pub(crate) fn rmsprop(
    h: &RmsProp,
    param: &GpuStorage,
    grad: &GpuStorage,
    velocities: &GpuStorage,
    momentums: Option<&GpuStorage>,
    average_gradients: Option<&GpuStorage>,
) -> Result<()> {
    launch(&RMSPROP, param, grad, &[Some(velocities), momentums, average_gradients], |n| RmsPropParams {
        n,
        has_momentum: momentums.is_some() as u32,
        centered: average_gradients.is_some() as u32,
        pad0: 0,
        learning_rate: h.learning_rate as f32,
        rho: h.rho as f32,
        one_minus_rho: (1.0 - h.rho) as f32,
        momentum: h.momentum as f32,
        epsilon: h.epsilon as f32,
        pad1: [0; 3],
    })
}

/// Adagrad.
pub(crate) fn adagrad(
    h: &Adagrad,
    param: &GpuStorage,
    grad: &GpuStorage,
    accumulators: &GpuStorage,
) -> Result<()> {
    launch(&ADAGRAD, param, grad, &[Some(accumulators)], |n| AdagradParams {
        n,
        learning_rate: h.learning_rate as f32,
        epsilon: h.epsilon as f32,
        pad: 0,
    })
}

/// Adadelta.
pub(crate) fn adadelta(
    h: &Adadelta,
    param: &GpuStorage,
    grad: &GpuStorage,
    accumulated_grads: &GpuStorage,
    accumulated_deltas: &GpuStorage,
) -> Result<()> {
    launch(&ADADELTA, param, grad, &[Some(accumulated_grads), Some(accumulated_deltas)], |n| AdadeltaParams {
        n,
        learning_rate: h.learning_rate as f32,
        rho: h.rho as f32,
        one_minus_rho: (1.0 - h.rho) as f32,
        epsilon: h.epsilon as f32,
        pad: [0; 3],
    })
}

/// Adam at the step whose scalars `s` holds.
pub(crate) fn adam(
    s: &AdamStep,
    param: &GpuStorage,
    grad: &GpuStorage,
    momentums: &GpuStorage,
    velocities: &GpuStorage,
) -> Result<()> {
    launch(&ADAM, param, grad, &[Some(momentums), Some(velocities)], |n| AdamParams {
        n,
        alpha: s.alpha as f32,
        one_minus_beta_1: (1.0 - s.beta_1) as f32,
        one_minus_beta_2: (1.0 - s.beta_2) as f32,
        epsilon: s.epsilon as f32,
        pad: [0; 3],
    })
}

/// Nadam at the step whose scalars `s` holds.
pub(crate) fn nadam(
    s: &NadamStep,
    param: &GpuStorage,
    grad: &GpuStorage,
    momentums: &GpuStorage,
    velocities: &GpuStorage,
) -> Result<()> {
    launch(&NADAM, param, grad, &[Some(momentums), Some(velocities)], |n| NadamParams {
        n,
        learning_rate: s.learning_rate as f32,
        one_minus_beta_1: (1.0 - s.beta_1) as f32,
        one_minus_beta_2: (1.0 - s.beta_2) as f32,
        epsilon: s.epsilon as f32,
        u: s.u as f32,
        u_next: s.u_next as f32,
        one_minus_u_product: (1.0 - s.u_product) as f32,
        one_minus_u_product_next: (1.0 - s.u_product_next) as f32,
        one_minus_beta_2_power: (1.0 - s.beta_2_power) as f32,
        pad: [0; 2],
    })
}
