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

/// Compiles `model` as Keras's `compile_config` says, with the step count `iterations`.
pub(super) fn compile(model: &mut Model, keras: &Config, iterations: u64) -> Result<()> {
    let what = "Keras compile config";
    let mut optimizer = None;
    let mut loss = None;
    let mut metrics = Vec::new();
    for (key, value) in keras {
        match key.as_str() {
            // A legacy file's name for the optimizer.
            "optimizer" | "optimizer_config" => optimizer = Some(read_optimizer(value)?),
            "loss" => loss = Some(read_loss(value)?),
            "metrics" => metrics = read_metrics(value)?,
            "loss_weights" | "weighted_metrics" if value.is_null() => {}
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
    let config = json!({"optimizer": optimizer, "loss": loss, "metrics": metrics, "iterations": iterations});
    match config {
        Value::Object(config) => model.compile_from_training_config(&config),
        _ => Err(NnError::Config(format!("{what}: not an object"))),
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
            "Keras compile config: one loss for one output is supported, got {other}"
        ))),
    }
}

/// Metric names; Keras writes a list, or a list of lists for several outputs.
fn read_metrics(value: &Value) -> Result<Vec<String>> {
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .iter()
            .map(|item| {
                item.as_str().map(str::to_string).ok_or_else(|| {
                    NnError::Config(format!("Keras compile config: metrics should be names, got {item}"))
                })
            })
            .collect(),
        other => Err(NnError::Config(format!("Keras compile config: metrics should be a list, got {other}"))),
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
