//! The one error type of nn.

/// Errors from building, training, saving or loading models.
#[derive(Debug, thiserror::Error)]
pub enum NnError {
    /// An error from a tensor op.
    #[error(transparent)]
    Tensor(#[from] tensor_core::Error),

    /// A layer cannot take the shape it is given (names the layer and both shapes).
    #[error("layer {layer}: {detail}")]
    Layer { layer: String, detail: String },

    /// Data or labels that do not fit the model (counts, shapes, label ranges).
    #[error("{0}")]
    Data(String),

    /// A call made in the wrong state (fit before compile, an unknown loss name...).
    #[error("{0}")]
    Usage(String),

    /// A layer, model or compile config that cannot be read: an unknown class, a missing or
    /// unknown field, or a value of the wrong kind (names the class and the field).
    #[error("{0}")]
    Config(String),

    /// Reading or writing a file.
    #[error("{path}: {detail}")]
    Io { path: String, detail: String },
}

/// Result with nn's [`NnError`].
pub type Result<T> = std::result::Result<T, NnError>;

impl NnError {
    pub fn layer(layer: impl Into<String>, detail: impl Into<String>) -> Self {
        NnError::Layer { layer: layer.into(), detail: detail.into() }
    }
}
