//! A model used as a layer of another (Keras's nested models: `base(inputs)`): one row of the
//! outer summary, its weights among the outer model's, its config the inner model's whole
//! architecture, and its layers frozen or trained as they are set.

use tensor_core::Tensor;

use super::{Kind, Model};
use crate::layers::Config;
use crate::{ForwardCtx, Layer, NnError, Result, Weight};

impl Layer for Model {
    fn class_name(&self) -> &'static str {
        match self.kind {
            Kind::Sequential => super::config::SEQUENTIAL,
            Kind::Functional => super::config::FUNCTIONAL,
        }
    }

    fn base_name(&self) -> &'static str {
        match self.kind {
            Kind::Sequential => "sequential",
            Kind::Functional => "functional",
        }
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn set_name(&mut self, name: String) {
        self.name = name;
    }

    fn declared_input_shape(&self) -> Option<&[usize]> {
        match self.inputs.as_slice() {
            [input] => self.nodes[*input].shape.as_deref(),
            _ => None,
        }
    }

    /// The inner model's architecture, as Keras nests it: `{"name", "layers", ...}`.
    fn config(&self) -> Result<Config> {
        let mut architecture = self.architecture()?;
        match architecture.remove("config") {
            Some(serde_json::Value::Object(config)) => Ok(config),
            _ => Err(NnError::Config(format!("model \"{}\": its architecture has no config", self.name))),
        }
    }

    /// Checks that the outer graph gives the inputs this model takes (building a Sequential
    /// model that has no input shape yet) and gives its one output's shape.
    fn build(&mut self, inputs: &[Vec<usize>]) -> Result<Vec<usize>> {
        Model::build(self, inputs)?;
        match self.output_shapes().as_slice() {
            [output] => Ok(output.clone()),
            outputs => Err(NnError::layer(
                &self.name,
                format!("has {} outputs; only a model of one output nests as a layer", outputs.len()),
            )),
        }
    }

    fn forward(&self, inputs: &[Tensor], ctx: &mut ForwardCtx<'_>) -> Result<Tensor> {
        Model::forward(self, inputs, ctx)
    }

    /// Every weight of every layer, as many times as layers hold it (in step with
    /// [`Layer::weights_mut`]; [`Model::weights`] gives each once).
    fn weights(&self) -> Vec<&Weight> {
        self.layers.iter().flat_map(|l| l.weights()).collect()
    }

    fn weights_mut(&mut self) -> Vec<&mut Weight> {
        self.layers.iter_mut().flat_map(|l| l.weights_mut()).collect()
    }

    /// "layer/weight" for each weight of each layer, nested models' layers nested in turn.
    fn weight_paths(&self) -> Vec<(String, &Weight)> {
        self.layers()
            .into_iter()
            .flat_map(|layer| {
                let prefix = layer.name().to_string();
                layer.weight_paths().into_iter().map(move |(path, w)| (format!("{prefix}/{path}"), w))
            })
            .collect()
    }

    fn set_trainable(&mut self, trainable: bool) {
        Model::set_trainable(self, trainable);
    }

    fn regularization_loss(&self, ctx: &mut ForwardCtx<'_>) -> Result<Option<Tensor>> {
        Model::regularization_loss(self, ctx)
    }
}
