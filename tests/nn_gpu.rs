//! The nn API on the GPU: the same model with the same weights gives the same outputs and the
//! same training updates on the GPU as on the CPU reference (relative L2 error at most 1e-4,
//! the tolerance of reductions and convolutions in the op-level checks).

mod common;

use tessera::nn::{
    BatchNormalization, Conv2D, Dense, Flatten, ForwardCtx, MaxPooling2D, Model, optimizers::Sgd,
    set_random_seed,
};
use tessera::{DType, Device, Tensor};

const TOLERANCE: f64 = 1e-4;

fn relative_l2(a: &[f64], b: &[f64]) -> f64 {
    let diff: f64 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum();
    let norm: f64 = a.iter().map(|x| x * x).sum();
    diff.sqrt() / norm.sqrt().max(1e-12)
}

/// A small CNN touching every layer kind the reference model uses, plus batch norm.
fn model(device: &Device) -> Model {
    set_random_seed(42);
    let mut model = Model::sequential(vec![
        Box::new(Conv2D::new(4, 3).padding("same").activation("relu").input_shape(&[9, 7, 2])),
        Box::new(BatchNormalization::new()),
        Box::new(MaxPooling2D::new()),
        Box::new(Conv2D::new(5, (3, 2)).activation("relu")),
        Box::new(Flatten::new()),
        Box::new(Dense::new(3).activation("softmax")),
    ])
    .unwrap();
    model
        .compile(
            Sgd { learning_rate: 0.1, ..Sgd::default() },
            "sparse_categorical_crossentropy",
            &["accuracy"],
        )
        .unwrap();
    model.to_device(device).unwrap();
    model
}

fn weights(model: &Model) -> Vec<Vec<f64>> {
    model.weights().iter().map(|w| w.value().to_vec_f64().unwrap()).collect()
}

#[test]
fn the_same_model_agrees_on_cpu_and_gpu() {
    let Some(gpu) = common::gpu() else { return };
    let x = Tensor::uniform([5, 9, 7, 2], -1.0, 1.0, 7, DType::F32, &Device::Cpu).unwrap();
    let y = Tensor::from_vec(vec![0.0f32, 2.0, 1.0, 1.0, 0.0], [5], &Device::Cpu).unwrap();
    let (mut on_cpu, mut on_gpu) = (model(&Device::Cpu), model(&gpu));
    assert_eq!(weights(&on_cpu), weights(&on_gpu), "same seed, same initial weights");

    let infer = |m: &Model, x: &Tensor| {
        m.forward(&[x.to(m.device()).unwrap()], &mut ForwardCtx::inference()).unwrap()
    };
    let (a, b) = (infer(&on_cpu, &x).to_vec_f64().unwrap(), infer(&on_gpu, &x).to_vec_f64().unwrap());
    assert!(relative_l2(&a, &b) <= TOLERANCE, "outputs differ: {a:?} vs {b:?}");

    // Three training steps: gradients, batch statistics and SGD updates all have to agree.
    for _ in 0..3 {
        let cpu_logs = on_cpu.train_on_batch(&x, &y).unwrap();
        let gpu_logs = on_gpu.train_on_batch(x.to(&gpu).unwrap(), &y.to(&gpu).unwrap()).unwrap();
        let (l1, l2) = (cpu_logs["loss"], gpu_logs["loss"]);
        assert!((l1 - l2).abs() <= TOLERANCE * l1.abs(), "losses differ: {l1} vs {l2}");
    }
    for (i, (a, b)) in weights(&on_cpu).iter().zip(weights(&on_gpu)).enumerate() {
        let error = relative_l2(a, &b);
        assert!(
            error <= TOLERANCE,
            "weight {i} ({}) differs after training: {error:e}",
            on_cpu.weights()[i].name()
        );
    }
}
