//! Keras's `get_weights` / `set_weights` for models and layers, and the optimizer's state as the
//! user may read it: weights' values as copies, in and out, checked against what they replace.

use tensor_core::{Device, Tensor};

use crate::io::named_weights;
use crate::{Layer, Model, NnError, Result, Weight};

/// A copy of `value` on the CPU that later updates of the weight do not reach (what Keras's
/// NumPy arrays are).
fn host_copy(value: &Tensor) -> Result<Tensor> {
    if value.device() != &Device::Cpu {
        return Ok(value.to(&Device::Cpu)?);
    }
    let copy = value.zeros_like()?;
    copy.assign(value)?;
    Ok(copy)
}

/// Copies of the values of `weights`, in order, on the CPU.
fn values_of(weights: &[&Weight]) -> Result<Vec<Tensor>> {
    weights.iter().map(|w| host_copy(w.value())).collect()
}

/// Assigns `values` to `weights` in order (converted to each weight's dtype and device), after
/// checking that there is one value per weight and that every shape matches: nothing is written
/// unless everything fits. `owner` names the layer or model in errors.
fn assign_values(owner: &str, weights: &[(String, &Weight)], values: &[Tensor]) -> Result<()> {
    if values.len() != weights.len() {
        return Err(NnError::Usage(format!(
            "set_weights on {owner}: expected {} arrays (one per weight: {}), got {}",
            weights.len(),
            weights.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>().join(", "),
            values.len()
        )));
    }
    for ((name, weight), value) in weights.iter().zip(values) {
        if value.shape() != weight.value().shape() {
            return Err(NnError::Usage(format!(
                "set_weights on {owner}: weight {name} has shape {}, got an array of shape {}",
                weight.value().shape(),
                value.shape()
            )));
        }
    }
    let converted = weights
        .iter()
        .zip(values)
        .map(|((_, weight), value)| {
            Ok(value.to_dtype(weight.value().dtype())?.to(weight.value().device())?)
        })
        .collect::<Result<Vec<_>>>()?;
    for ((_, weight), value) in weights.iter().zip(&converted) {
        weight.assign(value)?;
    }
    Ok(())
}

/// [`Layer::get_weights`].
pub(crate) fn layer_values(layer: &(impl Layer + ?Sized)) -> Result<Vec<Tensor>> {
    values_of(&layer.weights())
}

/// [`Layer::set_weights`].
pub(crate) fn set_layer_values(layer: &(impl Layer + ?Sized), values: &[Tensor]) -> Result<()> {
    let weights: Vec<(String, &Weight)> =
        layer.weights().into_iter().map(|w| (w.name().to_string(), w)).collect();
    assign_values(&format!("layer \"{}\"", layer.name()), &weights, values)
}

impl Model {
    /// Keras's `model.get_weights()`: copies of every weight's value (trainable and not), in
    /// [`Model::weights`] order, on the CPU.
    pub fn get_weights(&self) -> Result<Vec<Tensor>> {
        values_of(&self.weights())
    }

    /// Keras's `model.set_weights()`: one value per weight in [`Model::weights`] order, each of
    /// the weight's shape; nothing is written unless all fit.
    pub fn set_weights(&self, values: &[Tensor]) -> Result<()> {
        assign_values(&format!("model \"{}\"", self.name()), &named_weights(self), values)
    }

    /// The compiled optimizer's state as copies on the CPU: its step count (Keras's
    /// `optimizer.iterations`) and each slot tensor, named "layer/weight/slot" ("dense/kernel/
    /// momentum", ...), in weight order. A weight has slots from its first update on.
    pub fn optimizer_state(&self) -> Result<(u64, Vec<(String, Tensor)>)> {
        let optimizer = &self.require_compiled("optimizer_state")?.optimizer;
        let mut slots = Vec::new();
        for (name, weight) in named_weights(self) {
            for (slot, tensor) in optimizer.slots(weight.id()) {
                slots.push((format!("{name}/{slot}"), host_copy(tensor)?));
            }
        }
        Ok((optimizer.iterations(), slots))
    }
}
