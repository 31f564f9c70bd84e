//! Keras 3's model configs (`model.to_json()`, an archive's `config.json`, a legacy file's
//! `model_config`) made into the architecture the crate's `from_config` reads. Keras writes
//! every setting a layer has, most at a default; a setting at the value tessera implements is
//! dropped here, any other value is an error naming the layer and the field (tessera would
//! otherwise compute something else than Keras). Fields tessera reads go on to the layer's own
//! `from_config`, which rejects what it does not know.

use serde_json::{Value, json};

use crate::layers::Config;
use crate::{Model, NnError, Result};

/// The one value tessera implements of a setting it has no field for: Keras's default.
fn fixed_value(key: &str) -> Option<Value> {
    Some(match key {
        "data_format" => json!("channels_last"),
        "groups" => json!(1),
        "center" | "scale" => json!(true),
        "synchronized" | "renorm" | "sparse" | "ragged" | "optional" => json!(false),
        "activity_regularizer"
        | "kernel_constraint"
        | "bias_constraint"
        | "beta_constraint"
        | "gamma_constraint"
        | "beta_regularizer"
        | "gamma_regularizer"
        | "embeddings_constraint"
        | "depthwise_constraint"
        | "alpha_constraint"
        | "renorm_clipping"
        | "noise_shape"
        | "quantization_config"
        | "lora_rank" => Value::Null,
        _ => return None,
    })
}

/// Settings whose value is only used under another setting fixed above (`renorm_momentum`
/// without `renorm`).
const IGNORED: &[&str] = &["renorm_momentum"];

/// The parts of a Keras config of a whole model: its architecture in the crate's form and, if
/// the model was compiled, Keras's `compile_config`.
pub(super) struct KerasModel {
    pub(super) architecture: Config,
    pub(super) compile_config: Option<Config>,
}

impl Model {
    /// Keras's `keras.models.model_from_json`: the model a JSON config written by Keras 3
    /// (`model.to_json()`, or an archive's `config.json`) describes, with fresh weights. A layer
    /// class tessera lacks, or a setting it does not implement (`data_format: channels_first`,
    /// a dilation), is an error naming the layer and the field.
    pub fn from_keras_json(json: &str) -> Result<Model> {
        let value: Value = serde_json::from_str(json)
            .map_err(|e| NnError::Config(format!("a Keras model config must be JSON: {e}")))?;
        Model::from_architecture(&read_model(&value)?.architecture)
    }
}

/// The model `value` (`{"class_name": "Sequential" | "Functional", "config": ...}`) describes.
pub(super) fn read_model(value: &Value) -> Result<KerasModel> {
    let top = object(value, "Keras model config")?;
    let class_name = string(top, "class_name", "Keras model config")?;
    let config = top.get("config").ok_or_else(|| missing("Keras model config", "config"))?;
    let compile_config = match top.get("compile_config") {
        None | Some(Value::Null) => None,
        Some(value) => Some(object(value, "compile_config")?.clone()),
    };
    let architecture = model(class_name, object(config, &format!("{class_name} model config"))?)?;
    Ok(KerasModel { architecture, compile_config })
}

/// `{"class_name", "config"}` of a Sequential or Functional model, in the crate's form.
fn model(class_name: &str, config: &Config) -> Result<Config> {
    let what = format!("{class_name} model config");
    let mut out = Config::new();
    out.insert("name".into(), Value::String(string(config, "name", &what)?.to_string()));
    let layers = config.get("layers").and_then(Value::as_array).ok_or_else(|| missing(&what, "layers"))?;
    let mut translated = Vec::with_capacity(layers.len());
    for (key, value) in config {
        match key.as_str() {
            "name" | "layers" | "input_layers" | "output_layers" | "build_input_shape" => {}
            "trainable" => fixed(&what, key, value, &json!(true))?,
            "dtype" => {
                dtype(&what, value)?;
            }
            other => return Err(unsupported(&what, other, value)),
        }
    }
    match class_name {
        "Sequential" => {
            // A Sequential model built without an Input keeps its input shape beside its layers.
            let starts_with_input = layers.first().and_then(|l| l.get("class_name")).and_then(Value::as_str)
                == Some("InputLayer");
            if let (false, Some(shape)) = (starts_with_input, config.get("build_input_shape")) {
                translated.push(json!({"class_name": "InputLayer", "config": {"batch_shape": shape}}));
            }
            for layer in layers {
                translated.push(Value::Object(layer_entry(layer, false)?));
            }
        }
        "Functional" => {
            for layer in layers {
                translated.push(Value::Object(layer_entry(layer, true)?));
            }
            for key in ["input_layers", "output_layers"] {
                let references = config.get(key).ok_or_else(|| missing(&what, key))?;
                out.insert(key.into(), Value::Array(reference_list(references, &what, key)?));
            }
        }
        other => {
            return Err(NnError::Config(format!(
                "unknown Keras model class \"{other}\"; expected Sequential or Functional"
            )));
        }
    }
    out.insert("layers".into(), Value::Array(translated));
    Ok(json_object(json!({"class_name": class_name, "config": out})))
}

/// A model's inputs or outputs: one reference `[layer, node, index]` or a list of them.
fn reference_list(value: &Value, what: &str, key: &str) -> Result<Vec<Value>> {
    match value.as_array().map(Vec::as_slice) {
        Some([Value::String(_), ..]) => Ok(vec![value.clone()]),
        Some(references) => Ok(references.to_vec()),
        None => Err(NnError::Config(format!(
            "{what}: field \"{key}\" should be a list of [layer, node, index], got {value}"
        ))),
    }
}

/// One entry of a model's `layers`: `{"class_name", "config"}` and, in a Functional model,
/// `inbound_nodes` as lists of node references.
fn layer_entry(value: &Value, functional: bool) -> Result<Config> {
    let entry = object(value, "Keras layer entry")?;
    let class_name = string(entry, "class_name", "Keras layer entry")?;
    let config =
        object(entry.get("config").ok_or_else(|| missing("Keras layer entry", "config"))?, class_name)?;
    let what = match config.get("name").and_then(Value::as_str) {
        Some(name) => format!("layer \"{name}\" ({class_name})"),
        None => format!("{class_name} layer"),
    };
    let mut out = match class_name {
        "Sequential" | "Functional" => model(class_name, config)?,
        _ => json_object(json!({"class_name": class_name, "config": layer_config(config, &what)?})),
    };
    if functional {
        let nodes = entry
            .get("inbound_nodes")
            .and_then(Value::as_array)
            .ok_or_else(|| missing(&what, "inbound_nodes"))?;
        let mut nodes = nodes.iter().map(|node| inbound_node(node, &what)).collect::<Result<Vec<_>>>()?;
        // Keras lists no node for an Input; tessera one that reads nothing.
        if class_name == "InputLayer" && nodes.is_empty() {
            nodes.push(Value::Array(Vec::new()));
        }
        out.insert("inbound_nodes".into(), Value::Array(nodes));
    }
    Ok(out)
}

/// One application of a layer in Keras 3's form, `{"args": [tensors...], "kwargs": {...}}`,
/// as the list of the node references of its input tensors.
fn inbound_node(node: &Value, what: &str) -> Result<Value> {
    let node = object(node, &format!("{what}: an inbound node"))?;
    let mut references = Vec::new();
    for arg in node.get("args").and_then(Value::as_array).into_iter().flatten() {
        collect_tensors(arg, what, &mut references)?;
    }
    if let Some(kwargs) = node.get("kwargs").and_then(Value::as_object) {
        // A call argument (`training=True`, a mask) would change what the layer computes.
        if let Some((key, value)) = kwargs.iter().find(|(_, v)| !v.is_null()) {
            return Err(NnError::Config(format!(
                "{what}: the call argument {key}={value} of an inbound node is not supported"
            )));
        }
    }
    if references.is_empty() {
        return Err(NnError::Config(format!("{what}: an inbound node has no input tensor")));
    }
    Ok(Value::Array(references))
}

/// The `keras_history` of every `__keras_tensor__` in `value` (a tensor or a list of them).
fn collect_tensors(value: &Value, what: &str, out: &mut Vec<Value>) -> Result<()> {
    match value {
        Value::Array(items) => items.iter().try_for_each(|item| collect_tensors(item, what, out)),
        Value::Object(tensor)
            if tensor.get("class_name").and_then(Value::as_str) == Some("__keras_tensor__") =>
        {
            let history = tensor.get("config").and_then(|c| c.get("keras_history"));
            match history {
                Some(history @ Value::Array(_)) => {
                    out.push(history.clone());
                    Ok(())
                }
                _ => Err(NnError::Config(format!("{what}: an input tensor without keras_history: {value}"))),
            }
        }
        other => Err(NnError::Config(format!(
            "{what}: an inbound node argument should be a Keras tensor, got {other}"
        ))),
    }
}

/// A layer's Keras config in the crate's form (see the module's description).
fn layer_config(config: &Config, what: &str) -> Result<Config> {
    let mut out = Config::new();
    for (key, value) in config {
        if let Some(supported) = fixed_value(key) {
            fixed(what, key, value, &supported)?;
            continue;
        }
        if IGNORED.contains(&key.as_str()) {
            continue;
        }
        let value = match key.as_str() {
            // float32 is every tessera layer's default, and layers without weights (and Input)
            // have no dtype field; float64 goes to the layer, which refuses it if it has none.
            "dtype" => match dtype(what, value)? {
                Value::String(name) if name == "float32" => continue,
                other => other,
            },
            "dilation_rate" => {
                if value != &json!(1) && value != &json!([1, 1]) {
                    return Err(unsupported(what, key, value));
                }
                continue;
            }
            // A layer's seed of null is Keras's "draw one"; tessera's layers draw their own.
            "seed" if value.is_null() => continue,
            key if key.ends_with("_initializer") || key.ends_with("_regularizer") => {
                setting(what, key, value)?
            }
            _ => value.clone(),
        };
        out.insert(key.clone(), value);
    }
    Ok(out)
}

/// An initializer or regularizer as Keras 3 serializes it (`module` and `registered_name`
/// beside `class_name` and `config`), in the crate's `{"class_name", "config"}` form.
fn setting(what: &str, key: &str, value: &Value) -> Result<Value> {
    let Value::Object(object) = value else { return Ok(value.clone()) };
    let mut config = Config::new();
    if let Some(fields) = object.get("config").and_then(Value::as_object) {
        for (name, field) in fields {
            match name.as_str() {
                // Unseeded initializers, and variance scaling over Keras's default axes.
                "seed" | "input_axes" | "output_axes" if field.is_null() => {}
                "seed" => {
                    return Err(NnError::Config(format!(
                        "{what}: field \"{key}\": a seeded initializer ({field}) is not supported; \
                         tessera seeds the layer (its \"seed\" field)"
                    )));
                }
                _ => {
                    config.insert(name.clone(), field.clone());
                }
            }
        }
    }
    let class_name = object
        .get("class_name")
        .cloned()
        .ok_or_else(|| missing(&format!("{what}: field \"{key}\""), "class_name"))?;
    Ok(json!({"class_name": class_name, "config": config}))
}

/// The float type a Keras dtype names: `"float32"`, or a `DTypePolicy` object holding it.
fn dtype(what: &str, value: &Value) -> Result<Value> {
    let name = match value {
        Value::String(name) => Some(name.as_str()),
        Value::Object(policy) if policy.get("class_name").and_then(Value::as_str) == Some("DTypePolicy") => {
            policy.get("config").and_then(|c| c.get("name")).and_then(Value::as_str)
        }
        _ => None,
    };
    match name {
        Some(name @ ("float32" | "float64")) => Ok(Value::String(name.to_string())),
        _ => Err(unsupported(what, "dtype", value)),
    }
}

/// Checks that a setting tessera lacks has the value tessera implements.
fn fixed(what: &str, key: &str, value: &Value, supported: &Value) -> Result<()> {
    if value == supported { Ok(()) } else { Err(unsupported(what, key, value)) }
}

fn unsupported(what: &str, key: &str, value: &Value) -> NnError {
    NnError::Config(format!("{what}: field \"{key}\" = {value} is not supported by tessera"))
}

fn missing(what: &str, key: &str) -> NnError {
    NnError::Config(format!("{what}: missing field \"{key}\""))
}

fn object<'a>(value: &'a Value, what: &str) -> Result<&'a Config> {
    value.as_object().ok_or_else(|| NnError::Config(format!("{what}: expected a JSON object, got {value}")))
}

fn string<'a>(object: &'a Config, key: &str, what: &str) -> Result<&'a str> {
    object.get(key).and_then(Value::as_str).ok_or_else(|| missing(what, key))
}

/// The object inside a `json!` literal that is one by construction.
fn json_object(value: Value) -> Config {
    match value {
        Value::Object(object) => object,
        _ => Config::new(),
    }
}
