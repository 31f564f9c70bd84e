//! f16 storage and mixed precision. f16 rounds to nearest, ties to even, on the CPU and on the
//! GPU alike; products read f16 and round what they store (compared op by op, every schedule,
//! in `tessera check`); a model under `mixed_float16` computes in f16 from f32 weights and its
//! gradients and updates stay within f16's rounding of float32 training's (relative L2 at most
//! 2e-2: each activation rounds to 11 significant bits, 2^-11 ≈ 4.9e-4, and the errors of
//! several layers add up); an adapter without `SHADER_F16` refuses f16 with an error.

mod common;

use tessera::nn::{Conv2D, Dense, Embedding, Flatten, MaxPooling2D, Model, optimizers::Sgd, set_random_seed};
use tessera::tensor_core::gpu::GpuDevice;
use tessera::{DType, Device, Tensor, f16};

const MIXED_TOLERANCE: f64 = 2e-2;

fn relative_l2(a: &[f64], b: &[f64]) -> f64 {
    let diff: f64 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum();
    let norm: f64 = b.iter().map(|x| x * x).sum();
    diff.sqrt() / norm.sqrt().max(1e-12)
}

#[test]
fn f16_rounds_to_nearest_with_ties_to_even() {
    let ulp = 2f32.powi(-10);
    // Ties: 1 + ulp/2 goes down to the even 1, 1 + 3ulp/2 up to the even 1 + 2ulp; 65,520 is
    // halfway between the largest f16 and 2^16, so it overflows; 2^-25 is half the smallest
    // subnormal and goes to zero.
    let values =
        [1.0 + ulp / 2.0, 1.0 + 1.5 * ulp, 65_504.0, 65_520.0, -65_520.0, 2f32.powi(-24), 2f32.powi(-25)];
    let expected = [1.0, 1.0 + 2.0 * ulp, 65_504.0, f32::INFINITY, f32::NEG_INFINITY, 2f32.powi(-24), 0.0];
    let x = Tensor::from_slice(&values, [values.len()], &Device::Cpu).unwrap();
    let half = x.to_dtype(DType::F16).unwrap();
    assert_eq!(half.dtype(), DType::F16);
    let back: Vec<f32> = half.to_vec::<f16>().unwrap().iter().map(|h| h.to_f32()).collect();
    assert_eq!(back, expected);
    assert_eq!(half.to_dtype(DType::F32).unwrap().to_vec::<f32>().unwrap(), expected);
}

#[test]
fn tensors_made_in_f16_hold_f16() {
    let devices = [Some(Device::Cpu), common::gpu()];
    for device in devices.iter().flatten() {
        let made = [
            Tensor::normal([5, 3], 0.0, 1.0, 1, DType::F16, device).unwrap(),
            Tensor::uniform([5, 3], -1.0, 1.0, 2, DType::F16, device).unwrap(),
            Tensor::ones([5, 3], DType::F16, device).unwrap(),
        ];
        for t in &made {
            assert_eq!(t.dtype(), DType::F16, "on {device}");
            assert_eq!(t.to_vec::<f16>().unwrap().len(), 15, "on {device}");
        }
        // Drawn in f32, then rounded once.
        let wide = Tensor::normal([5, 3], 0.0, 1.0, 1, DType::F32, &Device::Cpu).unwrap();
        assert_eq!(
            made[0].to_vec::<f16>().unwrap(),
            wide.to_dtype(DType::F16).unwrap().to_vec::<f16>().unwrap()
        );
    }
}

#[test]
fn gpu_conversions_equal_the_cpus_bit_for_bit() {
    let Some(gpu) = common::gpu() else { return };
    let wide = Tensor::uniform([10_007], -70_000.0, 70_000.0, 7, DType::F32, &Device::Cpu).unwrap();
    let tiny = Tensor::uniform([3_001], -1e-5, 1e-5, 8, DType::F32, &Device::Cpu).unwrap();
    let x = Tensor::concat(&[&wide, &tiny], 0).unwrap();
    let cpu = x.to_dtype(DType::F16).unwrap();
    let on_gpu = x.to(&gpu).unwrap().to_dtype(DType::F16).unwrap();
    let bits = |t: &Tensor| t.to_vec::<f16>().unwrap().iter().map(|h| h.to_bits()).collect::<Vec<u16>>();
    assert_eq!(bits(&on_gpu), bits(&cpu));
    assert!(bits(&cpu).iter().any(|&b| b == f16::INFINITY.to_bits()), "the range reaches f16's overflow");
    // Back to f32 is exact, and an f16 tensor uploads and downloads unchanged (odd length).
    let back = on_gpu.to_dtype(DType::F32).unwrap().to_vec::<f32>().unwrap();
    assert_eq!(back, cpu.to_dtype(DType::F32).unwrap().to_vec::<f32>().unwrap());
    assert_eq!(bits(&cpu.to(&gpu).unwrap()), bits(&cpu));
}

#[test]
fn an_adapter_without_shader_f16_refuses_f16() {
    let Some(_) = common::gpu() else { return };
    // Mesa's GL driver has no SHADER_F16 (lavapipe's Vulkan one has); elsewhere, no such adapter.
    let Ok(gl) = GpuDevice::open_matching(Some("gl")) else {
        println!("skipped: no GL adapter here");
        return;
    };
    if gl.has_f16() {
        println!("skipped: this GL adapter has SHADER_F16");
        return;
    }
    let x = Tensor::ones([5], DType::F32, &Device::Gpu(gl)).unwrap();
    let error = x.to_dtype(DType::F16).unwrap_err().to_string();
    assert!(error.contains("SHADER_F16") && error.contains("f32"), "{error}");
    let error =
        Tensor::ones([5], DType::F32, &Device::Cpu).unwrap().to_dtype(DType::F16).unwrap().to(x.device());
    assert!(error.unwrap_err().to_string().contains("SHADER_F16"));
}

/// Every schedule f16 products may take runs them; pinning one of the others (blocks too large
/// for lavapipe to compile in f16 in reasonable time) is an error naming those that do, never
/// another schedule in its place.
#[test]
fn f16_products_refuse_schedules_that_do_not_take_f16() {
    let Some(gpu) = common::own_gpu() else { return };
    if !gpu.has_f16() {
        println!("skipped: no SHADER_F16 on {gpu}");
        return;
    }
    let f16_schedules = gpu.f16_product_schedules();
    let others: Vec<String> =
        gpu.product_schedules().into_iter().filter(|s| !f16_schedules.contains(s)).collect();
    let device = Device::Gpu(gpu.clone());
    let a = Tensor::ones([9, 7], DType::F16, &device).unwrap();
    for schedule in &others {
        gpu.pin_product_schedule(Some(schedule)).unwrap();
        let error =
            a.matmul(&a.transpose(0, 1).unwrap()).and_then(|p| p.to_vec_f64()).unwrap_err().to_string();
        assert!(error.contains("does not run f16 products") && error.contains(&f16_schedules[0]), "{error}");
    }
    gpu.pin_product_schedule(Some(&f16_schedules[0])).unwrap();
    let product = a.matmul(&a.transpose(0, 1).unwrap()).unwrap().to_vec_f64().unwrap();
    assert_eq!(product, vec![7.0; 81]);
    println!("{} schedules refuse f16: {}", others.len(), others.join(", "));
}

#[test]
fn an_f16_product_is_the_f32_product_of_its_operands_rounded_once() {
    let a = Tensor::uniform([13, 29], -2.0, 2.0, 1, DType::F32, &Device::Cpu)
        .unwrap()
        .to_dtype(DType::F16)
        .unwrap();
    let b = Tensor::uniform([29, 7], -2.0, 2.0, 2, DType::F32, &Device::Cpu)
        .unwrap()
        .to_dtype(DType::F16)
        .unwrap();
    let product = a.matmul(&b).unwrap();
    assert_eq!(product.dtype(), DType::F16);
    let wide = a.to_dtype(DType::F32).unwrap().matmul(&b.to_dtype(DType::F32).unwrap()).unwrap();
    let rounded = wide.to_dtype(DType::F16).unwrap();
    assert_eq!(product.to_vec::<f16>().unwrap(), rounded.to_vec::<f16>().unwrap());
}

#[test]
fn optimizers_refuse_f16_weights() {
    let mut model =
        Model::sequential(vec![Box::new(Dense::new(2).input_shape(&[3]).dtype(DType::F16))]).unwrap();
    model.compile("sgd", "mse", &[]).unwrap();
    let x = Tensor::ones([4, 3], DType::F16, &Device::Cpu).unwrap();
    let error = model.train_on_batch(&x, Tensor::ones([4, 2], DType::F16, &Device::Cpu).unwrap());
    let error = error.unwrap_err().to_string();
    assert!(error.contains("expected dtype f32, got f16"), "{error}");
}

#[test]
fn dtype_policies_are_checked() {
    let mut model = Model::sequential(vec![Box::new(Dense::new(2).input_shape(&[3]))]).unwrap();
    let error = model.set_dtype_policy("bfloat16").unwrap_err().to_string();
    assert!(error.contains("\"float32\" or \"mixed_float16\""), "{error}");
    let mut embedded = Model::sequential(vec![Box::new(Embedding::new(5000, 4).input_shape(&[3]))]).unwrap();
    let error = embedded.set_dtype_policy("mixed_float16").unwrap_err().to_string();
    assert!(error.contains("Embedding") && error.contains("2,048"), "{error}");
    let mut double =
        Model::sequential(vec![Box::new(Dense::new(2).input_shape(&[3]).dtype(DType::F64))]).unwrap();
    assert!(double.set_dtype_policy("mixed_float16").unwrap_err().to_string().contains("f64"));
    model.set_dtype_policy("mixed_float16").unwrap();
    assert_eq!(model.dtype_policy().name(), "mixed_float16");
}

/// A small CNN of the reference model's layers, its weights seeded, on `device`.
fn cnn(device: &Device, policy: &str) -> Model {
    set_random_seed(11);
    let mut model = Model::sequential(vec![
        Box::new(Conv2D::new(6, 3).padding("same").activation("relu").input_shape(&[10, 8, 2])),
        Box::new(MaxPooling2D::new()),
        Box::new(Conv2D::new(8, 3).padding("same").activation("relu")),
        Box::new(Flatten::new()),
        Box::new(Dense::new(16).activation("relu")),
        Box::new(Dense::new(3).activation("softmax")),
    ])
    .unwrap();
    model
        .compile(
            Sgd { learning_rate: 0.05, ..Sgd::default() },
            "sparse_categorical_crossentropy",
            &["accuracy"],
        )
        .unwrap();
    model.to_device(device).unwrap();
    model.set_dtype_policy(policy).unwrap();
    model
}

fn weights_of(model: &Model) -> Vec<f64> {
    model.weights().iter().flat_map(|w| w.value().to_vec_f64().unwrap()).collect()
}

/// Mixed precision against float32 on `device`: predictions, gradients (unscaled), and the
/// weights after three SGD steps.
fn mixed_tracks_float32(device: &Device) {
    let x =
        Tensor::uniform([12, 10, 8, 2], 0.0, 1.0, 3, DType::F32, &Device::Cpu).unwrap().to(device).unwrap();
    let labels: Vec<f32> = (0..12).map(|i| (i % 3) as f32).collect();
    let y = Tensor::from_slice(&labels, [12], &Device::Cpu).unwrap().to(device).unwrap();
    let (mut float32, mut mixed) = (cnn(device, "float32"), cnn(device, "mixed_float16"));
    assert_eq!(weights_of(&float32), weights_of(&mixed));
    let predicted = mixed.predict(&x, 32).unwrap();
    assert_eq!(predicted.dtype(), DType::F32, "outputs come back in the weights' dtype");
    let reference = float32.predict(&x, 32).unwrap().to_vec_f64().unwrap();
    assert!(relative_l2(&predicted.to_vec_f64().unwrap(), &reference) < MIXED_TOLERANCE);
    let grads = |m: &mut Model| -> Vec<f64> {
        m.gradients(&x, &y).unwrap().iter().flat_map(|(_, g)| g.to_vec_f64().unwrap()).collect()
    };
    let (g32, g16) = (grads(&mut float32), grads(&mut mixed));
    let error = relative_l2(&g16, &g32);
    assert!(error < MIXED_TOLERANCE, "gradients differ by {error:.2e}");
    for _ in 0..3 {
        float32.train_on_batch(&x, &y).unwrap();
        mixed.train_on_batch(&x, &y).unwrap();
    }
    for w in mixed.weights() {
        assert_eq!(w.value().dtype(), DType::F32, "master weights stay f32");
    }
    let error = relative_l2(&weights_of(&mixed), &weights_of(&float32));
    assert!(error < MIXED_TOLERANCE, "weights differ by {error:.2e} after 3 steps");
    println!("{device}: weights after 3 steps within {error:.2e}");
}

#[test]
fn mixed_precision_tracks_float32_training_on_the_cpu() {
    mixed_tracks_float32(&Device::Cpu);
}

#[test]
fn mixed_precision_tracks_float32_training_on_the_gpu() {
    let Some(gpu) = common::gpu() else { return };
    mixed_tracks_float32(&gpu);
}
