//! The one error type of tensor-core: every fallible call names the op and what it was given.

use crate::{DType, Device};

/// Everything a caller can get wrong, and everything a backend can report.
#[derive(Clone, Debug, thiserror::Error)]
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

    /// No GPU adapter could be found.
    #[error(
        "no GPU adapter found (no Vulkan, Metal, DX12 or GL driver that can run compute shaders); \
         on Debian install a driver, or the software one: `apt-get install mesa-vulkan-drivers`"
    )]
    NoAdapter,

    /// `TESSERA_ADAPTER` (or an explicit selector) matched no adapter.
    #[error("no GPU adapter matches {selector:?}; available: {available}")]
    AdapterNotFound { selector: String, available: String },

    /// A shader failed to compile or validate on this adapter.
    #[error("shader {file} (entry point {entry}) failed to compile: {message}")]
    Shader { file: &'static str, entry: &'static str, message: String },

    /// Something the adapter cannot do at all (f16 tensors where it lacks `SHADER_F16`).
    #[error("unsupported on this adapter: {0}")]
    Unsupported(String),

    /// A tensor or dispatch exceeds one of the adapter's limits and cannot be split.
    #[error("device limit: {0}")]
    Limit(String),

    /// A size the host cannot hold: an element or byte count that overflows, one above the host
    /// memory limit, or an allocation the allocator refused (names the op and the size).
    #[error("{op}: {detail}")]
    Memory { op: &'static str, detail: String },

    /// The device reported an error (lost device, failed mapping, out of memory...).
    #[error("gpu: {0}")]
    Gpu(String),

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

    /// A size error of a backend's creation kernel attributed to the constructor the user called
    /// (`zeros` runs the kernel `full`; a GPU's limit errors name no op); others are left as
    /// they are.
    pub(crate) fn renamed(self, op: &'static str) -> Self {
        match self {
            Error::Memory { detail, .. } => Error::Memory { op, detail },
            Error::Limit(detail) => Error::Limit(format!("{op}: {detail}")),
            other => other,
        }
    }
}
