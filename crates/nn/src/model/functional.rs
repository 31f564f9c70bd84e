//! The functional API: layers applied to symbolic tensors record a graph, and
//! `Model::functional(inputs, output)` turns the part between them into a model.
//!
//! ```
//! use nn::{Add, Apply, Dense, Input, Model};
//! let x = Input::new(&[8]).symbolic()?;
//! let h = Dense::new(8).activation("relu").apply(&[&x])?;
//! let skip = Add::new().apply(&[&x, &h])?;
//! let y = Dense::new(2).activation("softmax").apply(&[&skip])?;
//! let model = Model::functional(&[&x], &y)?;
//! assert_eq!(model.output_shape(), vec![2]);
//! # Ok::<(), nn::NnError>(())
//! ```

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use super::{INPUT_CLASS, Kind, Model, Node};
use crate::layers::Input;
use crate::{Layer, NnError, Result};

/// What a layer applied to symbolic tensors gives: a placeholder for the batches that will flow
/// there, with their shape (Keras's `KerasTensor`). It remembers the layer and its inputs.
#[derive(Clone)]
pub struct SymbolicTensor {
    node: Arc<SymbolicNode>,
}

struct SymbolicNode {
    /// The built layer, until a model takes it.
    layer: Mutex<Option<Box<dyn Layer>>>,
    inputs: Vec<SymbolicTensor>,
    shape: Vec<usize>,
}

impl SymbolicNode {
    fn layer(&self) -> MutexGuard<'_, Option<Box<dyn Layer>>> {
        self.layer.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The layer's name, for messages ("?" once a model has taken it).
    fn layer_name(&self) -> String {
        self.layer().as_ref().map_or_else(|| "?".to_string(), |l| l.name().to_string())
    }
}

impl SymbolicTensor {
    /// The shape of each sample, batch axis excluded.
    pub fn shape(&self) -> &[usize] {
        &self.node.shape
    }

    fn key(&self) -> *const SymbolicNode {
        Arc::as_ptr(&self.node)
    }

    fn is_input(&self) -> bool {
        self.node.inputs.is_empty()
    }
}

impl fmt::Debug for SymbolicTensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SymbolicTensor({}, shape={:?})", self.node.layer_name(), self.node.shape)
    }
}

/// Applying a layer to symbolic tensors (Keras's `layer(x)`): builds the layer for their
/// shapes and gives its symbolic output.
pub trait Apply {
    /// Builds the layer for the shapes of `inputs` and gives the symbolic tensor it outputs.
    fn apply(self, inputs: &[&SymbolicTensor]) -> Result<SymbolicTensor>;
}

impl<L: Layer + 'static> Apply for L {
    fn apply(self, inputs: &[&SymbolicTensor]) -> Result<SymbolicTensor> {
        apply_layer(Box::new(self), inputs)
    }
}

/// [`Apply::apply`] for a layer of any class (one made from a config).
pub(super) fn apply_layer(mut layer: Box<dyn Layer>, inputs: &[&SymbolicTensor]) -> Result<SymbolicTensor> {
    let shapes: Vec<Vec<usize>> = inputs.iter().map(|t| t.shape().to_vec()).collect();
    let shape = layer.build(&shapes)?;
    let inputs = inputs.iter().map(|&t| t.clone()).collect();
    Ok(SymbolicTensor { node: Arc::new(SymbolicNode { layer: Mutex::new(Some(layer)), inputs, shape }) })
}

impl Input {
    /// The symbolic tensor a functional model starts from (Keras's `keras.Input(shape)`).
    pub fn symbolic(self) -> Result<SymbolicTensor> {
        self.apply(&[])
    }
}

impl Model {
    /// Keras's `Model(inputs, outputs)`: the graph from `inputs` (symbolic tensors of
    /// [`Input`]s, in the order the model will take its batches) to `output`. The layers move
    /// into the model, so each symbolic graph makes one model.
    pub fn functional(inputs: &[&SymbolicTensor], output: &SymbolicTensor) -> Result<Model> {
        let order = graph_order(inputs, output)?;
        // Take the layers only once all of them are known to be there, so a failure consumes none.
        let mut guards: Vec<_> = order.iter().map(|t| t.node.layer()).collect();
        if let Some(k) = guards.iter().position(|g| g.is_none()) {
            return Err(NnError::Usage(format!(
                "functional: the layer giving the symbolic tensor of shape {:?} already belongs to a \
                 model; apply new layers to build another",
                order[k].shape()
            )));
        }
        let layers: Vec<Box<dyn Layer>> = guards.iter_mut().filter_map(|g| g.take()).collect();
        drop(guards);
        let position: HashMap<*const SymbolicNode, usize> =
            order.iter().enumerate().map(|(i, t)| (t.key(), i)).collect();
        let mut model = Model::empty("functional", Kind::Functional);
        for (tensor, mut layer) in order.iter().zip(layers) {
            model.assign_name(layer.as_mut())?;
            let node_inputs = tensor.node.inputs.iter().map(|t| position[&t.key()]).collect();
            model.nodes.push(Node { layer, inputs: node_inputs, shape: Some(tensor.shape().to_vec()) });
        }
        model.inputs = inputs.iter().map(|t| position[&t.key()]).collect();
        Ok(model)
    }
}

/// The nodes between `inputs` and `output` in topological order: the inputs first (in their
/// order), the output last. Errors for an input that is not an Input, one listed twice, and for
/// inputs the output does not depend on or inputs it depends on that are not listed.
fn graph_order(inputs: &[&SymbolicTensor], output: &SymbolicTensor) -> Result<Vec<SymbolicTensor>> {
    let listed: HashMap<*const SymbolicNode, usize> =
        inputs.iter().enumerate().map(|(k, t)| (t.key(), k)).collect();
    if listed.len() != inputs.len() {
        return Err(NnError::Usage("functional: an input is listed twice".into()));
    }
    for (k, x) in inputs.iter().enumerate() {
        let is_input_layer = x.node.layer().as_ref().is_none_or(|l| l.class_name() == INPUT_CLASS);
        if !x.is_input() || !is_input_layer {
            return Err(NnError::Usage(format!(
                "functional: input {k} ({}) is not an Input; start the graph from Input::new(..).symbolic()",
                x.node.layer_name()
            )));
        }
    }
    // Depth-first post-order from the output, without recursion (graphs can be deep).
    let mut order: Vec<SymbolicTensor> = Vec::new();
    let mut seen: HashSet<*const SymbolicNode> = HashSet::new();
    let mut stack: Vec<(SymbolicTensor, bool)> = vec![(output.clone(), false)];
    while let Some((tensor, expanded)) = stack.pop() {
        if expanded {
            order.push(tensor);
            continue;
        }
        if !seen.insert(tensor.key()) {
            continue;
        }
        if tensor.is_input() && !listed.contains_key(&tensor.key()) {
            return Err(NnError::Usage(format!(
                "functional: the output depends on input {} of shape {:?}, which is not among the \
                 model's inputs",
                tensor.node.layer_name(),
                tensor.shape()
            )));
        }
        stack.push((tensor.clone(), true));
        for input in tensor.node.inputs.iter().rev() {
            stack.push((input.clone(), false));
        }
    }
    if let Some((k, _)) = inputs.iter().enumerate().find(|(_, t)| !seen.contains(&t.key())) {
        return Err(NnError::Usage(format!("functional: the output does not depend on input {k}")));
    }
    // Inputs first, in the caller's order; the rest keeps its topological order.
    order.sort_by_key(|t| listed.get(&t.key()).map_or(inputs.len(), |&k| k));
    Ok(order)
}
