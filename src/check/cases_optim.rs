//! Cases for the optimizer updates, which change tensors in place rather than return one: each
//! case copies the parameter, makes a fresh state, runs three steps with three different
//! gradients and returns the parameter or one of the state slots, so that every slot is compared
//! on its own scale. Learning rates are larger than Keras's defaults so that the updates, not
//! the starting values, dominate the parameter.

use super::{Case, ELEMENTWISE_TOLERANCE, input};
use tensor_core::optim::{Adadelta, Adagrad, Adam, Nadam, Optimizer, RmsProp, Sgd};
use tensor_core::{Result, Tensor};

/// Steps per case.
const STEPS: u64 = 3;

/// Every update rule and variant, named by Keras's name for the optimizer and the variant.
fn optimizers() -> Vec<(&'static str, Optimizer)> {
    let lr = 0.1;
    let sgd = Sgd { learning_rate: lr, ..Sgd::default() };
    let rmsprop = RmsProp { learning_rate: lr, ..RmsProp::default() };
    vec![
        ("sgd", sgd.into()),
        ("sgd momentum", Sgd { momentum: 0.9, ..sgd }.into()),
        ("sgd nesterov", Sgd { momentum: 0.9, nesterov: true, ..sgd }.into()),
        ("rmsprop", rmsprop.into()),
        ("rmsprop momentum", RmsProp { momentum: 0.9, ..rmsprop }.into()),
        ("rmsprop centered", RmsProp { centered: true, ..rmsprop }.into()),
        ("rmsprop centered+momentum", RmsProp { momentum: 0.9, centered: true, ..rmsprop }.into()),
        ("adagrad", Adagrad { learning_rate: lr, ..Adagrad::default() }.into()),
        ("adadelta", Adadelta { learning_rate: 1.0, ..Adadelta::default() }.into()),
        ("adam", Adam { learning_rate: lr, ..Adam::default() }.into()),
        ("nadam", Nadam { learning_rate: lr, ..Nadam::default() }.into()),
        // Random gradients make some velocities fall, where AMSGrad keeps the larger one.
        ("adam amsgrad", Adam { learning_rate: lr, amsgrad: true, ..Adam::default() }.into()),
    ]
}

/// A copy of `inputs[0]` after `STEPS` steps of `optimizer` with gradients `inputs[1..]`, and its
/// state.
fn run(optimizer: Optimizer, inputs: &[Tensor]) -> Result<(Tensor, Vec<Tensor>)> {
    // A copy, so the case's input stays the starting point for the other device.
    let param = inputs[0].mul_scalar(1.0)?;
    let mut state = optimizer.state_for(&param)?;
    for (t, grad) in (1..=STEPS).zip(&inputs[1..]) {
        optimizer.step(&param, grad, &mut state, t)?;
    }
    let slots = state.tensors().into_iter().map(|(_, t)| t.clone()).collect();
    Ok((param, slots))
}

pub(super) fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    // An odd size, a single element, and more elements than a workgroup.
    let shapes: [&[usize]; 3] = [&[7, 13], &[1], &[3, 257]];
    for (i, (name, optimizer)) in optimizers().into_iter().enumerate() {
        let shape = shapes[i % shapes.len()];
        let seed = 1300 + 10 * i as u64;
        let mut inputs = vec![input(shape, -1.0, 1.0, seed)];
        inputs.extend((1..=STEPS).map(|t| input(shape, -1.0, 1.0, seed + t)));
        let slot_names: Vec<&'static str> = optimizer
            .state_for(&inputs[0])
            .expect("valid hyper-parameters")
            .tensors()
            .into_iter()
            .map(|(slot, _)| slot)
            .collect();
        let shape = inputs[0].shape().clone();
        for (k, slot) in std::iter::once("param").chain(slot_names).enumerate() {
            let mut case = Case::new(name, ELEMENTWISE_TOLERANCE, inputs.clone(), move |x| {
                let (param, slots) = run(optimizer, x)?;
                Ok(if k == 0 { param } else { slots[k - 1].clone() })
            })
            .forward_only();
            case.shapes = format!("{shape} after {STEPS} steps: {slot}");
            cases.push(case);
        }
    }
    cases
}
