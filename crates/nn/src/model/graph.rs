//! A built model seen as a symbolic graph (Keras's `model.input`, `model.output` and
//! `model.get_layer(name).output`): new models start from its tensors and share its weights, so
//! a sub-model shows a trained model's feature maps and a new head goes on a trained base while
//! the original stays whole.
//!
//! ```
//! use nn::{Apply, Dense, Input, Model};
//! let x = Input::new(&[4]).symbolic()?;
//! let h = Dense::new(3).named("hidden").apply(&[&x])?;
//! let model = Model::functional(&[&x], &Dense::new(2).apply(&[&h])?)?;
//! let graph = model.graph()?;
//! let hidden = Model::functional(&[&graph.input()?], &graph.layer_output("hidden")?)?;
//! assert_eq!(hidden.output_shape(), vec![3]);
//! assert_eq!(model.layers().len(), 3); // the model is still whole
//! # Ok::<(), nn::NnError>(())
//! ```

use super::Model;
use super::functional::{LayerCell, SymbolicTensor};
use crate::layers::{deserialize, serialize};
use crate::{Layer, NnError, Result};

/// The symbolic tensors of a built model: its inputs, its outputs and every layer's input and
/// output, over copies of its layers that hold the very same weights.
pub struct Graph {
    model: String,
    inputs: Vec<SymbolicTensor>,
    outputs: Vec<SymbolicTensor>,
    /// For each layer name, its first application's inputs and output.
    layers: Vec<(String, Vec<SymbolicTensor>, SymbolicTensor)>,
}

impl Graph {
    /// The model's one input (Keras's `model.input`); an error for a model of several.
    pub fn input(&self) -> Result<SymbolicTensor> {
        self.only("input", &self.inputs)
    }

    /// Every input, in the model's order (Keras's `model.inputs`).
    pub fn inputs(&self) -> Vec<SymbolicTensor> {
        self.inputs.clone()
    }

    /// The model's one output (Keras's `model.output`); an error for a model of several.
    pub fn output(&self) -> Result<SymbolicTensor> {
        self.only("output", &self.outputs)
    }

    /// Every output, in the model's order (Keras's `model.outputs`).
    pub fn outputs(&self) -> Vec<SymbolicTensor> {
        self.outputs.clone()
    }

    /// The output of the layer called `name` (Keras's `model.get_layer(name).output`).
    pub fn layer_output(&self, name: &str) -> Result<SymbolicTensor> {
        Ok(self.layer(name)?.2.clone())
    }

    /// The one input of the layer called `name` (Keras's `model.get_layer(name).input`).
    pub fn layer_input(&self, name: &str) -> Result<SymbolicTensor> {
        let (_, inputs, _) = self.layer(name)?;
        self.only(&format!("input of layer \"{name}\""), inputs)
    }

    fn layer(&self, name: &str) -> Result<&(String, Vec<SymbolicTensor>, SymbolicTensor)> {
        self.layers.iter().find(|(n, _, _)| n == name).ok_or_else(|| {
            let names: Vec<&str> = self.layers.iter().map(|(n, _, _)| n.as_str()).collect();
            NnError::Usage(format!(
                "model \"{}\" has no layer \"{name}\"; its layers are: {}",
                self.model,
                names.join(", ")
            ))
        })
    }

    fn only(&self, what: &str, tensors: &[SymbolicTensor]) -> Result<SymbolicTensor> {
        match tensors {
            [one] => Ok(one.clone()),
            many => Err(NnError::Usage(format!(
                "model \"{}\" has {} tensors where one {what} was asked for; take them all with the plural",
                self.model,
                many.len()
            ))),
        }
    }
}

impl Model {
    /// The model as a symbolic graph to build new models from (see [`Graph`]). Each layer is
    /// copied from its config and given this model's weights themselves, so training either
    /// model trains both while they stay on one device. Every layer must have a config.
    pub fn graph(&self) -> Result<Graph> {
        if !self.is_built() {
            return Err(NnError::Usage(format!(
                "model \"{}\" is not built; build it before taking its graph",
                self.name
            )));
        }
        let mut cells = Vec::with_capacity(self.layers.len());
        for (k, layer) in self.layers.iter().enumerate() {
            let first = self.nodes.iter().find(|n| n.layer == k);
            let Some(node) = first else { continue };
            let input_shapes: Vec<Vec<usize>> =
                node.inputs.iter().filter_map(|&j| self.nodes[j].shape.clone()).collect();
            let output = node.shape.clone().unwrap_or_default();
            cells.push(Some(LayerCell::lending(
                sharing_copy(layer.as_ref(), &input_shapes)?,
                input_shapes,
                output,
            )));
        }
        let mut tensors: Vec<SymbolicTensor> = Vec::with_capacity(self.nodes.len());
        for node in &self.nodes {
            let cell = cells[node.layer]
                .as_ref()
                .ok_or_else(|| NnError::Usage("graph: a layer has no node".into()))?;
            let inputs = node.inputs.iter().map(|&j| tensors[j].clone()).collect();
            tensors.push(SymbolicTensor::new(cell, inputs, node.shape.clone().unwrap_or_default()));
        }
        let mut layers = Vec::new();
        for (i, node) in self.nodes.iter().enumerate() {
            let name = self.layers[node.layer].name();
            if layers.iter().all(|(n, _, _): &(String, _, _)| n != name) {
                let inputs = node.inputs.iter().map(|&j| tensors[j].clone()).collect();
                layers.push((name.to_string(), inputs, tensors[i].clone()));
            }
        }
        Ok(Graph {
            model: self.name.clone(),
            inputs: self.inputs.iter().map(|&i| tensors[i].clone()).collect(),
            outputs: self.outputs.iter().map(|&i| tensors[i].clone()).collect(),
            layers,
        })
    }

    /// A copy of the model whose layers hold this model's weights themselves (Keras's reuse of
    /// one model object): nested in another model it trains these weights, frozen or not as
    /// its layers are set.
    pub fn shared(&self) -> Result<Model> {
        let graph = self.graph()?;
        let inputs = graph.inputs();
        let mut copy = Model::functional(&inputs.iter().collect::<Vec<_>>(), &graph.outputs())?;
        copy.kind = self.kind;
        copy.set_name(self.name.clone());
        Ok(copy)
    }
}

/// `layer` made again from its config, built for `inputs`, holding `layer`'s own weights.
pub(super) fn sharing_copy(layer: &dyn Layer, inputs: &[Vec<usize>]) -> Result<Box<dyn Layer>> {
    let mut copy = deserialize(&serialize(layer)?)?;
    copy.build(inputs)?;
    let originals = layer.weights();
    let mut slots = copy.weights_mut();
    if slots.len() != originals.len() {
        return Err(NnError::layer(
            layer.name(),
            format!("made again from its config it has {} weights, not {}", slots.len(), originals.len()),
        ));
    }
    for (slot, original) in slots.iter_mut().zip(originals) {
        if slot.value().shape() != original.value().shape() {
            return Err(NnError::layer(
                layer.name(),
                format!(
                    "made again from its config its weight {} has shape {}, not {}",
                    original.name(),
                    slot.value().shape(),
                    original.value().shape()
                ),
            ));
        }
        **slot = original.share();
    }
    Ok(copy)
}
