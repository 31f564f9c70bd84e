//! Keras's compile settings (an archive's `compile_config`, a legacy file's `training_config`)
//! in the crate's training-config form, and the optimizer's variables (step count, learning
//! rate, then each trainable weight's slots) put back into the compiled optimizer.

use serde_json::{Value, json};

use super::h5::H5;
use crate::io::named_weights;
use crate::layers::Config;
use crate::{Model, NnError, Result};

/// Optimizer settings tessera has no field for, with the one value it implements.
fn fixed_value(key: &str) -> Option<Value> {
    Some(match key {
        "weight_decay"
        | "clipnorm"
        | "global_clipnorm"
        | "clipvalue"
        | "ema_overwrite_frequency"
        | "loss_scale_factor"
        | "gradient_accumulation_steps" => Value::Null,
        "use_ema" | "amsgrad" => json!(false),
        _ => return None,
    })
}

/// Compiles `model` as Keras's `compile_config` says, with the step count `iterations`. A model
/// of several outputs takes Keras's lists (in output order) or dicts (by output name) of losses,
/// loss weights and metric lists.
pub(super) fn compile(model: &mut Model, keras: &Config, iterations: u64) -> Result<()> {
    let what = "Keras compile config";
    let outputs = model.output_names();
    let mut optimizer = None;
    let mut loss = None;
    let mut config = Config::new();
    for (key, value) in keras {
        match key.as_str() {
            // A legacy file's name for the optimizer.
            "optimizer" | "optimizer_config" => optimizer = Some(read_optimizer(value)?),
            "loss" => loss = Some(read_losses(&per_output(value, &outputs, "loss")?)?),
            "metrics" | "weighted_metrics" if value.is_null() => {}
            "metrics" | "weighted_metrics" => {
                let value = per_output(value, &outputs, key)?;
                config.insert(key.clone(), read_metrics(&value).map_err(|e| in_field(key, e))?);
            }
            "loss_weights" if value.is_null() => {}
            "loss_weights" => {
                config.insert(key.clone(), per_output(value, &outputs, key)?);
            }
            // How Keras executes a step, not what it computes.
            "run_eagerly" | "steps_per_execution" | "jit_compile" | "auto_scale_loss" => {}
            other => {
                return Err(NnError::Config(format!(
                    "{what}: field \"{other}\" = {value} is not supported by tessera"
                )));
            }
        }
    }
    let optimizer =
        optimizer.ok_or_else(|| NnError::Config(format!("{what}: missing field \"optimizer\"")))?;
    let loss = loss.ok_or_else(|| NnError::Config(format!("{what}: missing field \"loss\"")))?;
    config.insert("optimizer".into(), optimizer);
    config.insert("loss".into(), loss);
    config.entry("metrics").or_insert_with(|| json!([]));
    config.insert("iterations".into(), iterations.into());
    model.compile_from_training_config(&config)
}

fn in_field(key: &str, error: NnError) -> NnError {
    NnError::Config(format!("Keras compile config: field \"{key}\": {error}"))
}

/// Keras's dict by output name of the setting `key`, as a list in the order of `outputs`
/// (outputs it leaves out take null: no metrics, weight 1); any other value as it is. A
/// serialized loss (an object with "class_name") is one value, not a dict.
fn per_output(value: &Value, outputs: &[String], key: &str) -> Result<Value> {
    let Value::Object(by_name) = value else { return Ok(value.clone()) };
    if by_name.contains_key("class_name") {
        return Ok(value.clone());
    }
    if let Some(unknown) = by_name.keys().find(|k| !outputs.contains(k)) {
        return Err(NnError::Config(format!(
            "Keras compile config: {key} names output \"{unknown}\", but the model's outputs are {}",
            outputs.join(", ")
        )));
    }
    let default = match key {
        "loss_weights" => json!(1.0),
        "metrics" | "weighted_metrics" => json!([]),
        _ => Value::Null,
    };
    Ok(Value::Array(
        outputs.iter().map(|name| by_name.get(name).cloned().unwrap_or(default.clone())).collect(),
    ))
}

/// One loss (see [`read_loss`]) or a list of them, one per output.
fn read_losses(value: &Value) -> Result<Value> {
    match value {
        Value::Array(losses) => losses.iter().map(read_loss).collect::<Result<Vec<_>>>().map(Value::Array),
        one => read_loss(one),
    }
}

/// `{"class_name", "config"}` of the optimizer, its Keras-only settings checked and dropped.
fn read_optimizer(value: &Value) -> Result<Value> {
    let class_name = value.get("class_name").and_then(Value::as_str).ok_or_else(|| {
        NnError::Config(format!(
            "Keras compile config: the optimizer should be {{\"class_name\", \"config\"}}, got {value}"
        ))
    })?;
    let mut config = Config::new();
    for (key, field) in value.get("config").and_then(Value::as_object).into_iter().flatten() {
        match (key.as_str(), fixed_value(key)) {
            ("name" | "ema_momentum", _) => {}
            (_, Some(supported)) if &supported == field => {}
            (_, Some(_)) => {
                return Err(NnError::Config(format!(
                    "optimizer {class_name}: field \"{key}\" = {field} is not supported by tessera"
                )));
            }
            _ => {
                config.insert(key.clone(), field.clone());
            }
        }
    }
    Ok(json!({"class_name": class_name, "config": config}))
}

/// The loss: Keras's name (`"sparse_categorical_crossentropy"`) or a serialized loss object.
fn read_loss(value: &Value) -> Result<Value> {
    match value {
        Value::String(name) => Ok(json!({"class_name": name, "config": {}})),
        Value::Object(object) => {
            let class_name = object.get("class_name").cloned().unwrap_or(Value::Null);
            let mut config = Config::new();
            for (key, field) in object.get("config").and_then(Value::as_object).into_iter().flatten() {
                match key.as_str() {
                    "name" => {}
                    "reduction" if field == "sum_over_batch_size" => {}
                    "ignore_class" | "axis" if field.is_null() || field == &json!(-1) => {}
                    _ => {
                        config.insert(key.clone(), field.clone());
                    }
                }
            }
            Ok(json!({"class_name": class_name, "config": config}))
        }
        other => Err(NnError::Config(format!(
            "Keras compile config: a loss should be a name or a serialized loss, got {other}"
        ))),
    }
}

/// Metric names; Keras writes a list, or a list of lists (or of nulls) for several outputs.
fn read_metrics(value: &Value) -> Result<Value> {
    let names = |items: &Value| -> Result<Value> {
        match items {
            Value::Null => Ok(json!([])),
            Value::Array(items) if items.iter().all(Value::is_string) => Ok(Value::Array(items.clone())),
            other => Err(NnError::Config(format!("metrics should be a list of names, got {other}"))),
        }
    };
    match value {
        Value::Array(items) if items.iter().all(Value::is_string) => Ok(value.clone()),
        Value::Array(items) => items.iter().map(names).collect::<Result<Vec<_>>>().map(Value::Array),
        other => Err(NnError::Config(format!("metrics should be a list, got {other}"))),
    }
}

/// The step count, the first of the optimizer's variables `datasets` in `h5`.
pub(super) fn iterations(h5: &H5, datasets: &[String]) -> Result<u64> {
    let dataset = datasets.first().ok_or_else(|| h5.error("holds no optimizer variables"))?;
    let count = h5.scalar(dataset)?;
    if count < 0.0 || count.fract() != 0.0 || count > u64::MAX as f64 {
        return Err(
            h5.error(format!("optimizer step count (dataset {dataset}) is {count}, not a step count"))
        );
    }
    Ok(count as u64)
}

/// Gives the compiled optimizer of `model` its variables from `h5`: `datasets` holds the step
/// count, the learning rate (which a callback may have changed since compiling), then each trainable weight's slots in Keras's order (weight by
/// weight, slot by slot: Adam's momentum then velocity, as tessera names and orders them). A
/// count or shape that differs is an error: the file's optimizer is not the one compiled.
pub(super) fn restore_optimizer(model: &mut Model, h5: &H5, datasets: &[String]) -> Result<()> {
    let [_iterations, learning_rate, slots @ ..] = datasets else {
        return Err(h5.error(format!(
            "holds {} optimizer variables; expected the step count and the learning rate first",
            datasets.len()
        )));
    };
    let weights: Vec<(String, u64, tensor_core::Tensor)> = named_weights(model)
        .into_iter()
        .filter(|(_, w)| w.trainable())
        .map(|(name, w)| (name, w.id(), w.value().clone()))
        .collect();
    let optimizer = &mut model.require_compiled_mut("load_keras")?.optimizer;
    optimizer.set_learning_rate(h5.scalar(learning_rate)?)?;
    let mut next = slots.iter();
    for (name, id, value) in &weights {
        optimizer.restore(*id, value, |slot, fresh| {
            let dataset = next.next().ok_or_else(|| {
                h5.error(format!(
                    "holds {} optimizer slots, too few for the model's trainable weights (none for {name}/{slot})",
                    slots.len()
                ))
            })?;
            h5.tensor_like(dataset, fresh, &format!("optimizer slot {name}/{slot}"))
        })?;
    }
    let left = next.count();
    if left > 0 {
        return Err(h5.error(format!(
            "holds {left} optimizer slots more than the compiled optimizer keeps for the model's trainable weights"
        )));
    }
    Ok(())
}
