//! The training config: what `compile` was given (the optimizer with its hyper-parameters, the
//! loss, the metric names) and how many steps the optimizer has taken, as Keras 2 saved it with a
//! model, so that a loaded model compiles as the saved one was and goes on counting its steps.
//! A model of several outputs saves a list of losses, its `loss_weights` and a list of metric
//! names per output, in output order (as Keras's lists).

use serde_json::Value;

use super::CompileOptions;
use crate::layers::Config;
use crate::layers::config::{Fields, class_value, config, read_class};
use crate::losses::{AnyLoss, Loss};
use crate::optimizers::schedules::LearningRateSchedule;
use crate::optimizers::{self, Configured, Optimizer};
use crate::{Model, NnError, Result};

impl Model {
    /// `{"optimizer": {"class_name": "Adam", "config": {...}}, "loss": {...}, "metrics": [...],
    /// "iterations": n}`, with `"loss_weights"` and `"weighted_metrics"` when they are not the
    /// defaults; for a model of several outputs, the losses and metric lists per output. `None`
    /// before `compile`.
    pub(crate) fn training_config(&self) -> Option<Config> {
        let compiled = self.compiled.as_ref()?;
        let outputs = &compiled.outputs;
        let names = |metrics: &[crate::metrics::Metric]| -> Vec<String> {
            metrics.iter().map(|m| m.name().to_string()).collect()
        };
        let (loss, metrics, weighted): (Value, Value, Value) = match outputs.as_slice() {
            [output] => (
                loss_value(&output.loss),
                names(&output.metrics).into(),
                names(&output.weighted_metrics).into(),
            ),
            _ => (
                outputs.iter().map(|o| loss_value(&o.loss)).collect(),
                outputs.iter().map(|o| Value::from(names(&o.metrics))).collect(),
                outputs.iter().map(|o| Value::from(names(&o.weighted_metrics))).collect(),
            ),
        };
        let mut config = config!(
            "optimizer": optimizer_value(compiled.optimizer.config()),
            "loss": loss,
            "metrics": metrics,
            "iterations": compiled.optimizer.iterations(),
        );
        if outputs.iter().any(|o| o.loss_weight != 1.0) {
            let weights: Vec<f64> = outputs.iter().map(|o| o.loss_weight).collect();
            config.insert("loss_weights".into(), weights.into());
        }
        if outputs.iter().any(|o| !o.weighted_metrics.is_empty()) {
            config.insert("weighted_metrics".into(), weighted);
        }
        Some(config)
    }

    /// Compiles the model as [`Model::training_config`] describes and sets the optimizer's step
    /// count; its per-weight state starts afresh.
    pub(crate) fn compile_from_training_config(&mut self, config: &Config) -> Result<()> {
        let mut fields = Fields::new("training config", config);
        let optimizer = read_optimizer(&fields.required("optimizer")?)?;
        let loss: Value = fields.required("loss")?;
        let metrics: Value = fields.required("metrics")?;
        let loss_weights: Option<Vec<f64>> = fields.get("loss_weights")?;
        let weighted: Option<Value> = fields.get("weighted_metrics")?;
        let iterations: u64 = fields.required("iterations")?;
        fields.finish()?;
        let mut options = match &loss {
            Value::Array(losses) => {
                let losses = losses.iter().map(read_loss_value).collect::<Result<Vec<_>>>()?;
                CompileOptions::default().losses(losses)
            }
            one => CompileOptions::default().loss(read_loss_value(one)?),
        };
        if let Some(weights) = loss_weights {
            options = options.loss_weights(weights);
        }
        options = match metric_names("metrics", &metrics)? {
            MetricNames::One(names) => options.metrics(&names.iter().map(String::as_str).collect::<Vec<_>>()),
            MetricNames::PerOutput(lists) => {
                options.metrics_per_output(&as_strs(&lists).iter().map(Vec::as_slice).collect::<Vec<_>>())
            }
        };
        if let Some(weighted) = weighted {
            options = match metric_names("weighted_metrics", &weighted)? {
                MetricNames::One(names) => {
                    options.weighted_metrics(&names.iter().map(String::as_str).collect::<Vec<_>>())
                }
                MetricNames::PerOutput(lists) => options.weighted_metrics_per_output(
                    &as_strs(&lists).iter().map(Vec::as_slice).collect::<Vec<_>>(),
                ),
            };
        }
        self.compile_with(optimizer, options)?;
        self.require_compiled_mut("load")?.optimizer.set_iterations(iterations);
        Ok(())
    }
}

/// Metric names as saved: one list (a model of one output) or a list per output.
enum MetricNames {
    One(Vec<String>),
    PerOutput(Vec<Vec<String>>),
}

/// The metric names of the training config's field `key`.
fn metric_names(key: &str, value: &Value) -> Result<MetricNames> {
    let bad = || {
        NnError::Config(format!(
            "training config: {key} should be a list of names or of lists of names, got {value}"
        ))
    };
    let list = value.as_array().ok_or_else(bad)?;
    let strings = |items: &Value| -> Option<Vec<String>> {
        items.as_array()?.iter().map(|v| v.as_str().map(str::to_string)).collect()
    };
    if list.iter().all(Value::is_string) {
        return strings(value).map(MetricNames::One).ok_or_else(bad);
    }
    list.iter().map(strings).collect::<Option<Vec<_>>>().map(MetricNames::PerOutput).ok_or_else(bad)
}

fn as_strs(lists: &[Vec<String>]) -> Vec<Vec<&str>> {
    lists.iter().map(|l| l.iter().map(String::as_str).collect()).collect()
}

/// The loss of a `{"class_name", "config"}` value.
fn read_loss_value(value: &Value) -> Result<AnyLoss> {
    match value {
        Value::Object(object) => read_loss(object),
        other => Err(NnError::Config(format!(
            "training config: a loss should be {{\"class_name\", \"config\"}}, got {other}"
        ))),
    }
}

/// Keras's optimizer class names and config fields, with the base class's: the learning rate
/// (a number, or a schedule as `{"class_name", "config"}`), `weight_decay`, `clipnorm`,
/// `clipvalue` and `global_clipnorm` (null when unset).
fn optimizer_value(configured: &Configured) -> Value {
    let (class_name, mut config) = match configured.optimizer {
        Optimizer::Sgd(o) => {
            ("SGD", config!("learning_rate": o.learning_rate, "momentum": o.momentum, "nesterov": o.nesterov))
        }
        Optimizer::RmsProp(o) => (
            "RMSprop",
            config!(
                "learning_rate": o.learning_rate,
                "rho": o.rho,
                "momentum": o.momentum,
                "epsilon": o.epsilon,
                "centered": o.centered,
            ),
        ),
        Optimizer::Adagrad(o) => (
            "Adagrad",
            config!(
                "learning_rate": o.learning_rate,
                "initial_accumulator_value": o.initial_accumulator_value,
                "epsilon": o.epsilon,
            ),
        ),
        Optimizer::Adadelta(o) => {
            ("Adadelta", config!("learning_rate": o.learning_rate, "rho": o.rho, "epsilon": o.epsilon))
        }
        Optimizer::Adam(o) => (
            "Adam",
            config!(
                "learning_rate": o.learning_rate,
                "beta_1": o.beta_1,
                "beta_2": o.beta_2,
                "epsilon": o.epsilon,
                "amsgrad": o.amsgrad,
            ),
        ),
        Optimizer::Nadam(o) => (
            "Nadam",
            config!("learning_rate": o.learning_rate, "beta_1": o.beta_1, "beta_2": o.beta_2, "epsilon": o.epsilon),
        ),
    };
    if let Some(schedule) = &configured.schedule {
        config.insert("learning_rate".into(), schedule.to_value());
    }
    config.extend(config!(
        "weight_decay": configured.weight_decay,
        "clipnorm": configured.clipnorm,
        "clipvalue": configured.clipvalue,
        "global_clipnorm": configured.global_clipnorm,
    ));
    class_value(class_name, config)
}

/// The optimizer [`optimizer_value`] wrote; missing fields take Keras's defaults (Keras's
/// "AdamW" is Adam with its weight decay).
fn read_optimizer(value: &Config) -> Result<Configured> {
    let (class_name, config) = read_class("optimizer", value)?;
    let mut configured =
        optimizers::get(&class_name).map_err(|e| NnError::Config(format!("training config: {e}")))?;
    let mut fields = Fields::new(format!("optimizer {class_name}"), &config);
    match fields.get::<Value>("learning_rate")? {
        Some(Value::Object(schedule)) => {
            configured.schedule = Some(LearningRateSchedule::from_value(&schedule)?)
        }
        Some(learning_rate) => {
            let learning_rate = learning_rate.as_f64().ok_or_else(|| {
                fields.error(format!(
                    "field \"learning_rate\": expected a number or a schedule, got {learning_rate}"
                ))
            })?;
            configured.optimizer.set_learning_rate(learning_rate).map_err(|e| fields.error(e))?;
        }
        None => {}
    }
    for (key, slot) in [
        ("weight_decay", &mut configured.weight_decay),
        ("clipnorm", &mut configured.clipnorm),
        ("clipvalue", &mut configured.clipvalue),
        ("global_clipnorm", &mut configured.global_clipnorm),
    ] {
        fields.update(key, slot)?;
    }
    match &mut configured.optimizer {
        Optimizer::Sgd(o) => {
            fields.update("momentum", &mut o.momentum)?;
            fields.update("nesterov", &mut o.nesterov)?;
        }
        Optimizer::RmsProp(o) => {
            fields.update("rho", &mut o.rho)?;
            fields.update("momentum", &mut o.momentum)?;
            fields.update("epsilon", &mut o.epsilon)?;
            fields.update("centered", &mut o.centered)?;
        }
        Optimizer::Adagrad(o) => {
            fields.update("initial_accumulator_value", &mut o.initial_accumulator_value)?;
            fields.update("epsilon", &mut o.epsilon)?;
        }
        Optimizer::Adadelta(o) => {
            fields.update("rho", &mut o.rho)?;
            fields.update("epsilon", &mut o.epsilon)?;
        }
        Optimizer::Adam(o) => {
            fields.update("beta_1", &mut o.beta_1)?;
            fields.update("beta_2", &mut o.beta_2)?;
            fields.update("epsilon", &mut o.epsilon)?;
            fields.update("amsgrad", &mut o.amsgrad)?;
        }
        Optimizer::Nadam(o) => {
            fields.update("beta_1", &mut o.beta_1)?;
            fields.update("beta_2", &mut o.beta_2)?;
            fields.update("epsilon", &mut o.epsilon)?;
        }
    }
    fields.finish()?;
    configured.check().map_err(|e| NnError::Config(format!("training config: {e}")))?;
    Ok(configured)
}

/// The loss by Keras name, with `from_logits` for the cross-entropies and `label_smoothing` for
/// the binary and categorical ones (Keras's config fields); a custom loss by its class name, with
/// its own config.
fn loss_value(loss: &AnyLoss) -> Value {
    let loss = match loss {
        AnyLoss::Builtin(loss) => loss,
        AnyLoss::Custom(custom) => return class_value(custom.name(), custom.get_config()),
    };
    let config = match *loss {
        Loss::BinaryCrossentropy { from_logits, label_smoothing }
        | Loss::CategoricalCrossentropy { from_logits, label_smoothing } => {
            config!("from_logits": from_logits, "label_smoothing": label_smoothing)
        }
        Loss::SparseCategoricalCrossentropy { from_logits } => config!("from_logits": from_logits),
        _ => Config::new(),
    };
    class_value(loss.name(), config)
}

/// The loss [`loss_value`] wrote; a custom one through its registered factory.
fn read_loss(value: &Config) -> Result<AnyLoss> {
    let (class_name, config) = read_class("loss", value)?;
    let mut loss = match AnyLoss::from_class(&class_name, &config)
        .map_err(|e| NnError::Config(format!("training config: {e}")))?
    {
        AnyLoss::Builtin(loss) => loss,
        custom => return Ok(custom),
    };
    let mut fields = Fields::new(format!("loss {class_name}"), &config);
    match &mut loss {
        Loss::BinaryCrossentropy { from_logits, label_smoothing }
        | Loss::CategoricalCrossentropy { from_logits, label_smoothing } => {
            fields.update("from_logits", from_logits)?;
            fields.update("label_smoothing", label_smoothing)?;
        }
        Loss::SparseCategoricalCrossentropy { from_logits } => fields.update("from_logits", from_logits)?,
        _ => {}
    }
    fields.finish()?;
    Ok(AnyLoss::Builtin(loss))
}
