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

use super::graph::sharing_copy;
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
    layer: Arc<LayerCell>,
    inputs: Vec<SymbolicTensor>,
    shape: Vec<usize>,
}

/// A layer waiting in a symbolic graph, applied at one place or several, until a model takes it.
pub(super) struct LayerCell {
    state: Mutex<CellState>,
}

struct CellState {
    /// The layer, until a model takes it.
    layer: Option<Box<dyn Layer>>,
    /// Its name, for messages once it is taken.
    name: String,
    /// The input shapes it was built for and the output shape they give, once applied.
    built: Option<(Vec<Vec<usize>>, Vec<usize>)>,
    /// Whether each model made from the graph takes a copy holding the same weights, leaving
    /// the layer for the next (a model's graph, which makes any number of models), rather than
    /// the layer itself.
    lends_copies: bool,
}

impl LayerCell {
    fn new(layer: Box<dyn Layer>) -> Arc<LayerCell> {
        let name = layer.name().to_string();
        let state = CellState { layer: Some(layer), name, built: None, lends_copies: false };
        Arc::new(LayerCell { state: Mutex::new(state) })
    }

    /// A cell for a layer of a model's graph, built for `inputs` and giving `output`, that lends
    /// each model made from the graph a copy holding its weights.
    pub(super) fn lending(
        layer: Box<dyn Layer>,
        inputs: Vec<Vec<usize>>,
        output: Vec<usize>,
    ) -> Arc<LayerCell> {
        let cell = LayerCell::new(layer);
        let mut state = cell.lock();
        state.built = Some((inputs, output));
        state.lends_copies = true;
        drop(state);
        cell
    }

    fn lock(&self) -> MutexGuard<'_, CellState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl SymbolicTensor {
    /// The shape of each sample, batch axis excluded.
    pub fn shape(&self) -> &[usize] {
        &self.node.shape
    }

    /// The name of the layer that gives this tensor.
    pub fn layer_name(&self) -> String {
        self.node.layer.lock().name.clone()
    }

    fn key(&self) -> *const SymbolicNode {
        Arc::as_ptr(&self.node)
    }

    fn is_input(&self) -> bool {
        self.node.inputs.is_empty()
    }

    /// A tensor given by the layer in `cell` applied to `inputs`.
    pub(super) fn new(
        cell: &Arc<LayerCell>,
        inputs: Vec<SymbolicTensor>,
        shape: Vec<usize>,
    ) -> SymbolicTensor {
        SymbolicTensor { node: Arc::new(SymbolicNode { layer: Arc::clone(cell), inputs, shape }) }
    }
}

impl fmt::Debug for SymbolicTensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SymbolicTensor({}, shape={:?})", self.layer_name(), self.node.shape)
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
        SharedLayer::new(self).apply(inputs)
    }
}

/// A layer to apply at several places of a graph (Keras's shared layer: the same layer object
/// called on several tensors). Every place uses the same weights, which train from the gradients
/// of all of them.
///
/// ```
/// use nn::{Apply, Concatenate, Dense, Input, Model, SharedLayer};
/// let a = Input::new(&[4]).symbolic()?;
/// let b = Input::new(&[4]).symbolic()?;
/// let encoder = SharedLayer::new(Dense::new(3));
/// let both = Concatenate::new().apply(&[&encoder.apply(&[&a])?, &encoder.apply(&[&b])?])?;
/// let model = Model::functional(&[&a, &b], &both)?;
/// assert_eq!(model.count_params().0, 4 * 3 + 3);
/// # Ok::<(), nn::NnError>(())
/// ```
#[derive(Clone)]
pub struct SharedLayer {
    cell: Arc<LayerCell>,
}

impl SharedLayer {
    /// Prepares `layer` to be applied at several places.
    pub fn new(layer: impl Layer + 'static) -> SharedLayer {
        SharedLayer::boxed(Box::new(layer))
    }

    /// [`SharedLayer::new`] for a boxed layer (one made from a config).
    pub fn boxed(layer: Box<dyn Layer>) -> SharedLayer {
        SharedLayer { cell: LayerCell::new(layer) }
    }

    /// Applies the layer to `inputs`: the first application builds it; later ones must give it
    /// inputs of the shapes it was built for.
    pub fn apply(&self, inputs: &[&SymbolicTensor]) -> Result<SymbolicTensor> {
        let shapes: Vec<Vec<usize>> = inputs.iter().map(|t| t.shape().to_vec()).collect();
        let mut state = self.cell.lock();
        let output = match &state.built {
            Some((built, output)) if *built == shapes => output.clone(),
            Some((built, _)) => {
                return Err(NnError::layer(
                    &state.name,
                    format!(
                        "was built for inputs of shape {built:?} and cannot be applied to {shapes:?}: \
                         a shared layer takes the same shapes everywhere"
                    ),
                ));
            }
            None => {
                let CellState { layer, name, .. } = &mut *state;
                let layer = layer.as_mut().ok_or_else(|| taken(name))?;
                let output = layer.build(&shapes)?;
                state.built = Some((shapes, output.clone()));
                output
            }
        };
        if state.layer.is_none() {
            return Err(taken(&state.name));
        }
        drop(state);
        Ok(SymbolicTensor::new(&self.cell, inputs.iter().map(|&t| t.clone()).collect(), output))
    }
}

/// The error for applying a layer a model already took.
fn taken(name: &str) -> NnError {
    NnError::Usage(format!(
        "layer \"{name}\" already belongs to a model; apply new layers (or take a model's graph) to build another"
    ))
}

impl Input {
    /// The symbolic tensor a functional model starts from (Keras's `keras.Input(shape)`).
    pub fn symbolic(self) -> Result<SymbolicTensor> {
        self.apply(&[])
    }
}

/// The outputs a functional model is made with: one symbolic tensor, or several in order.
pub trait Outputs {
    fn tensors(&self) -> Vec<SymbolicTensor>;
}

impl Outputs for &SymbolicTensor {
    fn tensors(&self) -> Vec<SymbolicTensor> {
        vec![(*self).clone()]
    }
}

impl Outputs for &[&SymbolicTensor] {
    fn tensors(&self) -> Vec<SymbolicTensor> {
        self.iter().map(|&t| t.clone()).collect()
    }
}

impl<const N: usize> Outputs for &[&SymbolicTensor; N] {
    fn tensors(&self) -> Vec<SymbolicTensor> {
        self.iter().map(|&t| t.clone()).collect()
    }
}

impl Outputs for &[SymbolicTensor] {
    fn tensors(&self) -> Vec<SymbolicTensor> {
        self.to_vec()
    }
}

impl Outputs for &Vec<SymbolicTensor> {
    fn tensors(&self) -> Vec<SymbolicTensor> {
        self.to_vec()
    }
}

impl Model {
    /// Keras's `Model(inputs, outputs)`: the graph from `inputs` (symbolic tensors of
    /// [`Input`]s, in the order the model will take its batches) to `outputs` (one symbolic
    /// tensor, or several: `&[&a, &b]`). The layers move into the model, so each symbolic graph
    /// makes one model; a graph made from a model ([`Model::graph`]) shares that model's weights.
    /// The model lives on the device of the first weight it finds, and moves the rest there.
    pub fn functional(inputs: &[&SymbolicTensor], outputs: impl Outputs) -> Result<Model> {
        let outputs = outputs.tensors();
        let order = graph_order(inputs, &outputs)?;
        let mut cells: Vec<&Arc<LayerCell>> = Vec::new();
        let mut layer_of: HashMap<*const LayerCell, usize> = HashMap::new();
        for tensor in &order {
            let cell = &tensor.node.layer;
            layer_of.entry(Arc::as_ptr(cell)).or_insert_with(|| {
                cells.push(cell);
                cells.len() - 1
            });
        }
        // Take the layers only once all of them are known to be there, so a failure consumes none.
        let mut guards: Vec<_> = cells.iter().map(|c| c.lock()).collect();
        if let Some(state) = guards.iter().find(|g| g.layer.is_none()) {
            return Err(taken(&state.name));
        }
        // Copies first: making one can fail, and a failure must consume no layer.
        let copies = guards
            .iter()
            .map(|state| match (&state.layer, &state.built) {
                (Some(layer), Some((inputs, _))) if state.lends_copies => {
                    sharing_copy(layer.as_ref(), inputs).map(Some)
                }
                _ => Ok(None),
            })
            .collect::<Result<Vec<_>>>()?;
        let layers: Vec<Box<dyn Layer>> = guards
            .iter_mut()
            .zip(copies)
            .filter_map(|(state, copy)| copy.or_else(|| state.layer.take()))
            .collect();
        drop(guards);
        let position: HashMap<*const SymbolicNode, usize> =
            order.iter().enumerate().map(|(i, t)| (t.key(), i)).collect();
        let mut model = Model::empty("functional", Kind::Functional);
        for mut layer in layers {
            model.assign_name(layer.as_mut())?;
            model.layers.push(layer);
        }
        model.nodes = order
            .iter()
            .map(|t| Node {
                layer: layer_of[&Arc::as_ptr(&t.node.layer)],
                inputs: t.node.inputs.iter().map(|i| position[&i.key()]).collect(),
                shape: Some(t.shape().to_vec()),
            })
            .collect();
        model.inputs = inputs.iter().map(|t| position[&t.key()]).collect();
        model.outputs = outputs.iter().map(|t| position[&t.key()]).collect();
        let device = model.layers.iter().flat_map(|l| l.weights()).map(|w| w.value().device().clone()).next();
        if let Some(device) = device {
            model.to_device(&device)?;
        }
        Ok(model)
    }
}

/// The nodes between `inputs` and `outputs` in topological order: the inputs first (in their
/// order). Errors for an input that is not an Input, one listed twice, and for inputs the
/// outputs do not depend on or inputs they depend on that are not listed.
fn graph_order(inputs: &[&SymbolicTensor], outputs: &[SymbolicTensor]) -> Result<Vec<SymbolicTensor>> {
    if outputs.is_empty() {
        return Err(NnError::Usage("functional: a model needs at least one output".into()));
    }
    let listed: HashMap<*const SymbolicNode, usize> =
        inputs.iter().enumerate().map(|(k, t)| (t.key(), k)).collect();
    if listed.len() != inputs.len() {
        return Err(NnError::Usage("functional: an input is listed twice".into()));
    }
    for (k, x) in inputs.iter().enumerate() {
        let is_input_layer = x.node.layer.lock().layer.as_ref().is_none_or(|l| l.class_name() == INPUT_CLASS);
        if !x.is_input() || !is_input_layer {
            return Err(NnError::Usage(format!(
                "functional: input {k} ({}) is not an Input; start the graph from Input::new(..).symbolic()",
                x.layer_name()
            )));
        }
    }
    // Depth-first post-order from the outputs, without recursion (graphs can be deep).
    let mut order: Vec<SymbolicTensor> = Vec::new();
    let mut seen: HashSet<*const SymbolicNode> = HashSet::new();
    let mut stack: Vec<(SymbolicTensor, bool)> = outputs.iter().rev().map(|t| (t.clone(), false)).collect();
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
                "functional: an output depends on input {} of shape {:?}, which is not among the \
                 model's inputs",
                tensor.layer_name(),
                tensor.shape()
            )));
        }
        stack.push((tensor.clone(), true));
        for input in tensor.node.inputs.iter().rev() {
            stack.push((input.clone(), false));
        }
    }
    if let Some((k, _)) = inputs.iter().enumerate().find(|(_, t)| !seen.contains(&t.key())) {
        return Err(NnError::Usage(format!("functional: no output depends on input {k}")));
    }
    // Inputs first, in the caller's order; the rest keeps its topological order.
    order.sort_by_key(|t| listed.get(&t.key()).map_or(inputs.len(), |&k| k));
    Ok(order)
}
