//! Keras 3's files written from a tessera model: `.keras` archives (`config.json`,
//! `metadata.json`, `model.weights.h5`) and `.weights.h5` files, in the layout Keras 3 writes:
//! the crate's config translated back into Keras's (the reverse of [`super::config`]),
//! each layer's weights under `layers/<key>/vars/<i>` and, for a model trained with Adam or SGD,
//! the optimizer's variables under `optimizer/vars/<i>`. Both go through `write_atomically`.

use std::io::{Cursor, Write};
use std::path::Path;

use hdf5_pure::{AttrValue, FileBuilder, GroupBuilder};
use serde_json::{Value, json};
use tensor_core::{DType, Tensor};

use super::super::{io_error, write_atomically};
use super::weights::keras3_keys;
use crate::layers::Config;
use crate::{Layer, Model, NnError, Result};

/// The Keras version whose layout these files follow (Keras reads it from `metadata.json`).
const KERAS_VERSION: &str = "3.15.1";

/// Optimizers whose variables tessera orders as Keras does (step count, learning rate, then
/// each trainable weight's slots in turn).
const ORDERED_OPTIMIZERS: &[&str] = &["Adam", "SGD"];

/// Keras's `model.save_weights("model.weights.h5")`: every weight of `model` in Keras 3's
/// layout, for Keras's `load_weights` or [`super::load_keras_weights`].
pub fn save_keras_weights(model: &Model, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    write_atomically(path, &weights_file(model, path)?)
}

/// Keras's `model.save("model.keras")`: the architecture, the weights and, for a compiled
/// model, its compile settings and optimizer state, for Keras's `load_model` or
/// [`super::load_keras`]. An error if a layer has a setting Keras cannot read back (a
/// parametrised activation, a loss from logits).
pub fn save_keras(model: &Model, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let config = keras_config(model)?.to_string();
    let metadata = json!({"keras_version": KERAS_VERSION}).to_string();
    let weights = weights_file(model, path)?;
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    // Keras stores its members uncompressed; so does this.
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let zip_error = |e: &dyn std::fmt::Display| io_error(path, format!("writing the archive: {e}"));
    for (name, bytes) in [
        ("metadata.json", metadata.as_bytes()),
        ("config.json", config.as_bytes()),
        ("model.weights.h5", &weights),
    ] {
        zip.start_file(name, options).map_err(|e| zip_error(&e))?;
        zip.write_all(bytes).map_err(|e| zip_error(&e))?;
    }
    let bytes = zip.finish().map_err(|e| zip_error(&e))?.into_inner();
    write_atomically(path, &bytes)
}

/// The HDF5 bytes of `model`'s weights (and optimizer variables) in Keras 3's layout.
fn weights_file(model: &Model, path: &Path) -> Result<Vec<u8>> {
    let layers: Vec<&dyn Layer> =
        model.layers().into_iter().filter(|l| l.class_name() != "InputLayer").collect();
    let mut file = FileBuilder::new();
    let mut group = file.create_group("layers");
    for (layer, key) in layers.iter().zip(keras3_keys(&layers)) {
        let values: Vec<Tensor> = layer.weights().iter().map(|w| w.value().clone()).collect();
        let mut entry = group.create_group(&key);
        let finished = vars(entry.create_group("vars"), layer.name(), &values)?;
        entry.add_group(finished);
        group.add_group(entry.finish());
    }
    file.add_group(group.finish());
    if let Some(variables) = optimizer_variables(model)? {
        let mut group = file.create_group("optimizer");
        let finished = vars(group.create_group("vars"), &variables.0, &variables.1)?;
        group.add_group(finished);
        file.add_group(group.finish());
    }
    let finished = vars(file.create_group("vars"), model.name(), &[])?;
    file.add_group(finished);
    file.finish().map_err(|e| io_error(path, format!("writing HDF5: {e}")))
}

/// The `vars` group `vars`, named `name`, holding `values` as datasets `0`, `1`, ...
fn vars(mut vars: GroupBuilder, name: &str, values: &[Tensor]) -> Result<hdf5_pure::FinishedGroup> {
    vars.set_attr("name", AttrValue::VarLenString(name.to_string()));
    for (i, value) in values.iter().enumerate() {
        let shape: Vec<u64> = value.dims().iter().map(|&d| d as u64).collect();
        let dataset = vars.create_dataset(&i.to_string());
        match value.dtype() {
            // f16 values are stored widened, exactly.
            DType::F16 | DType::F32 => dataset.with_f32_data(&value.to_dtype(DType::F32)?.to_vec::<f32>()?),
            DType::F64 => dataset.with_f64_data(&value.to_vec::<f64>()?),
        }
        .with_shape(&shape);
    }
    Ok(vars.finish())
}

/// The optimizer's name and variables in Keras's order, when Keras can take them: a compiled
/// model trained with Adam or SGD, every trainable weight with its slots.
fn optimizer_variables(model: &Model) -> Result<Option<(String, Vec<Tensor>)>> {
    let Some(training) = model.training_config() else { return Ok(None) };
    let class_name = training.get("optimizer").and_then(|o| o.get("class_name")).and_then(Value::as_str);
    let Some(class_name) = class_name.filter(|c| ORDERED_OPTIMIZERS.contains(c)) else {
        log::warn!(
            "the optimizer's state is written for Adam and SGD only; Keras will start this one afresh"
        );
        return Ok(None);
    };
    let (iterations, slots) = model.optimizer_state()?;
    let trainable = model.trainable_weights().len();
    let updated: std::collections::HashSet<&str> =
        slots.iter().filter_map(|(name, _)| name.rsplit_once('/').map(|(weight, _)| weight)).collect();
    if updated.len() != trainable {
        // Before the first step (or with a frozen layer thawed since) some weights have no
        // slots yet, and Keras expects them for all.
        return Ok(None);
    }
    let mut values = vec![
        Tensor::from_vec(vec![iterations as f64], Vec::<usize>::new(), &tensor_core::Device::Cpu)?,
        Tensor::from_vec(
            vec![model.learning_rate()? as f32],
            Vec::<usize>::new(),
            &tensor_core::Device::Cpu,
        )?,
    ];
    values.extend(slots.into_iter().map(|(_, tensor)| tensor));
    Ok(Some((class_name.to_lowercase(), values)))
}

/// The Keras 3 config of `model`, with its compile settings if it is compiled.
fn keras_config(model: &Model) -> Result<Value> {
    let mut config = keras_model(&model.architecture()?, &model.node_shapes())?;
    if let (Some(training), Value::Object(config)) = (model.training_config(), &mut config) {
        config.insert("compile_config".into(), compile_config(&training)?);
    }
    Ok(config)
}

/// The output shape of each node of a model, by layer name and application index.
type NodeShapes = std::collections::HashMap<(String, usize), Vec<usize>>;

/// A model's architecture in the crate's form as Keras writes it; `shapes` are its nodes'.
fn keras_model(architecture: &Config, shapes: &NodeShapes) -> Result<Value> {
    let class_name = architecture.get("class_name").and_then(Value::as_str).unwrap_or_default();
    let config = architecture.get("config").and_then(Value::as_object).cloned().unwrap_or_default();
    let name = config.get("name").cloned().unwrap_or(Value::Null);
    let entries = config.get("layers").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut layers = Vec::with_capacity(entries.len() + 1);
    for (i, entry) in entries.iter().enumerate() {
        let mut entry = entry.as_object().cloned().unwrap_or_default();
        let inbound = entry.remove("inbound_nodes");
        let layer_class = entry.get("class_name").and_then(Value::as_str).unwrap_or_default().to_string();
        let mut layer_config = entry.get("config").and_then(Value::as_object).cloned().unwrap_or_default();
        // A Sequential model's input shape, declared on its first layer: Keras keeps an Input.
        if let Some(shape) = layer_config.remove("batch_input_shape")
            && class_name == "Sequential"
            && i == 0
        {
            layers.push(keras_layer("InputLayer", &Config::from_iter([("batch_shape".to_string(), shape)]))?);
        }
        let mut layer = match layer_class.as_str() {
            // A nested model's node shapes are its own, which Keras's Sequential does not need.
            "Sequential" => keras_model(&entry, &NodeShapes::new())?,
            "Functional" => {
                return Err(NnError::Config(format!(
                    "model \"{}\": a functional model nested in another is not written to Keras files",
                    layer_config.get("name").and_then(Value::as_str).unwrap_or_default()
                )));
            }
            _ => keras_layer(&layer_class, &layer_config)?,
        };
        if let (Some(Value::Array(nodes)), Value::Object(layer)) = (inbound, &mut layer) {
            let name = layer_config.get("name").cloned().unwrap_or(Value::Null);
            layer.insert("name".into(), name);
            // An Input's one application reads nothing; Keras lists no node for it.
            let nodes = nodes.iter().filter(|n| n.as_array().is_some_and(|sources| !sources.is_empty()));
            let nodes = nodes.map(|node| keras_node(node, shapes)).collect::<Result<Vec<_>>>()?;
            layer.insert("inbound_nodes".into(), Value::Array(nodes));
        }
        layers.push(layer);
    }
    let mut out = json!({"name": name, "trainable": true, "dtype": policy("float32"), "layers": layers});
    if let Value::Object(out) = &mut out {
        for key in ["input_layers", "output_layers"] {
            if let Some(references) = config.get(key) {
                out.insert(key.into(), references.clone());
            }
        }
    }
    // Keras finds Functional in its own source tree, Sequential among its public names.
    let module = if class_name == "Functional" { "keras.src.models.functional" } else { "keras" };
    Ok(json!({"module": module, "class_name": class_name, "config": out, "registered_name": null}))
}

/// One application of a layer, `[[layer, node, index], ...]`, as Keras 3 writes it: its input
/// tensors, each with its shape (batch axis first), as call arguments (a list of them for a
/// layer of several inputs).
fn keras_node(node: &Value, shapes: &NodeShapes) -> Result<Value> {
    let mut tensors = Vec::new();
    for history in node.as_array().into_iter().flatten() {
        let key = match history.as_array().map(Vec::as_slice) {
            Some([Value::String(name), Value::Number(application), ..]) => {
                application.as_u64().map(|a| (name.clone(), a as usize))
            }
            _ => None,
        };
        let shape = key.as_ref().and_then(|key| shapes.get(key)).ok_or_else(|| {
            NnError::Config(format!("the output shape of node {history} is unknown; build the model first"))
        })?;
        let shape: Vec<Value> = std::iter::once(Value::Null).chain(shape.iter().map(|&d| d.into())).collect();
        tensors.push(json!({"class_name": "__keras_tensor__", "config": {
            "shape": shape, "dtype": "float32", "keras_history": history
        }}));
    }
    let args = match tensors.as_slice() {
        [one] => vec![one.clone()],
        _ => vec![Value::Array(tensors)],
    };
    Ok(json!({"args": args, "kwargs": {}}))
}

/// A layer as Keras writes it, from the crate's config of it.
fn keras_layer(class_name: &str, config: &Config) -> Result<Value> {
    let what = match config.get("name").and_then(Value::as_str) {
        Some(name) => format!("layer \"{name}\" ({class_name})"),
        None => format!("{class_name} layer"),
    };
    let mut out = Config::new();
    for (key, value) in config {
        let value = match key.as_str() {
            "dtype" => policy(value.as_str().unwrap_or("float32")),
            // tessera seeds every layer with weights; in Keras only the random layers take one.
            "seed" if !matches!(class_name, "Dropout" | "SpatialDropout2D") => continue,
            "activation" if !value.is_string() => {
                return Err(NnError::Config(format!(
                    "{what}: the activation {value} has no Keras config; Keras would not read it back"
                )));
            }
            key if key.ends_with("_initializer") || key.ends_with("_regularizer") => match value {
                Value::Object(object) => {
                    let module = if key.ends_with("_initializer") {
                        "keras.initializers"
                    } else {
                        "keras.regularizers"
                    };
                    let mut object = object.clone();
                    object.insert("module".into(), module.into());
                    object.insert("registered_name".into(), Value::Null);
                    Value::Object(object)
                }
                other => other.clone(),
            },
            _ => value.clone(),
        };
        out.insert(key.clone(), value);
    }
    if class_name == "InputLayer" {
        out.insert("dtype".into(), "float32".into());
    }
    Ok(json!({"module": "keras.layers", "class_name": class_name, "config": out, "registered_name": null}))
}

/// Keras's dtype policy object for the float type `name`.
fn policy(name: &str) -> Value {
    json!({"module": "keras", "class_name": "DTypePolicy", "config": {"name": name}, "registered_name": null})
}

/// The crate's training config as Keras's `compile_config`.
fn compile_config(training: &Config) -> Result<Value> {
    let optimizer = training.get("optimizer").cloned().unwrap_or(Value::Null);
    let class_name = optimizer.get("class_name").and_then(Value::as_str).unwrap_or_default();
    let mut config = optimizer.get("config").and_then(Value::as_object).cloned().unwrap_or_default();
    config.insert("name".into(), class_name.to_lowercase().into());
    let loss = training.get("loss").cloned().unwrap_or(Value::Null);
    // A model of several outputs has a list of losses, which Keras takes as one per output.
    let keras_loss = |loss: &Value| -> Result<Value> {
        let from_logits = loss.get("config").and_then(|c| c.get("from_logits")).and_then(Value::as_bool);
        if from_logits == Some(true) {
            return Err(NnError::Config(
                "a loss from logits is not written to Keras's compile config; compile with probabilities"
                    .into(),
            ));
        }
        Ok(loss.get("class_name").cloned().unwrap_or(Value::Null))
    };
    let loss = match &loss {
        Value::Array(losses) => Value::Array(losses.iter().map(keras_loss).collect::<Result<_>>()?),
        one => keras_loss(one)?,
    };
    Ok(json!({
        "optimizer": {"module": "keras.optimizers", "class_name": class_name, "config": config, "registered_name": null},
        "loss": loss,
        "loss_weights": training.get("loss_weights").cloned().unwrap_or(Value::Null),
        "metrics": training.get("metrics").cloned().unwrap_or(Value::Null),
        "weighted_metrics": training.get("weighted_metrics").cloned().unwrap_or(Value::Null),
        "run_eagerly": false,
        "steps_per_execution": 1,
        "jit_compile": false,
    }))
}
