//! Helpers shared by the cross-crate tests: seeded random f64 tensors and the shapes to try.
#![allow(dead_code)]

pub mod fixtures;
pub mod hostile;

use tessera::{DType, Device, Tensor};

/// Shapes for elementwise and reduction checks: sizes 1, 3, 7 and 13, ranks 1 to 4.
pub const SHAPES: &[&[usize]] = &[&[1], &[3], &[7, 13], &[13, 1], &[3, 1, 7], &[2, 3, 1, 7]];

/// Uniform values in [-1, 1), f64 on the CPU.
pub fn rand(shape: &[usize], seed: u64) -> Tensor {
    Tensor::uniform(shape.to_vec(), -1.0, 1.0, seed, DType::F64, &Device::Cpu).unwrap()
}

/// Uniform values in [low, high), f64 on the CPU.
pub fn rand_in(shape: &[usize], low: f64, high: f64, seed: u64) -> Tensor {
    Tensor::uniform(shape.to_vec(), low, high, seed, DType::F64, &Device::Cpu).unwrap()
}

/// An f64 CPU tensor from literal values.
pub fn tensor(values: &[f64], shape: &[usize]) -> Tensor {
    Tensor::from_slice(values, shape.to_vec(), &Device::Cpu).unwrap()
}

/// Asserts two slices agree elementwise within `tol` (absolute).
pub fn assert_close(actual: &[f64], expected: &[f64], tol: f64) {
    assert_eq!(actual.len(), expected.len(), "lengths differ: {actual:?} vs {expected:?}");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!(
            (a - e).abs() <= tol,
            "element {i}: got {a}, expected {e} (tolerance {tol}); all: {actual:?}"
        );
    }
}

/// The GPU to test on. With no adapter the test fails, unless `TESSERA_ALLOW_NO_GPU=1` says a
/// machine without one is expected: then it prints that it skipped and returns `None`.
pub fn gpu() -> Option<Device> {
    match Device::gpu() {
        Ok(device) => Some(device),
        Err(e) if std::env::var("TESSERA_ALLOW_NO_GPU").as_deref() == Ok("1") => {
            println!("skipped: no GPU ({e}); TESSERA_ALLOW_NO_GPU=1");
            None
        }
        Err(e) => panic!("{e}\n(set TESSERA_ALLOW_NO_GPU=1 to skip GPU tests on a machine without one)"),
    }
}

/// A GPU of the test's own (not the process-wide one), for tests that count what a device does
/// while other tests run beside them; `None` as [`gpu`] gives it.
pub fn own_gpu() -> Option<tessera::tensor_core::gpu::GpuDevice> {
    gpu()?;
    Some(
        tessera::tensor_core::gpu::GpuDevice::open_with(&Default::default())
            .expect("the adapter opens again"),
    )
}
