//! `Model`: a directed acyclic graph of layers. A Sequential model is a chain built from a list
//! or with `add`; a functional model is any graph built from symbolic tensors. Both train,
//! predict and print their summary the same way.

mod config;
mod functional;
mod graph;
mod nested;
mod sequential;
mod summary;
pub(crate) mod weight_values;

use std::collections::{HashMap, HashSet};

use tensor_core::{DType, Device, Tensor};

use crate::mixed_precision::{LossScale, Policy};
use crate::{ForwardCtx, Layer, NnError, Result, Weight};

pub use functional::{Apply, Outputs, SharedLayer, SymbolicTensor};
pub use graph::Graph;

/// The Keras class name of an input layer.
const INPUT_CLASS: &str = "InputLayer";

/// One application of a layer in the graph, with where its inputs come from. A layer applied at
/// several places (Keras's shared layer) has one node per place and its weights once.
struct Node {
    /// Index of the layer in [`Model::layers`]' storage.
    layer: usize,
    /// The nodes whose outputs this one takes, in order (none for an input).
    inputs: Vec<usize>,
    /// The output shape, batch axis excluded; `None` while the layer is unbuilt (a Sequential
    /// model whose input shape is not known yet).
    shape: Option<Vec<usize>>,
}

/// Whether the model was made as a chain (Keras's `Sequential`) or from a graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Sequential,
    Functional,
}

/// A model: layers connected from its inputs to its outputs, their weights on one device.
///
/// Nodes are kept in topological order, so a forward pass is one sweep. A Sequential model's
/// input layer is implicit, as in Keras: it is not among [`Model::layers`] and not in the
/// summary. A model is itself a [`Layer`]: applied inside another model it is one nested layer.
pub struct Model {
    name: String,
    kind: Kind,
    /// Every layer once, in the order of its first node.
    layers: Vec<Box<dyn Layer>>,
    nodes: Vec<Node>,
    /// The input nodes, in the order the model takes its inputs.
    inputs: Vec<usize>,
    /// The output nodes, in the order the model gives its outputs.
    outputs: Vec<usize>,
    device: Device,
    /// How the layers compute (Keras's dtype policy).
    dtype_policy: Policy,
    pub(crate) compiled: Option<crate::training::Compiled>,
}

/// Names the layer in an error that a tensor op raised inside it.
fn in_layer(layer: &str, error: NnError) -> NnError {
    match error {
        NnError::Tensor(e) => NnError::layer(layer, e.to_string()),
        other => other,
    }
}

impl Model {
    fn empty(name: &str, kind: Kind) -> Model {
        Model {
            name: name.to_string(),
            kind,
            layers: Vec::new(),
            nodes: Vec::new(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            dtype_policy: Policy::default(),
            device: Device::Cpu,
            compiled: None,
        }
    }

    /// The model's name ("sequential" or "functional" unless set).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Renames the model.
    pub fn set_name(&mut self, name: impl Into<String>) {
        self.name = name.into();
    }

    /// Whether the model is a Sequential one (a chain that `add` and `pop` can change).
    pub fn is_sequential(&self) -> bool {
        self.kind == Kind::Sequential
    }

    /// Whether every layer is built (the input shape is known).
    pub fn is_built(&self) -> bool {
        !self.inputs.is_empty()
    }

    /// Whether layer `k` is listed: all but a Sequential model's implicit input are.
    fn is_listed(&self, k: usize) -> bool {
        self.kind == Kind::Functional || !self.inputs.iter().any(|&i| self.nodes[i].layer == k)
    }

    /// The layers in order (a functional model's inputs included, as Keras), each once however
    /// many places it is applied at.
    pub fn layers(&self) -> Vec<&dyn Layer> {
        self.layers.iter().enumerate().filter(|(k, _)| self.is_listed(*k)).map(|(_, l)| l.as_ref()).collect()
    }

    /// The layers in order, to change (for instance to freeze some).
    pub fn layers_mut(&mut self) -> Vec<&mut dyn Layer> {
        let listed: Vec<bool> = (0..self.layers.len()).map(|k| self.is_listed(k)).collect();
        self.layers
            .iter_mut()
            .zip(listed)
            .filter(|(_, listed)| *listed)
            .map(|(layer, _)| layer.as_mut() as &mut dyn Layer)
            .collect()
    }

    /// The layer called `name`.
    pub fn layer(&self, name: &str) -> Option<&dyn Layer> {
        self.layers().into_iter().find(|l| l.name() == name)
    }

    /// Keras's `model.get_layer(name)`: the layer called `name`, or an error listing the names.
    pub fn get_layer(&self, name: &str) -> Result<&dyn Layer> {
        self.layer(name).ok_or_else(|| self.no_layer(name))
    }

    /// The error for a layer name the model does not have, listing those it has.
    fn no_layer(&self, name: &str) -> NnError {
        let names: Vec<&str> = self.layers().iter().map(|l| l.name()).collect();
        NnError::Usage(format!(
            "model \"{}\" has no layer \"{name}\"; its layers are: {}",
            self.name,
            names.join(", ")
        ))
    }

    /// The layer called `name`, to change.
    pub fn layer_mut(&mut self, name: &str) -> Option<&mut dyn Layer> {
        self.layers_mut().into_iter().find(|l| l.name() == name)
    }

    /// Freezes (false) or unfreezes every layer (Keras's `model.trainable = ...`).
    pub fn set_trainable(&mut self, trainable: bool) {
        for layer in self.layers_mut() {
            layer.set_trainable(trainable);
        }
    }

    /// Every weight, layer by layer, each once (a weight shared by two layers, as a nested copy
    /// of a model shares its original's, is one weight to train and count).
    pub fn weights(&self) -> Vec<&Weight> {
        let mut seen = HashSet::new();
        self.layers.iter().flat_map(|l| l.weights()).filter(|w| seen.insert(w.id())).collect()
    }

    /// The weights training updates.
    pub fn trainable_weights(&self) -> Vec<&Weight> {
        self.weights().into_iter().filter(|w| w.trainable()).collect()
    }

    /// The weights training leaves alone (frozen layers', moving statistics).
    pub fn non_trainable_weights(&self) -> Vec<&Weight> {
        self.weights().into_iter().filter(|w| !w.trainable()).collect()
    }

    /// (trainable, non-trainable) parameter counts.
    pub fn count_params(&self) -> (usize, usize) {
        self.weights()
            .iter()
            .fold((0, 0), |(t, n), w| if w.trainable() { (t + w.numel(), n) } else { (t, n + w.numel()) })
    }

    /// The device the weights live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Moves every weight, and the optimizer's state for it, to `device`; layers added later
    /// are moved there too. A weight this model shares with another model (a sub-model, a
    /// nested copy) is shared no more once one of them moves.
    pub fn to_device(&mut self, device: &Device) -> Result<()> {
        // A weight held by two layers of this model moves once and stays shared.
        let mut moved: HashMap<u64, Weight> = HashMap::new();
        for layer in &mut self.layers {
            for weight in layer.weights_mut() {
                match moved.get(&weight.id()) {
                    Some(twin) => *weight = twin.share(),
                    None => {
                        weight.to_device(device)?;
                        moved.insert(weight.id(), weight.share());
                    }
                }
            }
        }
        if let Some(compiled) = self.compiled.as_mut() {
            let mut seen = HashSet::new();
            let weights: Vec<&Weight> =
                self.layers.iter().flat_map(|l| l.weights()).filter(|w| seen.insert(w.id())).collect();
            compiled.optimizer.follow(&weights)?;
        }
        self.device = device.clone();
        Ok(())
    }

    /// The shape of each input, batch axis excluded (none while unbuilt).
    pub fn input_shapes(&self) -> Vec<Vec<usize>> {
        self.inputs.iter().filter_map(|&i| self.nodes[i].shape.clone()).collect()
    }

    /// The shape of the (first) output, batch axis excluded (empty while unbuilt).
    pub fn output_shape(&self) -> Vec<usize> {
        self.output_shapes().into_iter().next().unwrap_or_default()
    }

    /// The shape of each output, batch axis excluded (none while unbuilt).
    pub fn output_shapes(&self) -> Vec<Vec<usize>> {
        self.outputs.iter().filter_map(|&i| self.nodes[i].shape.clone()).collect()
    }

    /// The name of the layer giving each output, in the model's order (Keras's
    /// `model.output_names`): what per-output losses, metrics and targets are keyed by.
    /// A Sequential model not built yet has its last layer as its one output.
    pub fn output_names(&self) -> Vec<String> {
        if self.outputs.is_empty() && self.kind == Kind::Sequential {
            return self.layers.last().map(|l| l.name().to_string()).into_iter().collect();
        }
        self.outputs.iter().map(|&i| self.layers[self.nodes[i].layer].name().to_string()).collect()
    }

    /// Runs a model of one output on a batch: one tensor per input, each (batch, input shape).
    /// A batch of the wrong shape is an error naming the input and both shapes; a model of
    /// several outputs runs with [`Model::forward_all`].
    pub fn forward(&self, inputs: &[Tensor], ctx: &mut ForwardCtx<'_>) -> Result<Tensor> {
        let mut outputs = self.forward_all(inputs, ctx)?;
        match outputs.len() {
            1 => outputs.pop().ok_or_else(|| NnError::Usage("model gave no output".into())),
            n => Err(NnError::Usage(format!(
                "model \"{}\" has {n} outputs; run it with forward_all, which gives each",
                self.name
            ))),
        }
    }

    /// Runs the model on a batch and gives every output, in the model's order.
    pub fn forward_all(&self, inputs: &[Tensor], ctx: &mut ForwardCtx<'_>) -> Result<Vec<Tensor>> {
        if !self.is_built() {
            return Err(NnError::Usage(format!(
                "model \"{}\" is not built: give its first layer an input shape (`.input_shape(..)`), \
                 start it with an Input, or call build()",
                self.name
            )));
        }
        self.check_inputs(inputs)?;
        let last_use = self.last_uses();
        let compute = self.dtype_policy.compute_dtype();
        ctx.set_compute_dtype(compute);
        let mut values: Vec<Option<Tensor>> = vec![None; self.nodes.len()];
        for (x, &i) in inputs.iter().zip(&self.inputs) {
            values[i] = Some(match compute {
                Some(dtype) => x.cast(dtype)?,
                None => x.clone(),
            });
        }
        for (i, node) in self.nodes.iter().enumerate() {
            if self.inputs.contains(&i) {
                continue;
            }
            let args =
                node.inputs.iter().map(|&j| values[j].clone()).collect::<Option<Vec<Tensor>>>().ok_or_else(
                    || NnError::Usage(format!("model \"{}\": its graph is out of order", self.name)),
                )?;
            // Activations nobody reads any more are released as the sweep goes.
            for &j in &node.inputs {
                if last_use[j] == i {
                    values[j] = None;
                }
            }
            let layer = &self.layers[node.layer];
            values[i] = Some(layer.forward(&args, ctx).map_err(|e| in_layer(layer.name(), e))?);
        }
        if self.outputs.is_empty() {
            return Err(NnError::Usage(format!("model \"{}\" has no layers", self.name)));
        }
        let outputs: Vec<Tensor> = self
            .outputs
            .iter()
            .map(|&i| {
                values[i]
                    .clone()
                    .ok_or_else(|| NnError::Usage(format!("model \"{}\": an output was released", self.name)))
            })
            .collect::<Result<_>>()?;
        match compute {
            // Losses and metrics see the outputs in the weights' dtype, as Keras's do.
            Some(_) => outputs.iter().map(|y| ctx.widen_output(y, self.weights_dtype())).collect(),
            None => Ok(outputs),
        }
    }

    /// How the layers compute: Keras's dtype policy.
    pub fn dtype_policy(&self) -> Policy {
        self.dtype_policy
    }

    /// Sets how the layers compute, by Keras's policy names: `"float32"`, or `"mixed_float16"`
    /// (layers compute in f16 from f32 weights, and training scales the loss; see
    /// [`crate::mixed_precision`]). Mixed precision needs f32 weights, and f16 on the model's
    /// device (a GPU with `SHADER_F16`, or the CPU); a model with an Embedding is refused, as f16
    /// holds integer ids exactly only up to 2,048.
    pub fn set_dtype_policy(&mut self, name: &str) -> Result<()> {
        let policy = Policy::from_name(name)?;
        if policy == Policy::MixedFloat16 {
            if self.weights_dtype() != DType::F32 {
                return Err(NnError::Usage(format!(
                    "model \"{}\": mixed_float16 keeps f32 weights, but its weights are {}",
                    self.name,
                    self.weights_dtype()
                )));
            }
            if let Some(layer) = self.layers.iter().find(|l| l.class_name() == "Embedding") {
                return Err(NnError::Usage(format!(
                    "model \"{}\": mixed_float16 casts the inputs to f16, which holds the integer ids of \
                     Embedding \"{}\" exactly only up to 2,048; train it in float32",
                    self.name,
                    layer.name()
                )));
            }
            // Fails now, naming what the adapter lacks, rather than at the first batch.
            Tensor::zeros([1], DType::F32, &self.device)?.cast(DType::F16)?;
        }
        self.dtype_policy = policy;
        if let Some(compiled) = &mut self.compiled {
            compiled.loss_scale = (policy == Policy::MixedFloat16).then(LossScale::new);
        }
        Ok(())
    }

    /// The dtype of the model's weights (f32 when it has none).
    fn weights_dtype(&self) -> DType {
        self.weights().first().map_or(DType::F32, |w| w.value().dtype())
    }

    /// Checks the batches given to `forward` against the input shapes.
    fn check_inputs(&self, inputs: &[Tensor]) -> Result<()> {
        if inputs.len() != self.inputs.len() {
            return Err(NnError::Data(format!(
                "model \"{}\" takes {} input(s), got {}",
                self.name,
                self.inputs.len(),
                inputs.len()
            )));
        }
        for (k, (x, &i)) in inputs.iter().zip(&self.inputs).enumerate() {
            let node = &self.nodes[i];
            let expected = node.shape.as_deref().unwrap_or_default();
            if x.dims().get(1..) != Some(expected) {
                return Err(NnError::Data(format!(
                    "model \"{}\": input {k} (\"{}\") expects batches of shape {}, got {}",
                    self.name,
                    self.layers[node.layer].name(),
                    crate::layers::batch_shape(expected),
                    x.shape()
                )));
            }
        }
        Ok(())
    }

    /// For each node, the last node that reads its output (past the end for the outputs).
    fn last_uses(&self) -> Vec<usize> {
        let mut last = vec![0; self.nodes.len()];
        for (i, node) in self.nodes.iter().enumerate() {
            for &j in &node.inputs {
                last[j] = i;
            }
        }
        for &output in &self.outputs {
            last[output] = usize::MAX;
        }
        last
    }

    /// The sum of every layer's regularization penalty, if any layer has one.
    pub fn regularization_loss(&self, ctx: &mut ForwardCtx<'_>) -> Result<Option<Tensor>> {
        let mut total: Option<Tensor> = None;
        for layer in &self.layers {
            let name = layer.name();
            let Some(penalty) = layer.regularization_loss(ctx).map_err(|e| in_layer(name, e))? else {
                continue;
            };
            total = Some(match total {
                None => penalty,
                Some(sum) => sum.add(&penalty)?,
            });
        }
        Ok(total)
    }

    /// Gives `layer` a name no other layer of the model has. Automatic names (the layer's base
    /// name, or base_N) become the first free one of base, base_1, base_2, ... as in Keras;
    /// a name the user chose must be unique already.
    fn assign_name(&self, layer: &mut dyn Layer) -> Result<()> {
        let taken = |name: &str| self.layers.iter().any(|l| l.name() == name);
        let name = layer.name().to_string();
        if !taken(&name) {
            return Ok(());
        }
        let base = layer.base_name();
        let automatic = name == base
            || name
                .strip_prefix(base)
                .and_then(|rest| rest.strip_prefix('_'))
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if !automatic {
            return Err(NnError::layer(
                name,
                format!("model \"{}\" already has a layer of this name; names must be unique", self.name),
            ));
        }
        let mut k = 1;
        while taken(&format!("{base}_{k}")) {
            k += 1;
        }
        layer.set_name(format!("{base}_{k}"));
        Ok(())
    }

    /// Builds `layer` for `inputs` and moves its weights to the model's device.
    fn build_layer(&self, layer: &mut dyn Layer, inputs: &[Vec<usize>]) -> Result<Vec<usize>> {
        let shape = layer.build(inputs).map_err(|e| in_layer(layer.name(), e))?;
        for weight in layer.weights_mut() {
            weight.to_device(&self.device)?;
        }
        Ok(shape)
    }
}
