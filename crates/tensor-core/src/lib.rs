//! tensor-core: tensors on a device, tape-based reverse-mode autodiff, the CPU reference backend
//! and the optimizer update rules.

pub mod autodiff;
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
pub use device::Device;
pub use dtype::{DType, Element};
pub use error::{Error, Result};
pub use ops::conv::{Conv2dGeometry, Padding};
pub use shape::Shape;
pub use tensor::Tensor;
