//! A model's architecture as JSON, Keras's `model.to_json()` / `keras.models.model_from_json`:
//! the class ("Sequential" or "Functional"), the name, each layer as `{"class_name", "config"}`
//! in order and, for a functional model, which layers feed each one and which are its inputs and
//! output. No weights: a model made from it starts from its layers' initializers.
//!
//! ```
//! use nn::{Dense, Model};
//! let model = Model::sequential(vec![Box::new(Dense::new(2).input_shape(&[3]).activation("relu"))])?;
//! let copy = Model::from_json(&model.to_json()?)?;
//! assert_eq!(copy.count_params(), model.count_params());
//! assert_eq!(copy.layers()[0].name(), "dense");
//! # Ok::<(), nn::NnError>(())
//! ```

use std::collections::HashMap;

use serde_json::Value;

use super::functional::{SymbolicTensor, apply_layer};
use super::{Kind, Model};
use crate::layers::config::{Fields, ToValue, config};
use crate::layers::{Config, deserialize, registry, serialize};
use crate::{NnError, Result};

/// Keras's class names of the two kinds of model.
const SEQUENTIAL: &str = "Sequential";
const FUNCTIONAL: &str = "Functional";

impl Model {
    /// The architecture as a JSON string (Keras's `model.to_json()`); an error if a layer cannot
    /// describe itself.
    pub fn to_json(&self) -> Result<String> {
        Ok(Value::Object(self.architecture()?).to_string())
    }

    /// The model that [`Model::to_json`] describes, with fresh weights (Keras's
    /// `model_from_json`). An unknown class, a bad field or a broken graph is an error naming it.
    pub fn from_json(json: &str) -> Result<Model> {
        let value: Value = serde_json::from_str(json)
            .map_err(|e| NnError::Config(format!("a model architecture must be JSON: {e}")))?;
        match value {
            Value::Object(architecture) => Model::from_architecture(&architecture),
            other => Err(NnError::Config(format!(
                "a model architecture must be a JSON object {{\"class_name\": ..., \"config\": {{...}}}}, got {other}"
            ))),
        }
    }

    /// `{"class_name": "Sequential" | "Functional", "config": {...}}`.
    pub(crate) fn architecture(&self) -> Result<Config> {
        let (class_name, config) = match self.kind {
            Kind::Sequential => {
                let layers =
                    self.nodes.iter().map(|n| serialize(n.layer.as_ref())).collect::<Result<Vec<_>>>()?;
                (SEQUENTIAL, config!("name": self.name, "layers": layers))
            }
            Kind::Functional => {
                let name_of = |i: &usize| self.nodes[*i].layer.name().to_string();
                let layers = self
                    .nodes
                    .iter()
                    .map(|node| {
                        let mut entry = serialize(node.layer.as_ref())?;
                        let inbound: Vec<String> = node.inputs.iter().map(name_of).collect();
                        entry.insert("inbound_layers".into(), inbound.to_value());
                        Ok(entry)
                    })
                    .collect::<Result<Vec<_>>>()?;
                let inputs: Vec<String> = self.inputs.iter().map(name_of).collect();
                let output: Vec<String> = self.nodes.len().checked_sub(1).iter().map(name_of).collect();
                let config = config!("name": self.name, "layers": layers, "input_layers": inputs, "output_layers": output);
                (FUNCTIONAL, config)
            }
        };
        Ok(config!("class_name": class_name.to_string(), "config": config))
    }

    /// The model [`Model::architecture`] describes, built (when its input is known) on the CPU.
    pub(crate) fn from_architecture(architecture: &Config) -> Result<Model> {
        let mut fields = Fields::new("model architecture", architecture);
        let class_name: String = fields.required("class_name")?;
        let config: Config = fields.required("config")?;
        fields.finish()?;
        let mut fields = Fields::new(format!("{class_name} model config"), &config);
        let name: String = fields.required("name")?;
        let layers: Vec<Config> = fields.required("layers")?;
        let mut model = match class_name.as_str() {
            SEQUENTIAL => {
                fields.finish()?;
                Model::sequential(layers.iter().map(deserialize).collect::<Result<_>>()?)?
            }
            FUNCTIONAL => {
                let inputs: Vec<String> = fields.required("input_layers")?;
                let outputs: Vec<String> = fields.required("output_layers")?;
                fields.finish()?;
                functional(&layers, &inputs, &outputs)?
            }
            other => {
                return Err(NnError::Config(format!(
                    "unknown model class \"{other}\"; expected {SEQUENTIAL} or {FUNCTIONAL}"
                )));
            }
        };
        model.set_name(name);
        Ok(model)
    }
}

/// Applies the layers of a functional model's config in order, each to the outputs of its
/// inbound layers (which must come before it), and makes the model from `inputs` to the one
/// output layer.
fn functional(layers: &[Config], inputs: &[String], outputs: &[String]) -> Result<Model> {
    let mut tensors: HashMap<String, SymbolicTensor> = HashMap::new();
    for (i, entry) in layers.iter().enumerate() {
        let mut fields = Fields::new(format!("layer {i} of the Functional model config"), entry);
        let layer = registry::read(&mut fields)?;
        let inbound: Vec<String> = fields.required("inbound_layers")?;
        fields.finish()?;
        let name = layer.name().to_string();
        let args = inbound
            .iter()
            .map(|from| {
                tensors.get(from).ok_or_else(|| {
                    NnError::Config(format!(
                        "layer \"{name}\" takes the output of \"{from}\", which no layer before it gives"
                    ))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let output = apply_layer(layer, &args)?;
        if tensors.insert(name.clone(), output).is_some() {
            return Err(NnError::Config(format!("two layers are named \"{name}\"; names must be unique")));
        }
    }
    let find = |name: &String| {
        tensors.get(name).ok_or_else(|| {
            NnError::Config(format!("the model's input or output \"{name}\" is none of its layers"))
        })
    };
    let inputs = inputs.iter().map(find).collect::<Result<Vec<_>>>()?;
    let [output] = outputs else {
        return Err(NnError::Config(format!(
            "a Functional model has one output layer, the config lists {}",
            outputs.len()
        )));
    };
    Model::functional(&inputs, find(output)?)
}
