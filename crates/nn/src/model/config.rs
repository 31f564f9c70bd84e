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

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::functional::{SharedLayer, SymbolicTensor};
use super::{Kind, Model};
use crate::layers::config::{Fields, config};
use crate::layers::{Config, deserialize, registry, serialize};
use crate::{NnError, Result};

/// Keras's class names of the two kinds of model.
pub(super) const SEQUENTIAL: &str = "Sequential";
pub(super) const FUNCTIONAL: &str = "Functional";

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
                let layers = self.layers.iter().map(|l| serialize(l.as_ref())).collect::<Result<Vec<_>>>()?;
                (SEQUENTIAL, config!("name": self.name, "layers": layers))
            }
            Kind::Functional => {
                // Keras's node references: [layer name, which application of it, output index].
                let reference = |j: usize| {
                    let (name, application) = self.node_key(j);
                    Value::Array(vec![Value::String(name), application.into(), 0.into()])
                };
                let layers = self
                    .layers
                    .iter()
                    .enumerate()
                    .map(|(k, layer)| {
                        let mut entry = serialize(layer.as_ref())?;
                        let applications: Vec<Value> = self
                            .nodes
                            .iter()
                            .filter(|n| n.layer == k)
                            .map(|n| Value::Array(n.inputs.iter().map(|&j| reference(j)).collect()))
                            .collect();
                        entry.insert("inbound_nodes".into(), Value::Array(applications));
                        Ok(entry)
                    })
                    .collect::<Result<Vec<_>>>()?;
                let references =
                    |nodes: &[usize]| Value::Array(nodes.iter().map(|&j| reference(j)).collect());
                let mut config = config!("name": self.name, "layers": layers);
                config.insert("input_layers".into(), references(&self.inputs));
                config.insert("output_layers".into(), references(&self.outputs));
                (FUNCTIONAL, config)
            }
        };
        Ok(config!("class_name": class_name.to_string(), "config": config))
    }

    /// The layer name and application index by which the architecture refers to node `j`.
    fn node_key(&self, j: usize) -> (String, usize) {
        let layer = self.nodes[j].layer;
        let application = self.nodes[..j].iter().filter(|n| n.layer == layer).count();
        (self.layers[layer].name().to_string(), application)
    }

    /// The output shape (batch axis excluded) of each built node, by the layer name and
    /// application index of [`Model::architecture`]'s node references.
    pub(crate) fn node_shapes(&self) -> HashMap<(String, usize), Vec<usize>> {
        (0..self.nodes.len()).filter_map(|j| Some((self.node_key(j), self.nodes[j].shape.clone()?))).collect()
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
                let inputs: Vec<Value> = fields.required("input_layers")?;
                let outputs: Vec<Value> = fields.required("output_layers")?;
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

/// A node reference of a functional config: `[layer, application, output]` as Keras writes it,
/// or a bare layer name (its first application), as earlier files of this crate do.
fn node_reference(value: &Value) -> Result<(String, usize)> {
    let bad = || {
        NnError::Config(format!(
            "a node reference must be a layer name or [layer name, application index, 0], got {value}"
        ))
    };
    match value {
        Value::String(name) => Ok((name.clone(), 0)),
        Value::Array(parts) => match parts.as_slice() {
            [Value::String(name), application, ..] => {
                let application =
                    application.as_u64().and_then(|a| usize::try_from(a).ok()).ok_or_else(bad)?;
                Ok((name.clone(), application))
            }
            _ => Err(bad()),
        },
        _ => Err(bad()),
    }
}

/// A layer of a functional config with the sources of each of its applications.
struct Entry {
    layer: SharedLayer,
    name: String,
    applications: Vec<Vec<(String, usize)>>,
}

/// Makes the model a functional config describes: every layer applied at each of its places, in
/// whatever order their sources become available (a shared layer's later application may read
/// layers listed after it), then the model from `inputs` to `outputs`.
fn functional(layers: &[Config], inputs: &[Value], outputs: &[Value]) -> Result<Model> {
    let mut entries = Vec::with_capacity(layers.len());
    for (i, entry) in layers.iter().enumerate() {
        let mut fields = Fields::new(format!("layer {i} of the Functional model config"), entry);
        let layer = registry::read(&mut fields)?;
        let applications = match fields.get::<Vec<Value>>("inbound_nodes")? {
            Some(nodes) => nodes
                .iter()
                .map(|node| match node {
                    Value::Array(sources) => sources.iter().map(node_reference).collect(),
                    other => Err(NnError::Config(format!(
                        "inbound_nodes of layer {i} must list each application's sources, got {other}"
                    ))),
                })
                .collect::<Result<Vec<_>>>()?,
            // Earlier files name the sources of a layer's one application.
            None => {
                vec![fields.required::<Vec<String>>("inbound_layers")?.into_iter().map(|n| (n, 0)).collect()]
            }
        };
        fields.finish()?;
        let name = layer.name().to_string();
        entries.push(Entry { layer: SharedLayer::boxed(layer), name, applications });
    }
    let mut names = HashSet::new();
    if let Some(entry) = entries.iter().find(|e| !names.insert(e.name.clone())) {
        return Err(NnError::Config(format!(
            "two layers are named \"{}\"; names must be unique",
            entry.name
        )));
    }
    let mut tensors: HashMap<(String, usize), SymbolicTensor> = HashMap::new();
    let mut applied = vec![0; entries.len()];
    loop {
        let mut progress = false;
        for (entry, done) in entries.iter().zip(&mut applied) {
            while let Some(sources) = entry.applications.get(*done) {
                let Some(args) = sources.iter().map(|s| tensors.get(s)).collect::<Option<Vec<_>>>() else {
                    break;
                };
                let output = entry.layer.apply(&args)?;
                tensors.insert((entry.name.clone(), *done), output);
                *done += 1;
                progress = true;
            }
        }
        if !progress {
            break;
        }
    }
    if let Some((entry, &done)) = entries.iter().zip(&applied).find(|(e, done)| **done < e.applications.len())
    {
        let missing: Vec<String> = entry.applications[done]
            .iter()
            .filter(|s| !tensors.contains_key(*s))
            .map(|(name, k)| match k {
                0 => format!("\"{name}\""),
                k => format!("\"{name}\" (application {k})"),
            })
            .collect();
        return Err(NnError::Config(format!(
            "layer \"{}\" takes the output of {}, which no layer of the model gives",
            entry.name,
            missing.join(", ")
        )));
    }
    let find = |value: &Value| {
        let reference = node_reference(value)?;
        tensors.get(&reference).cloned().ok_or_else(|| {
            NnError::Config(format!("the model's input or output {value} is none of its layers' outputs"))
        })
    };
    let inputs = inputs.iter().map(find).collect::<Result<Vec<_>>>()?;
    let outputs = outputs.iter().map(find).collect::<Result<Vec<_>>>()?;
    Model::functional(&inputs.iter().collect::<Vec<_>>(), &outputs)
}
