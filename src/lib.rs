//! tessera: a GPU tensor engine with WGSL kernels, tape autodiff, a CPU reference backend and a
//! Keras-style API. This crate re-exports its two libraries and holds what the command line
//! shares with the tests and benches (the GPU health check, the kernel benchmarks, the main job
//! and its report).

pub mod bench;
pub mod check;
pub mod checkpoint;
mod fault_injection;
pub mod logging;
pub mod memory;
pub mod report;
pub mod train;

pub use nn;
pub use tensor_core;
pub use tensor_core::{DType, Device, Error, Padding, Result, Shape, Tape, Tensor, f16, no_grad};
