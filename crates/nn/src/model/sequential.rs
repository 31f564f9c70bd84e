//! Sequential models: a chain of layers, built from a list or one `add` at a time, whose last
//! layers can be removed (`pop`) to put a new head on a trained base.

use super::{INPUT_CLASS, Kind, Model, Node};
use crate::layers::Input;
use crate::{Layer, NnError, Result};

impl Model {
    /// Keras's `Sequential([...])`: the layers in order. The input shape comes from the first
    /// layer (`.input_shape(..)`) or a leading [`Input`]; every later shape is inferred, and a
    /// layer that cannot take the shape before it is an error naming both.
    pub fn sequential(layers: Vec<Box<dyn Layer>>) -> Result<Model> {
        let mut model = Model::empty("sequential", Kind::Sequential);
        for layer in layers {
            model.add_boxed(layer)?;
        }
        Ok(model)
    }

    /// Appends `layer` to a Sequential model, building it for the current output shape.
    pub fn add(&mut self, layer: impl Layer + 'static) -> Result<()> {
        self.add_boxed(Box::new(layer))
    }

    /// [`Model::add`] for a boxed layer (one taken out of another model by [`Model::pop`]).
    pub fn add_boxed(&mut self, layer: Box<dyn Layer>) -> Result<()> {
        self.require_sequential("add")?;
        if layer.class_name() == INPUT_CLASS {
            if !self.nodes.is_empty() {
                return Err(NnError::layer(
                    layer.name(),
                    "an Input can only be the first layer of a Sequential model",
                ));
            }
            return self.push_input(layer);
        }
        let implied_input =
            if self.nodes.is_empty() { layer.declared_input_shape().map(<[usize]>::to_vec) } else { None };
        if let Some(shape) = &implied_input {
            self.push_input(Box::new(Input::new(shape)))?;
        }
        let pushed = self.push_layer(layer);
        if pushed.is_err() && implied_input.is_some() {
            self.layers.clear();
            self.nodes.clear();
            self.inputs.clear();
            self.outputs.clear();
        }
        pushed
    }

    /// Removes the last layer of a Sequential model and returns it, with its weights.
    pub fn pop(&mut self) -> Result<Box<dyn Layer>> {
        self.require_sequential("pop")?;
        if self.nodes.len() == self.inputs.len() {
            return Err(NnError::Usage(format!("pop: model \"{}\" has no layers to remove", self.name)));
        }
        self.nodes.pop();
        self.outputs = self.nodes.len().checked_sub(1).into_iter().collect();
        self.layers.pop().ok_or_else(|| NnError::Usage("pop: no layers".into()))
    }

    /// Builds a Sequential model whose input shape was not declared, for inputs of
    /// `input_shapes` (one shape, batch axis excluded). On a built model, checks the shapes.
    pub fn build(&mut self, input_shapes: &[Vec<usize>]) -> Result<()> {
        if self.is_built() {
            if input_shapes == self.input_shapes() {
                return Ok(());
            }
            return Err(NnError::Usage(format!(
                "model \"{}\" is built for input shapes {:?}, not {input_shapes:?}",
                self.name,
                self.input_shapes()
            )));
        }
        let [shape] = input_shapes else {
            return Err(NnError::Usage(format!(
                "a Sequential model takes one input, got {} input shapes",
                input_shapes.len()
            )));
        };
        let mut input: Box<dyn Layer> = Box::new(Input::new(shape));
        self.assign_name(input.as_mut())?;
        let input_shape = input.build(&[])?;
        let mut current = input_shape.clone();
        let mut shapes = Vec::with_capacity(self.layers.len());
        for layer in &mut self.layers {
            current = layer.build(&[current]).map_err(|e| super::in_layer(layer.name(), e))?;
            shapes.push(current.clone());
        }
        // The input goes first: every node moves one place on, to read the one before it.
        for (k, (node, shape)) in self.nodes.iter_mut().zip(shapes).enumerate() {
            node.layer = k + 1;
            node.inputs = vec![k];
            node.shape = Some(shape);
        }
        self.layers.insert(0, input);
        self.nodes.insert(0, Node { layer: 0, inputs: Vec::new(), shape: Some(input_shape) });
        self.inputs = vec![0];
        self.outputs = vec![self.nodes.len() - 1];
        self.to_device(&self.device.clone())
    }

    fn require_sequential(&self, what: &str) -> Result<()> {
        if self.kind == Kind::Sequential {
            return Ok(());
        }
        Err(NnError::Usage(format!(
            "{what}: model \"{}\" is functional; only a Sequential model can {what} layers",
            self.name
        )))
    }

    /// Makes `input` the model's input.
    fn push_input(&mut self, mut input: Box<dyn Layer>) -> Result<()> {
        self.assign_name(input.as_mut())?;
        let shape = self.build_layer(input.as_mut(), &[])?;
        self.push_node(input, Vec::new(), Some(shape));
        self.inputs = vec![self.nodes.len() - 1];
        Ok(())
    }

    /// Appends `layer` after the last node, built if the model is.
    fn push_layer(&mut self, mut layer: Box<dyn Layer>) -> Result<()> {
        self.assign_name(layer.as_mut())?;
        let previous = self.nodes.len().checked_sub(1);
        let shape = match previous.and_then(|p| self.nodes[p].shape.clone()) {
            Some(input) => Some(self.build_layer(layer.as_mut(), &[input])?),
            None => None,
        };
        self.push_node(layer, previous.into_iter().collect(), shape);
        Ok(())
    }

    /// Appends `layer` as the chain's new last node and output.
    fn push_node(&mut self, layer: Box<dyn Layer>, inputs: Vec<usize>, shape: Option<Vec<usize>>) {
        self.layers.push(layer);
        self.nodes.push(Node { layer: self.layers.len() - 1, inputs, shape });
        self.outputs = vec![self.nodes.len() - 1];
    }
}
