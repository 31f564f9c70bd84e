//! Every op: forward kernels dispatched by device, and each op's backward rule beside it.
//! One module per op family.

mod binary;
mod broadcast;
mod reduce;
mod reshape;
mod unary;

pub(crate) use binary::BinaryOp;
pub(crate) use reduce::ReduceOp;
pub(crate) use unary::UnaryOp;
