//! Embedding: a trained vector per integer id, looked up by row.

use tensor_core::Tensor;

use super::base::{LayerBase, layer_basics, layer_builders, weight_builders};
use super::config::{Fields, ToValue};
use super::{Config, Spec};
use crate::initializers::Initializer;
use crate::regularizers::Regularizer;
use crate::{ForwardCtx, Layer, Result};

const EMBEDDINGS: usize = 0;

/// Keras's `Embedding`: maps integer ids in `[0, input_dim)` (stored as floats, of any shape)
/// to rows of a trained `(input_dim, output_dim)` matrix, so (N, T) ids give (N, T, output_dim).
/// The ids are read on the host to pick the rows (a GPU step waits for them); the gradient adds
/// each position's gradient onto its id's row.
pub struct Embedding {
    base: LayerBase,
    input_dim: usize,
    output_dim: usize,
    embeddings_initializer: Spec<Initializer>,
    embeddings_regularizer: Option<Spec<Regularizer>>,
}

impl Embedding {
    /// `input_dim` ids (the vocabulary) to vectors of `output_dim`, drawn uniformly in ±0.05
    /// (Keras's default "uniform").
    pub fn new(input_dim: usize, output_dim: usize) -> Embedding {
        Embedding {
            base: LayerBase::new("embedding"),
            input_dim,
            output_dim,
            embeddings_initializer: Spec::Value(Initializer::random_uniform()),
            embeddings_regularizer: None,
        }
    }

    pub fn embeddings_initializer(mut self, init: impl Into<Spec<Initializer>>) -> Self {
        self.embeddings_initializer = init.into();
        self
    }

    pub fn embeddings_regularizer(mut self, regularizer: impl Into<Spec<Regularizer>>) -> Self {
        self.embeddings_regularizer = Some(regularizer.into());
        self
    }

    /// Keras's `Embedding.from_config`; `input_dim` and `output_dim` are required, and
    /// `mask_zero` must be false (masks are not supported).
    pub fn from_config(config: &Config) -> Result<Embedding> {
        let mut fields = Fields::layer("Embedding", config);
        let mut layer = Embedding::new(fields.required("input_dim")?, fields.required("output_dim")?);
        fields.update("embeddings_initializer", &mut layer.embeddings_initializer)?;
        fields.update("embeddings_regularizer", &mut layer.embeddings_regularizer)?;
        let mask_zero: Option<bool> = fields.get("mask_zero")?;
        if mask_zero == Some(true) {
            return Err(layer.base.error("mask_zero is not supported; expected false"));
        }
        for unsupported in ["embeddings_constraint", "activity_regularizer"] {
            let value: Option<serde_json::Value> = fields.get(unsupported)?;
            if value.is_some_and(|v| !v.is_null()) {
                return Err(layer.base.error(format!("{unsupported} is not supported; expected null")));
            }
        }
        layer.base.read_weighted_config(&mut fields)?;
        fields.finish()?;
        Ok(layer)
    }

    /// The ids in `x` as row indices, or an error naming the first that is not an integer in
    /// `[0, input_dim)`.
    fn rows(&self, x: &Tensor) -> Result<Vec<usize>> {
        let ids = x.to_vec_f64()?;
        ids.iter()
            .enumerate()
            .map(|(i, &id)| {
                if id.fract() == 0.0 && id >= 0.0 && id < self.input_dim as f64 {
                    Ok(id as usize)
                } else {
                    Err(self.base.error(format!(
                        "id {id} at position {i} of the input is not an integer in [0, {}) (input_dim)",
                        self.input_dim
                    )))
                }
            })
            .collect()
    }
}

layer_builders!(Embedding);
weight_builders!(Embedding);

impl Layer for Embedding {
    layer_basics!("Embedding", "embedding");

    fn config(&self) -> Result<Config> {
        let mut config = self.base.weighted_config();
        config.insert("input_dim".into(), self.input_dim.to_value());
        config.insert("output_dim".into(), self.output_dim.to_value());
        config.insert("embeddings_initializer".into(), self.embeddings_initializer.to_value());
        config.insert("embeddings_regularizer".into(), self.embeddings_regularizer.to_value());
        config.insert("mask_zero".into(), false.to_value());
        Ok(config)
    }

    fn build(&mut self, inputs: &[Vec<usize>]) -> Result<Vec<usize>> {
        let input = self.base.single(inputs)?.to_vec();
        if self.input_dim == 0 || self.output_dim == 0 {
            return Err(self.base.error(format!(
                "input_dim and output_dim must be at least 1, got {} and {}",
                self.input_dim, self.output_dim
            )));
        }
        self.base.resolve_regularizer(&self.embeddings_regularizer)?;
        let shape = [self.input_dim, self.output_dim];
        self.base.build_weights(inputs, |base| {
            base.add_weight("embeddings", &shape, &self.embeddings_initializer, true)?;
            Ok(())
        })?;
        Ok([input.as_slice(), &[self.output_dim]].concat())
    }

    fn forward(&self, inputs: &[Tensor], ctx: &mut ForwardCtx<'_>) -> Result<Tensor> {
        self.base.check_inputs(inputs)?;
        let x = &inputs[0];
        let rows = self.rows(x)?;
        let embeddings = ctx.weight(self.base.weight(EMBEDDINGS)?);
        let picked = embeddings.gather_rows(&rows)?;
        Ok(picked.reshape([x.dims(), &[self.output_dim]].concat())?)
    }

    fn regularization_loss(&self, ctx: &mut ForwardCtx<'_>) -> Result<Option<Tensor>> {
        self.base
            .penalties(ctx, &[(EMBEDDINGS, self.base.resolve_regularizer(&self.embeddings_regularizer)?)])
    }
}
