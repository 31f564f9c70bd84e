//! Merge layers for the functional API: Add and Concatenate.

use tensor_core::Tensor;

use super::Config;
use super::base::{LayerBase, batch_shape, layer_basics, layer_builders};
use super::config::{Fields, ToValue};
use crate::{ForwardCtx, Layer, Result};

/// The input shapes of a merge layer, which needs at least one input.
fn merge_inputs<'a>(base: &LayerBase, inputs: &'a [Vec<usize>]) -> Result<&'a [Vec<usize>]> {
    if inputs.is_empty() {
        return Err(base.error("a merge layer needs at least 1 input, got none"));
    }
    Ok(inputs)
}

/// Lists shapes with their batch axis, for messages.
fn listed(inputs: &[Vec<usize>]) -> String {
    inputs.iter().map(|s| batch_shape(s)).collect::<Vec<_>>().join(", ")
}

/// The elementwise sum of its inputs, which must all have the same shape (a skip connection:
/// `Add` of a block's input and output).
pub struct Add {
    base: LayerBase,
}

impl Add {
    /// An Add layer; it takes any number of inputs of one shape.
    pub fn new() -> Add {
        Add { base: LayerBase::new("add") }
    }

    /// Keras's `Add.from_config`: the layer a [`Layer::config`] describes.
    pub fn from_config(config: &Config) -> Result<Add> {
        let mut fields = Fields::layer("Add", config);
        let mut layer = Add::new();
        layer.base.read_config(&mut fields)?;
        fields.finish()?;
        Ok(layer)
    }
}

impl Default for Add {
    fn default() -> Self {
        Self::new()
    }
}

layer_builders!(Add);

impl Layer for Add {
    layer_basics!("Add", "add");

    fn config(&self) -> Result<Config> {
        Ok(self.base.config())
    }

    fn build(&mut self, inputs: &[Vec<usize>]) -> Result<Vec<usize>> {
        let first = merge_inputs(&self.base, inputs)?[0].clone();
        if inputs.iter().any(|s| *s != first) {
            return Err(self.base.error(format!("inputs must all have one shape, got {}", listed(inputs))));
        }
        self.base.build_weights(inputs, |_| Ok(()))?;
        Ok(first)
    }

    fn forward(&self, inputs: &[Tensor], _ctx: &mut ForwardCtx<'_>) -> Result<Tensor> {
        self.base.check_inputs(inputs)?;
        let mut sum = inputs[0].clone();
        for x in &inputs[1..] {
            sum = sum.add(x)?;
        }
        Ok(sum)
    }
}

/// Its inputs joined along `axis` (the last by default, counted with the batch axis); all other
/// dimensions must agree.
pub struct Concatenate {
    base: LayerBase,
    axis: isize,
}

impl Concatenate {
    /// Concatenation along the last axis.
    pub fn new() -> Concatenate {
        Concatenate { base: LayerBase::new("concatenate"), axis: -1 }
    }

    /// The axis to join along, counted with the batch axis (-1: the last).
    pub fn axis(mut self, axis: isize) -> Self {
        self.axis = axis;
        self
    }

    /// Keras's `Concatenate.from_config`: the layer a [`Layer::config`] describes (the last
    /// axis unless it says otherwise).
    pub fn from_config(config: &Config) -> Result<Concatenate> {
        let mut fields = Fields::layer("Concatenate", config);
        let mut layer = Concatenate::new();
        fields.update("axis", &mut layer.axis)?;
        layer.base.read_config(&mut fields)?;
        fields.finish()?;
        Ok(layer)
    }
}

impl Default for Concatenate {
    fn default() -> Self {
        Self::new()
    }
}

layer_builders!(Concatenate);

impl Layer for Concatenate {
    layer_basics!("Concatenate", "concatenate");

    fn config(&self) -> Result<Config> {
        let mut config = self.base.config();
        config.insert("axis".into(), self.axis.to_value());
        Ok(config)
    }

    fn build(&mut self, inputs: &[Vec<usize>]) -> Result<Vec<usize>> {
        let first = &merge_inputs(&self.base, inputs)?[0];
        let rank = first.len() as isize + 1;
        let axis = if self.axis < 0 { self.axis + rank } else { self.axis };
        let agrees = |s: &Vec<usize>| {
            s.len() == first.len()
                && s.iter().zip(first).enumerate().all(|(i, (a, b))| i as isize + 1 == axis || a == b)
        };
        if axis < 1 || axis >= rank || !inputs.iter().all(agrees) {
            return Err(self.base.error(format!(
                "cannot concatenate shapes {} on axis {}: all must have the same rank and agree on \
                 every axis but that one (not the batch axis 0)",
                listed(inputs),
                self.axis
            )));
        }
        let mut output = first.clone();
        output[axis as usize - 1] = inputs.iter().map(|s| s[axis as usize - 1]).sum();
        self.base.build_weights(inputs, |_| Ok(()))?;
        Ok(output)
    }

    fn forward(&self, inputs: &[Tensor], _ctx: &mut ForwardCtx<'_>) -> Result<Tensor> {
        self.base.check_inputs(inputs)?;
        let refs: Vec<&Tensor> = inputs.iter().collect();
        Ok(Tensor::concat(&refs, self.axis)?)
    }
}
