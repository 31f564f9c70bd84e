//! Optimizer updates on the GPU: every rule and variant against the CPU reference (parameter and
//! each state slot after three steps from the same start, relative L2 error at most 1e-5), and
//! what a training step costs in device traffic: one dispatch per parameter update, and no
//! readback anywhere in forward, backward and update.

mod common;

use std::sync::Mutex;
use tessera::tensor_core::optim::{Adadelta, Adagrad, Adam, Nadam, Optimizer, RmsProp, Sgd, State};

use tessera::{DType, Device, Tape, Tensor};

/// One optimizer of each kind, for their Keras names.
fn kinds() -> Vec<Optimizer> {
    vec![
        Sgd::default().into(),
        RmsProp::default().into(),
        Adagrad::default().into(),
        Adadelta::default().into(),
        Adam::default().into(),
        Nadam::default().into(),
    ]
}

/// Every optimizer variant: the stateless and stateful forms of each rule.
fn variants() -> Vec<Optimizer> {
    let stateful: [Optimizer; 6] = [
        Sgd { momentum: 0.9, ..Sgd::default() }.into(),
        Sgd { momentum: 0.9, nesterov: true, ..Sgd::default() }.into(),
        RmsProp { momentum: 0.9, ..RmsProp::default() }.into(),
        RmsProp { centered: true, ..RmsProp::default() }.into(),
        RmsProp { momentum: 0.9, centered: true, ..RmsProp::default() }.into(),
        Adam { amsgrad: true, ..Adam::default() }.into(),
    ];
    kinds().into_iter().chain(stateful).collect()
}

/// The tests share one device, whose traffic counters are process-wide: one test at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn gpu_device(device: &Device) -> &tessera::tensor_core::gpu::GpuDevice {
    match device {
        Device::Gpu(gpu) => gpu,
        Device::Cpu => unreachable!("common::gpu returns a GPU"),
    }
}

fn random(shape: &[usize], seed: u64, device: &Device) -> Tensor {
    Tensor::uniform(shape.to_vec(), -1.0, 1.0, seed, DType::F32, device).unwrap()
}

#[test]
fn every_update_rule_matches_the_cpu_after_three_steps() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(gpu) = common::gpu() else { return };
    let names: Vec<&str> = kinds().iter().map(Optimizer::name).collect();
    let cases: Vec<_> = tessera::check::cases()
        .into_iter()
        .filter(|c| c.op.split(' ').next().is_some_and(|kind| names.contains(&kind)))
        .collect();
    println!("{}", tessera::check::header());
    let mut failed = Vec::new();
    for case in &cases {
        for outcome in tessera::check::run_case(case, &gpu, None) {
            println!("{outcome}");
            if !outcome.passed() {
                failed.push(outcome.to_string());
            }
        }
    }
    let covered: std::collections::HashSet<&str> = cases.iter().map(|c| c.op).collect();
    assert!(covered.len() >= variants().len(), "expected every variant among the cases, got {covered:?}");
    assert!(failed.is_empty(), "GPU updates disagree with the CPU:\n{}", failed.join("\n"));
}

#[test]
fn an_update_is_one_dispatch_in_place_and_reads_nothing_back() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(device) = common::gpu() else { return };
    let gpu = gpu_device(&device);
    for optimizer in variants() {
        let param = random(&[33, 65], 1, &device);
        let grad = random(&[33, 65], 2, &device);
        let mut state = optimizer.state_for(&param).unwrap();
        let before = gpu.stats();
        optimizer.step(&param, &grad, &mut state, 1).unwrap();
        let after = gpu.stats();
        assert_eq!(after.dispatches - before.dispatches, 1, "{optimizer:?}: dispatches per update");
        assert_eq!(after.readbacks, before.readbacks, "{optimizer:?}: readbacks");
        // In place: the very tensor handed in holds the CPU's result.
        let cpu_param = random(&[33, 65], 1, &Device::Cpu);
        let cpu_grad = random(&[33, 65], 2, &Device::Cpu);
        let mut cpu_state = optimizer.state_for(&cpu_param).unwrap();
        optimizer.step(&cpu_param, &cpu_grad, &mut cpu_state, 1).unwrap();
        let (got, want) = (param.to_vec::<f32>().unwrap(), cpu_param.to_vec::<f32>().unwrap());
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!((g - w).abs() <= 1e-6 * w.abs().max(1.0), "{optimizer:?}: element {i}: {g} vs {w}");
        }
    }
}

#[test]
fn a_training_step_reads_nothing_back() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(device) = common::gpu() else { return };
    let gpu = gpu_device(&device);
    let (n, features, classes) = (64, 20, 10);
    let x = random(&[n, features], 3, &device);
    let ids: Vec<f32> = (0..n).map(|i| (i % classes) as f32).collect();
    let labels = Tensor::from_vec(ids, [n], &device).unwrap();
    let w = random(&[features, classes], 4, &device).mul_scalar(0.1).unwrap();
    let b = Tensor::zeros([classes], DType::F32, &device).unwrap();
    let adam = Optimizer::from(Adam { learning_rate: 0.05, ..Adam::default() });
    let (mut w_state, mut b_state) = (adam.state_for(&w).unwrap(), adam.state_for(&b).unwrap());
    let step = |t: u64, w_state: &mut State, b_state: &mut State| -> Tensor {
        let tape = Tape::new();
        let (tw, tb) = (tape.watch(&w), tape.watch(&b));
        let logits = x.matmul(&tw).unwrap().add(&tb).unwrap();
        let loss = logits.sparse_softmax_cross_entropy_prechecked(&labels).unwrap().mean_all().unwrap();
        let grads = tape.backward(&loss).unwrap();
        adam.step(&w, grads.get(&tw).unwrap(), w_state, t).unwrap();
        adam.step(&b, grads.get(&tb).unwrap(), b_state, t).unwrap();
        loss
    };
    let first = step(1, &mut w_state, &mut b_state).item().unwrap();
    let before = gpu.stats();
    let mut last = None;
    for t in 2..=20 {
        last = Some(step(t, &mut w_state, &mut b_state));
    }
    let after = gpu.stats();
    assert_eq!(after.readbacks, before.readbacks, "readbacks during 19 training steps");
    let last = last.unwrap().item().unwrap();
    assert!(last < first, "the loss fell from {first} to {last}");
}
