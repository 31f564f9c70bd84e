//! The one error type of tensor-core: every fallible call names the op and what it was given.

use crate::{DType, Device};

/// Everything a caller can get wrong, and everything a backend can report.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Operand shapes that the op cannot combine.
    #[error("{op}: {detail}")]
    Shape { op: &'static str, detail: String },

    /// Operands of different dtypes, or a dtype the op does not support.
    #[error("{op}: expected dtype {expected}, got {got}")]
    DType { op: &'static str, expected: DType, got: DType },

    /// Operands on different devices.
    #[error("{op}: operands live on different devices ({lhs} and {rhs}); move one with `.to(&device)`")]
    Device { op: &'static str, lhs: Device, rhs: Device },

    /// An argument outside the op's domain (a zero stride, an axis past the rank, a rate of 1.5...).
    #[error("{op}: {detail}")]
    Argument { op: &'static str, detail: String },

    /// Misuse of the tape: a gradient asked of a tensor that was never watched, two tapes mixed...
    #[error("autodiff: {0}")]
    Autodiff(String),
}

/// Result with tensor-core's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn shape(op: &'static str, detail: impl Into<String>) -> Self {
        Error::Shape { op, detail: detail.into() }
    }

    pub(crate) fn argument(op: &'static str, detail: impl Into<String>) -> Self {
        Error::Argument { op, detail: detail.into() }
    }
}
