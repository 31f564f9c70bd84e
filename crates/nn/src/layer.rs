//! The contract every layer implements.

use tensor_core::Tensor;

use crate::layers::Config;
use crate::{ForwardCtx, NnError, Result, Weight};

/// A layer: built once for its input shapes (batch axis excluded), then applied to batches.
pub trait Layer: Send {
    /// The Keras class name shown in summaries ("Dense", "Conv2D", ...).
    fn class_name(&self) -> &'static str;

    /// The base of automatic names ("dense" gives dense, dense_1, ...).
    fn base_name(&self) -> &'static str;

    fn name(&self) -> &str;

    fn set_name(&mut self, name: String);

    /// The input shape declared on the layer itself (Keras's `input_shape`, batch axis excluded),
    /// which gives a Sequential model whose first layer it is its input.
    fn declared_input_shape(&self) -> Option<&[usize]> {
        None
    }

    /// Keras's `get_config()`: the settings from which [`crate::layers::deserialize`] makes the
    /// same layer again (unbuilt, without its weights). Every layer of nn has one; a layer of
    /// your own that does not say how to describe itself cannot be saved with its model.
    fn config(&self) -> Result<Config> {
        Err(NnError::Usage(format!(
            "layer \"{}\" ({}) has no config: implement Layer::config to save it with its model",
            self.name(),
            self.class_name()
        )))
    }

    /// Creates the weights for `inputs` (one shape per input, without the batch axis) and returns
    /// the output shape. An impossible shape is an error naming the layer and the shapes.
    fn build(&mut self, inputs: &[Vec<usize>]) -> Result<Vec<usize>>;

    /// Applies the layer to a batch (one tensor per input).
    fn forward(&self, inputs: &[Tensor], ctx: &mut ForwardCtx<'_>) -> Result<Tensor>;

    /// Every weight, trainable or not, in a stable order.
    fn weights(&self) -> Vec<&Weight> {
        Vec::new()
    }

    /// Keras's `get_weights()`: copies of the layer's weight values (trainable and not), in
    /// [`Layer::weights`] order, on the CPU; later training does not change them.
    fn get_weights(&self) -> Result<Vec<Tensor>> {
        crate::model::weight_values::layer_values(self)
    }

    /// Keras's `set_weights()`: one value per weight in [`Layer::weights`] order, each of the
    /// weight's shape (converted to its dtype and device); nothing is written unless all fit.
    fn set_weights(&self, values: &[Tensor]) -> Result<()> {
        crate::model::weight_values::set_layer_values(self, values)
    }

    /// Each weight under the path a model file keeps it at, relative to the layer: its name, or
    /// "layer/weight" inside a nested model.
    fn weight_paths(&self) -> Vec<(String, &Weight)> {
        self.weights().into_iter().map(|w| (w.name().to_string(), w)).collect()
    }

    fn weights_mut(&mut self) -> Vec<&mut Weight> {
        Vec::new()
    }

    /// Freezes (false) or unfreezes the layer: a frozen layer's weights are left alone by training.
    fn set_trainable(&mut self, trainable: bool) {
        for w in self.weights_mut() {
            w.set_trainable(trainable);
        }
    }

    /// The regularization penalty of this layer's weights for the current pass, if it has one.
    fn regularization_loss(&self, _ctx: &mut ForwardCtx<'_>) -> Result<Option<Tensor>> {
        Ok(None)
    }
}
