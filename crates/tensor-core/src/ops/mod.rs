//! Every op: forward kernels dispatched by device, and each op's backward rule beside it.
//! One module per op family.

mod batch_norm;
mod binary;
mod broadcast;
mod concat;
pub(crate) mod conv;
mod cross_entropy;
mod dropout;
mod gather;
mod matmul;
mod permute;
mod pool;
mod reduce;
mod reshape;
mod slice;
mod softmax;
mod unary;

pub(crate) use binary::BinaryOp;
pub(crate) use reduce::ReduceOp;
pub(crate) use unary::UnaryOp;

use crate::{Error, Tensor};

/// The error for operands on different devices, for the arm of a storage match that pairs a
/// CPU buffer with a GPU one (ops check devices first, so this only keeps the match total).
pub(crate) fn mixed_devices(op: &'static str, a: &Tensor, b: &Tensor) -> Error {
    Error::Device { op, lhs: a.device().clone(), rhs: b.device().clone() }
}
