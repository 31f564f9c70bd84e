//! Input: where a model's data comes in.

use tensor_core::Tensor;

use super::Config;
use super::base::{LayerBase, layer_basics};
use super::config::{BatchShape, Fields, config};
use crate::{ForwardCtx, Layer, Result};

/// A model input of a given shape (batch axis excluded), Keras's `InputLayer`. It starts a
/// Sequential model (`Input::new(&[28, 28, 1])` as the first layer) or, through
/// [`Input::symbolic`](crate::SymbolicTensor), a functional one.
pub struct Input {
    base: LayerBase,
}

impl Input {
    /// An input taking samples of `shape` (batch axis excluded).
    pub fn new(shape: &[usize]) -> Input {
        let mut base = LayerBase::new("input_layer");
        base.declared_input = Some(shape.to_vec());
        Input { base }
    }

    /// Names the input (otherwise its model names it: input_layer, input_layer_1, ...).
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.base.name = name.into();
        self
    }

    /// Keras's `InputLayer.from_config`: the input a [`Layer::config`] describes; its
    /// `batch_shape` (`[null, d1, d2, ...]`) is required.
    pub fn from_config(config: &Config) -> Result<Input> {
        let mut fields = Fields::layer("InputLayer", config);
        let BatchShape(shape) = fields.required("batch_shape")?;
        let mut input = Input::new(&shape);
        fields.update("name", &mut input.base.name)?;
        fields.finish()?;
        Ok(input)
    }

    /// The input's shape, batch axis excluded.
    pub fn shape(&self) -> &[usize] {
        self.base.declared_input.as_deref().unwrap_or_default()
    }
}

impl Layer for Input {
    layer_basics!("InputLayer", "input_layer");

    /// The name and the shape with its batch axis (Keras's `batch_shape`).
    fn config(&self) -> Result<Config> {
        Ok(config!("name": self.base.name, "batch_shape": BatchShape(self.shape().to_vec())))
    }

    /// Takes no input, or one of exactly its own shape; gives its shape.
    fn build(&mut self, inputs: &[Vec<usize>]) -> Result<Vec<usize>> {
        let shape = self.shape().to_vec();
        if !(inputs.is_empty() || inputs == [shape.clone()]) {
            return Err(self.base.error(format!(
                "an input of shape {shape:?} takes no input of its own, got shapes {inputs:?}"
            )));
        }
        self.base.build_weights(std::slice::from_ref(&shape), |_| Ok(()))?;
        Ok(shape)
    }

    fn forward(&self, inputs: &[Tensor], _ctx: &mut ForwardCtx<'_>) -> Result<Tensor> {
        self.base.check_inputs(inputs)?;
        Ok(inputs[0].clone())
    }
}
