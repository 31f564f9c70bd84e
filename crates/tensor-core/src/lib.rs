//! tensor-core: tensors on a device, tape-based reverse-mode autodiff, the CPU reference backend,
//! the wgpu backend and the optimizer update rules.
//!
//! The layers, from the top: `ops` (shape checks and tape recording) calls `storage` (the one
//! place that picks a backend), which calls a backend's implementation of
//! `backend::BackendStorage`: `cpu` or `gpu`. `backend` holds the descriptors they share.

pub mod autodiff;
mod backend;
pub mod cpu;
mod device;
mod dtype;
mod error;
pub mod gpu;
pub mod gradcheck;
mod ops;
pub mod optim;
pub mod rng;
mod shape;
mod storage;
mod tensor;

pub use autodiff::{Gradients, NoGradGuard, Tape, no_grad};
pub use backend::{Activation, Conv2dGeometry, Padding};
pub use device::Device;
pub use dtype::{DType, Element};
pub use error::{Error, Result};
/// The f16 host type of [`DType::F16`] tensors (`Tensor::from_vec`, `to_vec`).
pub use half::f16;
pub use shape::Shape;
pub use tensor::Tensor;
