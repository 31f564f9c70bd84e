//! The boundary between the op layer and the backends. Here live the descriptors every op hands
//! a backend (op codes, the geometry of products and sliding windows, axis layouts, optimizer
//! steps) and the [`BackendStorage`] trait that the CPU's and the GPU's storage both implement.
//! Neither backend imports the other or the op layer: they meet only here, and
//! `storage.rs` is the one place that picks a backend for an op.

mod geometry;
mod ops;
mod optim;
mod storage;

pub(crate) use geometry::{AxisSplit, BatchNormConfig, MatmulDims, RecurrentCell, Rows, Window};
pub use geometry::{Conv2dGeometry, Padding};
pub use ops::Activation;
pub(crate) use ops::{ActivationCode, BinaryOp, ReduceOp, UnaryCode, UnaryOp};
pub(crate) use optim::{AdamStep, NadamStep, UpdateRule};
pub(crate) use storage::{BackendStorage, Gradients3, UpdateItem};
