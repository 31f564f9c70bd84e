//! The wgpu runtime's promises: buffers are pooled (a steady training step allocates nothing),
//! ops never wait on the device, and compiled pipelines persist on disk.

mod common;

use tessera::tensor_core::gpu::{GpuDevice, GpuOptions};
use tessera::{DType, Device, Tape, Tensor};

/// One step of a two-layer regression net: forward, backward, plain gradient descent.
fn training_step(x: &Tensor, y: &Tensor, w1: &Tensor, w2: &Tensor) -> tessera::Result<f64> {
    let tape = Tape::new();
    let (w1t, w2t) = (tape.watch(w1), tape.watch(w2));
    let prediction = x.matmul(&w1t)?.relu()?.matmul(&w2t)?;
    let loss = prediction.sub(y)?.square()?.mean_all()?;
    let grads = tape.backward(&loss)?;
    for (w, watched) in [(w1, &w1t), (w2, &w2t)] {
        let g = grads.get(watched).expect("the loss depends on every weight");
        w.assign(&w.sub(&g.mul_scalar(0.1)?)?)?;
    }
    loss.item()
}

#[test]
fn repeated_training_steps_allocate_nothing_after_the_first() {
    let Some(gpu) = common::own_gpu() else { return };
    let device = Device::Gpu(gpu.clone());
    let init = |shape: &[usize], seed| {
        Tensor::uniform(shape.to_vec(), -0.5, 0.5, seed, DType::F32, &device).unwrap()
    };
    let (x, y) = (init(&[37, 13], 1), init(&[37, 3], 2));
    let (w1, w2) = (init(&[13, 29], 3), init(&[29, 3], 4));
    let first = training_step(&x, &y, &w1, &w2).unwrap();
    let after_first = gpu.stats().pool.allocations;
    let mut last = first;
    for _ in 0..5 {
        last = training_step(&x, &y, &w1, &w2).unwrap();
    }
    let stats = gpu.stats();
    assert_eq!(stats.pool.allocations, after_first, "steady steps created buffers: {stats:?}");
    assert!(stats.pool.reuses > 0);
    assert!(last < first, "the loss should fall: {first} -> {last}");
}

#[test]
fn ops_record_without_submitting_until_the_host_reads() {
    let Some(gpu) = common::own_gpu() else { return };
    let device = Device::Gpu(gpu.clone());
    let x = Tensor::ones([1000], DType::F32, &device).unwrap();
    gpu.synchronize().unwrap();
    let before = gpu.stats();
    let mut y = x.clone();
    for _ in 0..20 {
        y = y.mul_scalar(1.5).unwrap().add(&x).unwrap().relu().unwrap();
    }
    let recorded = gpu.stats();
    assert_eq!(recorded.submissions, before.submissions, "ops submitted work on their own");
    assert_eq!(recorded.readbacks, before.readbacks);
    assert_eq!(recorded.dispatches - before.dispatches, 60);
    let value = y.to_vec::<f32>().unwrap()[0];
    let after = gpu.stats();
    assert_eq!(after.readbacks, before.readbacks + 1);
    assert!(after.submissions > before.submissions);
    let expected = (0..20).fold(1.0f32, |v, _| (v * 1.5 + 1.0).max(0.0));
    assert!((value - expected).abs() <= expected * 1e-6, "{value} vs {expected}");
}

#[test]
fn compiled_pipelines_persist_when_the_driver_has_a_cache() {
    if common::gpu().is_none() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("tessera-cache-test-{}", std::process::id()));
    let options = GpuOptions { cache_dir: Some(dir.clone()), ..GpuOptions::default() };
    let gpu = GpuDevice::open_with(&options).unwrap();
    let device = Device::Gpu(gpu.clone());
    let x = Tensor::ones([10], DType::F32, &device).unwrap();
    x.exp().unwrap().to_vec::<f32>().unwrap();
    let files: Vec<_> = std::fs::read_dir(&dir).map(|d| d.flatten().collect()).unwrap_or_default();
    if gpu.pipelines_persisted() {
        assert_eq!(files.len(), 1, "one cache file per adapter in {}", dir.display());
        assert!(files[0].metadata().unwrap().len() > 0);
    } else {
        println!("{} has no pipeline cache; nothing is persisted", gpu.name());
        assert!(files.is_empty());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A steady training step of the reference CNN (batch 64, Adam) on the GPU: few dispatches, no
/// bind group created (the cache serves them all), nothing read back, nothing submitted.
#[test]
fn a_steady_training_step_of_the_reference_cnn_is_cheap() {
    let Some(gpu) = common::own_gpu() else { return };
    let step = tessera::bench::cnn_training(&Device::Gpu(gpu), 16).unwrap();
    assert!(step.dispatches <= 30.0, "{} dispatches per step: {step:?}", step.dispatches);
    assert_eq!(step.bind_groups_created, 0.0, "{step:?}");
    assert_eq!(step.readbacks, 0.0, "{step:?}");
    assert_eq!(step.submissions, 0.0, "{step:?}");
}
