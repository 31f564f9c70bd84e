//! Weights from Keras's files into a built model, layer by layer: which of the file's layers
//! fills which of the model's (by name, or in order as legacy files allow), each checked for
//! its weight count and shapes before anything is assigned.

use super::h5::H5;
use crate::{Layer, Model, Result, Weight};
use tensor_core::Tensor;

/// How [`super::load_keras_weights`] matches the file's layers to the model's: Keras's
/// `load_weights(by_name=..., skip_mismatch=...)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KerasWeightsOptions {
    /// Legacy files: fill only the model's layers whose name the file has, leaving the others as
    /// they are and ignoring the file's other layers (for transfer learning); without it, the
    /// file's layers fill the model's in order. Keras 3 files key layers by class and position
    /// (`dense`, `dense_1`, ...) rather than by name, and, as in Keras 3, refuse it.
    pub by_name: bool,
    /// Leave a layer as it is, with a warning, when the file's weights for it differ in count
    /// or shape, instead of refusing the file.
    pub skip_mismatch: bool,
}

/// One layer of a weight file: its name and the datasets of its weights, in the layer's order.
pub(super) struct FileLayer {
    pub(super) name: String,
    pub(super) datasets: Vec<String>,
}

/// How the file's layers are matched to the model's.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Matching {
    /// Keras 3: by the key of each layer's class and position among the model's layers of its
    /// class (`dense`, `dense_1`, ...; Keras addresses layers so because names vary between two
    /// instances of one model).
    Keys,
    /// Legacy files: by the order of the layers that hold weights, or by name with `by_name`.
    Legacy,
}

/// The layers of a Keras 3 weights layout under `prefix` (`layers/<key>/vars/<i>`) that hold
/// weights, by key.
pub(super) fn keras3_layers(h5: &H5, prefix: &str) -> Result<Vec<FileLayer>> {
    let mut layers = Vec::new();
    for name in h5.groups(prefix)? {
        let vars = format!("{prefix}/{name}/vars");
        if !h5.has_group(&vars) {
            continue;
        }
        let datasets = numbered_datasets(h5, &vars)?;
        if !datasets.is_empty() {
            layers.push(FileLayer { name, datasets });
        }
    }
    Ok(layers)
}

/// The datasets `0`, `1`, ... of `group` in number order (Keras 3 names variables by index).
pub(super) fn numbered_datasets(h5: &H5, group: &str) -> Result<Vec<String>> {
    let names = h5.datasets(group)?;
    (0..names.len())
        .map(|i| {
            let name = i.to_string();
            if names.contains(&name) {
                Ok(format!("{group}/{name}"))
            } else {
                Err(h5.error(format!("group {group} holds {} variables but none named {name}", names.len())))
            }
        })
        .collect()
}

/// The layers of a legacy weights layout under `group` (its `layer_names` attribute, each
/// layer's `weight_names`) that hold weights, in the file's order.
pub(super) fn legacy_layers(h5: &H5, group: &str) -> Result<Vec<FileLayer>> {
    let names = h5.strings_attr(group, "layer_names")?.ok_or_else(|| {
        h5.error(format!(
            "group {} has no layer_names attribute; expected a Keras weight file",
            display(group)
        ))
    })?;
    let mut layers = Vec::new();
    for name in names {
        let layer = join(group, &name);
        let weights = h5
            .strings_attr(&layer, "weight_names")?
            .ok_or_else(|| h5.error(format!("layer group {layer} has no weight_names attribute")))?;
        if !weights.is_empty() {
            let datasets = weights.iter().map(|w| join(&layer, w)).collect();
            layers.push(FileLayer { name, datasets });
        }
    }
    Ok(layers)
}

/// `parent/child`, where the root group is "/".
pub(super) fn join(parent: &str, child: &str) -> String {
    match parent {
        "/" | "" => child.to_string(),
        parent => format!("{parent}/{child}"),
    }
}

fn display(group: &str) -> &str {
    if group.is_empty() { "/" } else { group }
}

/// Keras 3's key of each of `layers`: its class in snake case, numbered from the second layer
/// of that class on.
pub(super) fn keras3_keys(layers: &[&dyn Layer]) -> Vec<String> {
    let mut used: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    layers
        .iter()
        .map(|layer| {
            let class = snake_case(layer.class_name());
            let count = used.entry(class.clone()).and_modify(|n| *n += 1).or_insert(0);
            if *count == 0 { class } else { format!("{class}_{count}") }
        })
        .collect()
}

/// Keras's `to_snake_case`: `_` before each capitalised word after the first character
/// (`MaxPooling2D` → `Max_Pooling2D`) and between a lower-case letter and a capital, then
/// lower case (`PReLU` → `p_re_lu`).
fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().filter(|c| c.is_alphanumeric() || *c == '_').collect();
    let mut words = String::new();
    let mut i = 0;
    while i < chars.len() {
        words.push(chars[i]);
        let word_follows = chars.get(i + 1).is_some_and(char::is_ascii_uppercase)
            && chars.get(i + 2).is_some_and(char::is_ascii_lowercase);
        i += 1;
        if word_follows {
            words.push('_');
            words.push(chars[i]);
            i += 1;
            while i < chars.len() && chars[i].is_ascii_lowercase() {
                words.push(chars[i]);
                i += 1;
            }
        }
    }
    let mut out = String::new();
    let mut previous = None;
    for c in words.chars() {
        if previous.is_some_and(|p: char| p.is_ascii_lowercase()) && c.is_ascii_uppercase() {
            out.push('_');
        }
        out.push(c);
        previous = Some(c);
    }
    out.to_lowercase()
}

/// Fills the weights of `model` from `file_layers` of `h5`, matched as `matching` and
/// `options` say. Nothing is assigned unless every matched layer reads; the layers
/// `skip_mismatch` left alone are returned, each with why.
pub(super) fn assign(
    model: &Model,
    h5: &H5,
    file_layers: &[FileLayer],
    options: KerasWeightsOptions,
    matching: Matching,
) -> Result<Vec<String>> {
    let all: Vec<&dyn Layer> =
        model.layers().into_iter().filter(|l| l.class_name() != "InputLayer").collect();
    let has_weights = |l: &&dyn Layer| !l.weights().is_empty();
    let layers: Vec<&dyn Layer> = all.iter().copied().filter(has_weights).collect();
    let pairs: Vec<(&dyn Layer, &FileLayer)> = if matching == Matching::Keys {
        if options.by_name {
            return Err(h5.error(
                "is a Keras 3 weights file, which keys layers by class and position, not by name; by_name \
                 applies to legacy HDF5 files (as in Keras 3)",
            ));
        }
        let keys = keras3_keys(&all);
        let mut pairs = Vec::new();
        for (layer, key) in all.iter().zip(&keys).filter(|(l, _)| has_weights(l)) {
            let file_layer = file_layers.iter().find(|f| &f.name == key).ok_or_else(|| {
                h5.error(format!(
                    "has no weights for layer {} (Keras 3 keeps them under layers/{key})",
                    layer.name()
                ))
            })?;
            pairs.push((*layer, file_layer));
        }
        pairs
    } else if options.by_name {
        layers.iter().filter_map(|l| Some((*l, file_layers.iter().find(|f| f.name == l.name())?))).collect()
    } else {
        if layers.len() != file_layers.len() {
            return Err(h5.error(format!(
                "holds weights for {} layers, the model has {} layers with weights (load by_name to match \
                 layers by name)",
                file_layers.len(),
                layers.len()
            )));
        }
        layers.iter().copied().zip(file_layers).collect()
    };
    let mut values: Vec<(&Weight, Tensor)> = Vec::new();
    let mut skipped = Vec::new();
    for &(layer, file_layer) in &pairs {
        match read_layer(h5, layer, file_layer) {
            Ok(read) => values.extend(read),
            Err(mismatch) if options.skip_mismatch => {
                log::warn!("skipping layer {}: {mismatch}", layer.name());
                skipped.push(format!("{}: {mismatch}", layer.name()));
            }
            Err(mismatch) => return Err(mismatch),
        }
    }
    // Checked after the shapes, whose errors say more about a file of another model.
    if matching == Matching::Keys
        && let Some(extra) = file_layers.iter().find(|f| !pairs.iter().any(|(_, p)| p.name == f.name))
    {
        return Err(
            h5.error(format!("has weights under layers/{}, for a layer the model does not have", extra.name))
        );
    }
    for (weight, value) in values {
        weight.assign(&value)?;
    }
    Ok(skipped)
}

/// The values of `layer`'s weights from `file_layer`'s datasets, which must match in count and
/// shapes.
fn read_layer<'m>(
    h5: &H5,
    layer: &'m dyn Layer,
    file_layer: &FileLayer,
) -> Result<Vec<(&'m Weight, Tensor)>> {
    let weights = layer.weights();
    if weights.len() != file_layer.datasets.len() {
        return Err(h5.error(format!(
            "{} has {} weights in the file (as {}), the model's layer {} has {}",
            file_layer.name,
            file_layer.datasets.len(),
            file_layer.datasets.join(", "),
            layer.name(),
            weights.len()
        )));
    }
    weights
        .into_iter()
        .zip(&file_layer.datasets)
        .map(|(weight, dataset)| {
            let what = format!("weight {} of layer {}", weight.name(), layer.name());
            Ok((weight, h5.tensor_like(dataset, weight.value(), &what)?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn class_names_in_snake_case_as_keras_writes_them() {
        for (class, key) in [
            ("Dense", "dense"),
            ("Conv2D", "conv2d"),
            ("BatchNormalization", "batch_normalization"),
            ("MaxPooling2D", "max_pooling2d"),
            ("PReLU", "p_re_lu"),
            ("LeakyReLU", "leaky_re_lu"),
            ("SimpleRNN", "simple_rnn"),
            ("GlobalAveragePooling2D", "global_average_pooling2d"),
            ("GlobalMaxPooling2D", "global_max_pooling2d"),
            ("SpatialDropout2D", "spatial_dropout2d"),
            ("DepthwiseConv2D", "depthwise_conv2d"),
            ("ZeroPadding2D", "zero_padding2d"),
        ] {
            assert_eq!(super::snake_case(class), key);
        }
    }
}
