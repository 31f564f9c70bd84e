//! Launchers for the optimizer shaders (`shaders/optim_*.wgsl`): one dispatch updates every
//! parameter of a step. The parameters are packed into one buffer (each an aligned range of it,
//! the tensors becoming views of their range) and so is each kind of state slot, laid out alike;
//! the gradients are copied into one more buffer of that layout. The element-wise kernel then
//! runs over the whole range at once, with the same per-step scalars as the CPU kernel in
//! `cpu/optim.rs`: the differences that kernel takes in f64 (`1 - rho`...) are taken here in
//! f64 too, so both backends round the same constants. Packing happens on the first step and
//! whenever the set of parameters changes; afterwards a step copies only the gradients.

use std::sync::Arc;

use bytemuck::Pod;

use super::{WORKGROUP, for_each_chunk};
use crate::Result;
use crate::backend::{UpdateItem, UpdateRule};
use crate::gpu::kernel::{ADAM_MOMENTS, Access, INDEX, KernelParams, KernelSpec, kernel, kernel_params};
use crate::gpu::storage::GpuStorage;
use crate::gpu::{GpuDevice, PooledBuffer};

kernel_params! {
    struct SgdParams {
        n: u32,
        nesterov: u32,
        learning_rate: f32,
        momentum: f32,
    }
}

kernel_params! {
    struct RmsPropParams {
        n: u32,
        has_momentum: u32,
        centered: u32,
        _pad0: u32,
        learning_rate: f32,
        rho: f32,
        one_minus_rho: f32,
        momentum: f32,
        epsilon: f32,
        _pad1: u32,
        _pad2: u32,
        _pad3: u32,
    }
}

kernel_params! {
    struct AdagradParams {
        n: u32,
        learning_rate: f32,
        epsilon: f32,
        _pad: u32,
    }
}

kernel_params! {
    struct AdadeltaParams {
        n: u32,
        learning_rate: f32,
        rho: f32,
        one_minus_rho: f32,
        epsilon: f32,
        _pad0: u32,
        _pad1: u32,
        _pad2: u32,
    }
}

kernel_params! {
    struct AdamParams {
        n: u32,
        alpha: f32,
        one_minus_beta_1: f32,
        one_minus_beta_2: f32,
        epsilon: f32,
        amsgrad: u32,
        _pad1: u32,
        _pad2: u32,
    }
}

kernel_params! {
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
        _pad0: u32,
        _pad1: u32,
    }
}

kernel!(SGD = "optim_sgd.wgsl", "sgd", SgdParams, [ReadWrite, Read], [INDEX]);
kernel!(SGD_MOMENTUM = "optim_sgd.wgsl", "sgd_momentum", SgdParams, [ReadWrite, Read, ReadWrite], [INDEX]);
kernel!(
    RMSPROP = "optim_rmsprop.wgsl",
    "rmsprop",
    RmsPropParams,
    [ReadWrite, Read, ReadWrite, ReadWrite, ReadWrite],
    [INDEX]
);
kernel!(ADAGRAD = "optim_adagrad.wgsl", "adagrad", AdagradParams, [ReadWrite, Read, ReadWrite], [INDEX]);
kernel!(
    ADADELTA = "optim_adadelta.wgsl",
    "adadelta",
    AdadeltaParams,
    [ReadWrite, Read, ReadWrite, ReadWrite],
    [INDEX]
);
kernel!(
    ADAM = "optim_adam.wgsl",
    "adam",
    AdamParams,
    [ReadWrite, Read, ReadWrite, ReadWrite, ReadWrite],
    [INDEX, ADAM_MOMENTS]
);
kernel!(
    NADAM = "optim_nadam.wgsl",
    "nadam",
    NadamParams,
    [ReadWrite, Read, ReadWrite, ReadWrite],
    [INDEX, ADAM_MOMENTS]
);

#[cfg(test)]
pub(crate) static KERNELS: &[&crate::gpu::kernel::Kernel] = &[
    &SGD.kernel,
    &SGD_MOMENTUM.kernel,
    &RMSPROP.kernel,
    &ADAGRAD.kernel,
    &ADADELTA.kernel,
    &ADAM.kernel,
    &NADAM.kernel,
];

/// One step of `rule` on every item, in one dispatch per binding-sized chunk of their packing.
pub(crate) fn update(rule: &UpdateRule, items: &mut [UpdateItem<'_, GpuStorage>]) -> Result<()> {
    let Some(first) = items.first() else { return Ok(()) };
    let device = first.param.device.clone();
    let align = device.ctx.offset_alignment();
    let mut offsets = Vec::with_capacity(items.len());
    let mut total = 0;
    for item in items.iter() {
        offsets.push(total);
        total += item.param.len.next_multiple_of(align);
    }
    let params = pack(&device, items.iter_mut().map(|i| &mut *i.param), &offsets, total)?;
    let slot_count = items[0].slots.len();
    let slots = (0..slot_count)
        .map(|s| pack(&device, items.iter_mut().map(|i| &mut *i.slots[s]), &offsets, total))
        .collect::<Result<Vec<_>>>()?;
    // One parameter is updated where it is, its gradient read where it is.
    let (span, grads) = match &items[..] {
        [single] => (single.param.len, None),
        _ => {
            let grads = GpuStorage::empty(&device, total)?;
            for (item, &offset) in items.iter().zip(&offsets) {
                grads.write_at(offset, item.grad);
            }
            (total, Some(grads))
        }
    };
    let grads = grads.as_ref().unwrap_or(items[0].grad);
    let params = GpuStorage::view(&device, &params, 0, span);
    let slots: Vec<GpuStorage> = slots.iter().map(|s| GpuStorage::view(&device, s, 0, span)).collect();
    let slots: Vec<&GpuStorage> = slots.iter().collect();
    launch_rule(rule, &params, grads, &slots)
}

/// The buffer holding `tensors` at `offsets` (elements): the one they already share when they
/// are laid out so, else a new one `total` long they are copied into, each tensor becoming a
/// view of its range.
fn pack<'a>(
    device: &GpuDevice,
    tensors: impl Iterator<Item = &'a mut GpuStorage>,
    offsets: &[usize],
    total: usize,
) -> Result<Arc<PooledBuffer>> {
    let mut tensors: Vec<&mut GpuStorage> = tensors.collect();
    let (shared, _) = tensors[0].placement();
    let shared = Arc::clone(shared);
    let packed = tensors.iter().zip(offsets).all(|(t, &offset)| {
        let (buffer, at) = t.placement();
        Arc::ptr_eq(buffer, &shared) && at == offset
    });
    if packed {
        return Ok(shared);
    }
    let arena = GpuStorage::empty(device, total)?;
    for (t, &offset) in tensors.iter().zip(offsets) {
        arena.write_at(offset, t);
    }
    let (buffer, _) = arena.placement();
    let buffer = Arc::clone(buffer);
    for (t, &offset) in tensors.iter_mut().zip(offsets) {
        let len = t.len;
        **t = GpuStorage::view(device, &buffer, offset, len);
    }
    Ok(buffer)
}

/// Runs `rule`'s kernel over `param`, `grad` and the `slots`, all laid out alike.
fn launch_rule(
    rule: &UpdateRule,
    param: &GpuStorage,
    grad: &GpuStorage,
    slots: &[&GpuStorage],
) -> Result<()> {
    let f = |v: f64| v as f32;
    match *rule {
        UpdateRule::Sgd { learning_rate, momentum, nesterov } => {
            let params = |n| SgdParams {
                n,
                nesterov: nesterov as u32,
                learning_rate: f(learning_rate),
                momentum: f(momentum),
            };
            match slots {
                [] => launch(&SGD, param, grad, &[], params),
                _ => launch(
                    &SGD_MOMENTUM,
                    param,
                    grad,
                    &slots.iter().map(|s| Some(*s)).collect::<Vec<_>>(),
                    params,
                ),
            }
        }
        UpdateRule::RmsProp { learning_rate, rho, momentum, centered, epsilon } => {
            let has_momentum = momentum > 0.0;
            // velocity, then momentum and the average gradient where they exist.
            let mut rest = slots.iter().skip(1).copied();
            let velocity = slots.first().copied();
            let momentums = if has_momentum { rest.next() } else { None };
            let averages = if centered { rest.next() } else { None };
            launch(&RMSPROP, param, grad, &[velocity, momentums, averages], |n| RmsPropParams {
                n,
                has_momentum: has_momentum as u32,
                centered: centered as u32,
                learning_rate: f(learning_rate),
                rho: f(rho),
                one_minus_rho: f(1.0 - rho),
                momentum: f(momentum),
                epsilon: f(epsilon),
                ..RmsPropParams::default()
            })
        }
        UpdateRule::Adagrad { learning_rate, epsilon } => {
            launch(&ADAGRAD, param, grad, &[slots.first().copied()], |n| AdagradParams {
                n,
                learning_rate: f(learning_rate),
                epsilon: f(epsilon),
                _pad: 0,
            })
        }
        UpdateRule::Adadelta { learning_rate, rho, epsilon } => {
            launch(&ADADELTA, param, grad, &[slots.first().copied(), slots.get(1).copied()], |n| {
                AdadeltaParams {
                    n,
                    learning_rate: f(learning_rate),
                    rho: f(rho),
                    one_minus_rho: f(1.0 - rho),
                    epsilon: f(epsilon),
                    ..AdadeltaParams::default()
                }
            })
        }
        UpdateRule::Adam(s) => {
            // momentum, velocity, and with AMSGrad the largest velocity so far.
            let bound = [slots.first().copied(), slots.get(1).copied(), slots.get(2).copied()];
            launch(&ADAM, param, grad, &bound, |n| AdamParams {
                n,
                alpha: f(s.alpha),
                one_minus_beta_1: f(1.0 - s.beta_1),
                one_minus_beta_2: f(1.0 - s.beta_2),
                epsilon: f(s.epsilon),
                amsgrad: s.amsgrad as u32,
                ..AdamParams::default()
            })
        }
        UpdateRule::Nadam(s) => {
            launch(&NADAM, param, grad, &[slots.first().copied(), slots.get(1).copied()], |n| NadamParams {
                n,
                learning_rate: f(s.learning_rate),
                one_minus_beta_1: f(1.0 - s.beta_1),
                one_minus_beta_2: f(1.0 - s.beta_2),
                epsilon: f(s.epsilon),
                u: f(s.u),
                u_next: f(s.u_next),
                one_minus_u_product: f(1.0 - s.u_product),
                one_minus_u_product_next: f(1.0 - s.u_product_next),
                one_minus_beta_2_power: f(1.0 - s.beta_2_power),
                ..NadamParams::default()
            })
        }
    }
}

/// Runs `spec` over `param` in binding-sized chunks, binding the same range of `param`, `grad`
/// and every slot; `params(n)` is the parameter block for a chunk of `n` elements. A missing
/// slot (`None`, which the kernel's flags tell it not to touch) is bound to the placeholder.
fn launch<P: Pod + KernelParams>(
    spec: &'static KernelSpec<P>,
    param: &GpuStorage,
    grad: &GpuStorage,
    slots: &[Option<&GpuStorage>],
    params: impl Fn(u32) -> P,
) -> Result<()> {
    let ctx = &param.device.ctx;
    for_each_chunk(&param.device, param.len, |start, len| {
        let mut bindings = vec![param.range(start, len), grad.range(start, len)];
        bindings.extend(
            slots.iter().map(|slot| slot.map_or(ctx.placeholder(Access::ReadWrite), |s| s.range(start, len))),
        );
        ctx.dispatch(spec, &[], &params(len as u32), &bindings, ctx.linear_groups(len, WORKGROUP))
    })
}
