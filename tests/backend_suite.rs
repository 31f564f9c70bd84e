//! One op-test suite, instantiated for every backend: known answers from the notes and from
//! hand computation, which each device must reproduce on its own (f32, absolute tolerance 1e-5),
//! independently of the GPU-vs-CPU comparison.

mod common;

use tessera::tensor_core::optim::{Adam, Optimizer, Sgd};
use tessera::{DType, Device, Padding, Tensor};

const TOLERANCE: f64 = 1e-5;

fn tensor(values: &[f32], shape: &[usize], device: &Device) -> Tensor {
    Tensor::from_slice(values, shape.to_vec(), device).unwrap()
}

fn assert_values(t: &Tensor, expected: &[f64]) {
    common::assert_close(&t.to_vec_f64().unwrap(), expected, TOLERANCE);
}

fn convolution_of_the_notes(device: &Device) {
    let image =
        tensor(&[1., 2., 1., 0., 0., 1., 2., 1., 1., 2., 2., 2., 2., 2., 1., 0.], &[1, 4, 4, 1], device);
    let kernel = tensor(&[1., 0., 0., -1.], &[2, 2, 1, 1], device);
    let out = image.conv2d(&kernel, (1, 1), Padding::Valid).unwrap();
    assert_values(&out, &[0., 0., 0., -2., -1., 0., -1., 1., 2.]);
}

fn max_pooling_2x2_stride_2(device: &Device) {
    let x = tensor(&[1., 3., 2., 4., 5., 6., 1., 0., 7., 2., 9., 8., 1., 8., 3., 4.], &[1, 4, 4, 1], device);
    assert_values(&x.max_pool2d((2, 2), (2, 2), Padding::Valid).unwrap(), &[6., 4., 8., 9.]);
}

fn the_bias_neuron(device: &Device) {
    let inputs = tensor(&[1., 2.], &[1, 2], device);
    let weights = tensor(&[-0.55, 0.1], &[2, 1], device);
    let sum = inputs.matmul(&weights).unwrap();
    assert_values(&sum.relu().unwrap(), &[0.0]);
    assert_values(&sum.add_scalar(1.0).unwrap().relu().unwrap(), &[0.65]);
}

fn softmax_and_cross_entropy(device: &Device) {
    let logits = tensor(&[1., 2., 3.], &[1, 3], device);
    assert_values(&logits.softmax(-1).unwrap(), &[0.09003057, 0.24472847, 0.66524096]);
    let labels = tensor(&[2.], &[1], device);
    // -ln(0.66524096)
    assert_values(&logits.sparse_softmax_cross_entropy(&labels).unwrap(), &[0.40760596]);
}

fn broadcasting_and_reductions(device: &Device) {
    let a = tensor(&[1., 2., 3., 4., 5., 6.], &[2, 3], device);
    let b = tensor(&[10., 20., 30.], &[3], device);
    assert_values(&a.add(&b).unwrap(), &[11., 22., 33., 14., 25., 36.]);
    assert_values(&a.sum(&[0], false).unwrap(), &[5., 7., 9.]);
    assert_values(&a.max(&[1], true).unwrap(), &[3., 6.]);
    assert_values(&a.mean_all().unwrap(), &[3.5]);
}

fn arange_counts_from_zero(device: &Device) {
    assert_values(&Tensor::arange(5, DType::F32, device).unwrap(), &[0., 1., 2., 3., 4.]);
    assert_eq!(Tensor::arange(0, DType::F32, device).unwrap().numel(), 0);
}

fn one_optimizer_step(device: &Device) {
    let step = |optimizer: Optimizer, expected: &[f64]| {
        let param = tensor(&[1.0, -2.0, 3.0], &[3], device);
        let grad = tensor(&[0.1, -0.2, 0.3], &[3], device);
        let mut state = optimizer.state_for(&param).unwrap();
        optimizer.step(&param, &grad, &mut state, 1).unwrap();
        assert_values(&param, expected);
    };
    // w - 0.01 g
    step(Sgd::default().into(), &[0.999, -1.998, 2.997]);
    // Adam's first step moves every weight by lr * g / (|g| + eps'), i.e. 1e-3 towards -sign(g).
    step(Adam::default().into(), &[0.999, -1.999, 2.999]);
}

fn dropout_is_inverted_and_seeded(device: &Device) {
    let x = Tensor::ones([1000], DType::F32, device).unwrap();
    let dropped = x.dropout(0.25, 7).unwrap().to_vec_f64().unwrap();
    assert!(dropped.iter().all(|&v| v == 0.0 || (v - 1.0 / 0.75).abs() < 1e-6));
    let kept = dropped.iter().filter(|&&v| v > 0.0).count();
    assert!((700..800).contains(&kept), "{kept} of 1000 kept at rate 0.25");
}

macro_rules! backend_suite {
    ($backend:ident, $device:expr) => {
        mod $backend {
            use super::*;

            fn device() -> Option<Device> {
                $device
            }

            #[test]
            fn convolution_of_the_notes() {
                if let Some(d) = device() {
                    super::convolution_of_the_notes(&d)
                }
            }

            #[test]
            fn max_pooling_2x2_stride_2() {
                if let Some(d) = device() {
                    super::max_pooling_2x2_stride_2(&d)
                }
            }

            #[test]
            fn the_bias_neuron() {
                if let Some(d) = device() {
                    super::the_bias_neuron(&d)
                }
            }

            #[test]
            fn softmax_and_cross_entropy() {
                if let Some(d) = device() {
                    super::softmax_and_cross_entropy(&d)
                }
            }

            #[test]
            fn broadcasting_and_reductions() {
                if let Some(d) = device() {
                    super::broadcasting_and_reductions(&d)
                }
            }

            #[test]
            fn arange_counts_from_zero() {
                if let Some(d) = device() {
                    super::arange_counts_from_zero(&d)
                }
            }

            #[test]
            fn one_optimizer_step() {
                if let Some(d) = device() {
                    super::one_optimizer_step(&d)
                }
            }

            #[test]
            fn dropout_is_inverted_and_seeded() {
                if let Some(d) = device() {
                    super::dropout_is_inverted_and_seeded(&d)
                }
            }
        }
    };
}

backend_suite!(cpu, Some(Device::Cpu));
backend_suite!(gpu, common::gpu());
