//! Building the model a file's architecture declares with every weight checked against the
//! file's tensors before it is allocated: each weight must be filled by one tensor of the file of
//! exactly its shape, so a weight larger than every tensor there, or of another shape than the
//! tensor of its name, can never load and is refused before the layer holding it is built.

use std::collections::HashMap;

use tensor_core::Shape;

use super::tensors::File;
use crate::layers::{batch_free_shape, with_weight_gate};
use crate::{Model, NnError, Result};

/// The model `architecture` (JSON) describes, built with every weight checked against `file`'s
/// tensor shapes first; an error names the layer, the weight and both sizes.
pub(super) fn build_declared_model(architecture: &str, file: &File<'_>) -> Result<Model> {
    let shapes: HashMap<String, Vec<usize>> =
        file.names().into_iter().filter_map(|name| Some((name.to_string(), file.shape(name)?))).collect();
    let largest = shapes.values().map(|s| element_count(s)).max().unwrap_or(0);
    with_weight_gate(
        move |layer, weight, shape| check_declared(&shapes, largest, layer, weight, shape),
        || Model::from_json(architecture),
    )
}

/// Refuses the weight `layer/weight` of `shape` if no tensor of the file can fill it.
fn check_declared(
    shapes: &HashMap<String, Vec<usize>>,
    largest: usize,
    layer: &str,
    weight: &str,
    shape: &[usize],
) -> Result<()> {
    let declared = batch_free_shape(shape);
    let elements = element_count(shape);
    let refuse = |detail: String| Err(NnError::layer(layer, detail));
    match shapes.get(&format!("{layer}/{weight}")) {
        Some(stored) if stored.as_slice() != shape => refuse(format!(
            "the architecture declares weight {weight} of shape {declared} ({elements} elements), but the file's \
             tensor {layer}/{weight} has shape {} ({} elements)",
            batch_free_shape(stored),
            element_count(stored)
        )),
        // A weight of another name must still match some tensor, so none may exceed the largest.
        _ => check_not_larger(largest, layer, weight, shape),
    }
}

/// Refuses the weight `layer/weight` of `shape` if it has more elements than `largest`, the
/// largest tensor of the file that is to fill it.
pub(super) fn check_not_larger(largest: usize, layer: &str, weight: &str, shape: &[usize]) -> Result<()> {
    let elements = element_count(shape);
    if elements <= largest {
        return Ok(());
    }
    Err(NnError::layer(
        layer,
        format!(
            "the architecture declares weight {weight} of shape {} ({elements} elements), larger than any \
             tensor in the file (the largest has {largest} elements)",
            batch_free_shape(shape)
        ),
    ))
}

/// The element count of `shape`, saturating: a count past `usize::MAX` exceeds every tensor.
fn element_count(shape: &[usize]) -> usize {
    Shape::from(shape).numel()
}
