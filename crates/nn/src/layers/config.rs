//! Layer configs, Keras's `get_config()` / `from_config()`: a JSON object of a layer's settings
//! (not its weights) from which the same layer can be made again. This file says how each kind
//! of setting is written and read back; reading checks every field and says which field of
//! which layer is wrong, and what it should have been.
//!
//! Settings Keras names by a string are written as that name (`"relu"`, `"same"`); those with
//! parameters as `{"class_name": ..., "config": {...}}`, as Keras writes initializers.

use serde_json::{Map, Value};
use tensor_core::{DType, Padding};

use super::{KerasName, Size2, Spec};
use crate::activations::Activation;
use crate::initializers::Initializer;
use crate::regularizers::Regularizer;
use crate::{NnError, Result};

/// A layer's settings by field name, as Keras's `layer.get_config()` returns them.
pub type Config = Map<String, Value>;

/// A setting as a config value (implemented for numbers, strings, flags, lists, shapes and the
/// crate's settings: activations, initializers, regularizers, dtypes).
pub trait ToValue {
    fn to_value(&self) -> Value;
}

/// A setting read back from a config value; the error says what was expected and what came.
pub trait FromValue: Sized {
    fn from_value(value: &Value) -> std::result::Result<Self, String>;
}

/// A [`Config`] from `"field": value` pairs, each value turned into JSON by [`ToValue`].
macro_rules! config {
    ($($key:literal: $value:expr),* $(,)?) => {
        $crate::layers::Config::from_iter([
            $(($key.to_string(), $crate::layers::config::ToValue::to_value(&$value))),*
        ])
    };
}
pub(crate) use config;

/// The config of the settings that layers with a kernel and a bias (Dense, Conv2D, SimpleRNN)
/// share, written from and read into fields of these names.
macro_rules! kernel_config {
    ($layer:ty) => {
        impl $layer {
            fn kernel_config(&self) -> $crate::layers::Config {
                $crate::layers::config::config!(
                    "activation": self.activation,
                    "use_bias": self.use_bias,
                    "kernel_initializer": self.kernel_initializer,
                    "bias_initializer": self.bias_initializer,
                    "kernel_regularizer": self.kernel_regularizer,
                    "bias_regularizer": self.bias_regularizer,
                )
            }

            fn read_kernel_config(
                &mut self,
                fields: &mut $crate::layers::config::Fields<'_>,
            ) -> $crate::Result<()> {
                fields.update("activation", &mut self.activation)?;
                fields.update("use_bias", &mut self.use_bias)?;
                fields.update("kernel_initializer", &mut self.kernel_initializer)?;
                fields.update("bias_initializer", &mut self.bias_initializer)?;
                fields.update("kernel_regularizer", &mut self.kernel_regularizer)?;
                fields.update("bias_regularizer", &mut self.bias_regularizer)
            }
        }
    };
}
pub(crate) use kernel_config;

/// Reads a config field by field. Every field read is an accepted one, so [`Fields::finish`]
/// can reject a field nobody asked for (a misspelled setting) and list those that exist. A
/// layer of your own reads its config with it, as the crate's layers do.
///
/// ```
/// use nn::layers::{Config, Fields};
/// let config: Config = serde_json::from_str(r#"{"name": "scale", "factor": 2.5}"#).unwrap();
/// let mut fields = Fields::layer("Scale", &config);
/// let factor: f64 = fields.required("factor")?;
/// let name: String = fields.required("name")?;
/// fields.finish()?;
/// assert_eq!((factor, name.as_str()), (2.5, "scale"));
/// # Ok::<(), nn::NnError>(())
/// ```
pub struct Fields<'a> {
    /// What is being read, for messages: `layer "dense_1" (Dense)`.
    what: String,
    config: &'a Config,
    asked: Vec<&'static str>,
}

impl<'a> Fields<'a> {
    pub fn new(what: impl Into<String>, config: &'a Config) -> Fields<'a> {
        Fields { what: what.into(), config, asked: Vec::new() }
    }

    /// The fields of a layer of class `class`, described by its name when the config has one.
    pub fn layer(class: &str, config: &'a Config) -> Fields<'a> {
        let what = match config.get("name").and_then(Value::as_str) {
            Some(name) => format!("layer \"{name}\" ({class})"),
            None => format!("{class} layer"),
        };
        Fields::new(what, config)
    }

    pub fn error(&self, detail: impl std::fmt::Display) -> NnError {
        NnError::Config(format!("{}: {detail}", self.what))
    }

    /// The field `key`, if the config has it.
    pub fn get<T: FromValue>(&mut self, key: &'static str) -> Result<Option<T>> {
        self.asked.push(key);
        self.config
            .get(key)
            .map(|value| {
                T::from_value(value).map_err(|detail| self.error(format!("field \"{key}\": {detail}")))
            })
            .transpose()
    }

    /// The field `key`, which the config must have.
    pub fn required<T: FromValue>(&mut self, key: &'static str) -> Result<T> {
        self.get(key)?.ok_or_else(|| self.error(format!("missing field \"{key}\"")))
    }

    /// Overwrites `slot` with the field `key` if the config has it (a default stays otherwise).
    pub fn update<T: FromValue>(&mut self, key: &'static str, slot: &mut T) -> Result<()> {
        if let Some(value) = self.get(key)? {
            *slot = value;
        }
        Ok(())
    }

    /// Checks that the config has no field besides those read.
    pub fn finish(self) -> Result<()> {
        match self.config.keys().find(|key| !self.asked.contains(&key.as_str())) {
            Some(unknown) => {
                Err(self.error(format!("unknown field \"{unknown}\"; expected {}", self.asked.join(", "))))
            }
            None => Ok(()),
        }
    }
}

/// The class name and parameters of `{"class_name": ..., "config": {...}}`, as Keras writes
/// initializers, optimizers and losses; `config` may be left out when there are none. `what`
/// names the thing in errors ("initializer").
pub(crate) fn read_class(what: &str, object: &Config) -> Result<(String, Config)> {
    let mut fields = Fields::new(what, object);
    let class_name: String = fields.required("class_name")?;
    let config: Config = fields.get("config")?.unwrap_or_default();
    fields.finish()?;
    Ok((class_name, config))
}

/// `{"class_name": class_name, "config": config}`.
pub(crate) fn class_value(class_name: &str, config: Config) -> Value {
    Value::Object(config!("class_name": class_name.to_string(), "config": config))
}

fn expected(what: &str, got: &Value) -> String {
    format!("expected {what}, got {got}")
}

impl ToValue for usize {
    fn to_value(&self) -> Value {
        Value::from(*self)
    }
}

impl FromValue for usize {
    fn from_value(value: &Value) -> std::result::Result<Self, String> {
        value.as_u64().and_then(|n| usize::try_from(n).ok()).ok_or_else(|| expected("a whole number", value))
    }
}

impl ToValue for u64 {
    fn to_value(&self) -> Value {
        Value::from(*self)
    }
}

impl FromValue for u64 {
    fn from_value(value: &Value) -> std::result::Result<Self, String> {
        value.as_u64().ok_or_else(|| expected("a whole number", value))
    }
}

impl ToValue for isize {
    fn to_value(&self) -> Value {
        Value::from(*self)
    }
}

impl FromValue for isize {
    fn from_value(value: &Value) -> std::result::Result<Self, String> {
        value.as_i64().and_then(|n| isize::try_from(n).ok()).ok_or_else(|| expected("an integer", value))
    }
}

impl ToValue for f64 {
    fn to_value(&self) -> Value {
        Value::from(*self)
    }
}

impl FromValue for f64 {
    fn from_value(value: &Value) -> std::result::Result<Self, String> {
        value.as_f64().ok_or_else(|| expected("a number", value))
    }
}

impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::from(*self)
    }
}

impl FromValue for bool {
    fn from_value(value: &Value) -> std::result::Result<Self, String> {
        value.as_bool().ok_or_else(|| expected("true or false", value))
    }
}

impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::from(self.as_str())
    }
}

impl FromValue for String {
    fn from_value(value: &Value) -> std::result::Result<Self, String> {
        value.as_str().map(str::to_string).ok_or_else(|| expected("a string", value))
    }
}

impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}

impl FromValue for Value {
    fn from_value(value: &Value) -> std::result::Result<Self, String> {
        Ok(value.clone())
    }
}

impl ToValue for Config {
    fn to_value(&self) -> Value {
        Value::Object(self.clone())
    }
}

impl FromValue for Config {
    fn from_value(value: &Value) -> std::result::Result<Self, String> {
        value.as_object().cloned().ok_or_else(|| expected("an object", value))
    }
}

impl<T: ToValue> ToValue for Vec<T> {
    fn to_value(&self) -> Value {
        Value::Array(self.iter().map(ToValue::to_value).collect())
    }
}

impl<T: FromValue> FromValue for Vec<T> {
    fn from_value(value: &Value) -> std::result::Result<Self, String> {
        let items = value.as_array().ok_or_else(|| expected("a list", value))?;
        items
            .iter()
            .enumerate()
            .map(|(i, item)| T::from_value(item).map_err(|detail| format!("item {i}: {detail}")))
            .collect()
    }
}

/// `null` stands for "none".
impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToValue::to_value)
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: &Value) -> std::result::Result<Self, String> {
        if value.is_null() { Ok(None) } else { T::from_value(value).map(Some) }
    }
}

/// A shape with its batch axis, as Keras writes `batch_shape`: `[null, 28, 28, 1]`.
pub(crate) struct BatchShape(pub(crate) Vec<usize>);

impl ToValue for BatchShape {
    fn to_value(&self) -> Value {
        Value::Array(std::iter::once(Value::Null).chain(self.0.iter().map(ToValue::to_value)).collect())
    }
}

impl FromValue for BatchShape {
    fn from_value(value: &Value) -> std::result::Result<Self, String> {
        let want = "a shape with its batch axis, [null, d1, d2, ...]";
        match value.as_array().map(Vec::as_slice) {
            Some([Value::Null, dims @ ..]) => dims
                .iter()
                .map(usize::from_value)
                .collect::<std::result::Result<_, _>>()
                .map(BatchShape)
                .map_err(|_| expected(want, value)),
            _ => Err(expected(want, value)),
        }
    }
}

/// `[height, width]`; a single number means both, as Keras accepts.
impl ToValue for Size2 {
    fn to_value(&self) -> Value {
        vec![self.0, self.1].to_value()
    }
}

impl FromValue for Size2 {
    fn from_value(value: &Value) -> std::result::Result<Self, String> {
        if let Some(n) = value.as_u64().and_then(|n| usize::try_from(n).ok()) {
            return Ok(Size2(n, n));
        }
        match Vec::<usize>::from_value(value).as_deref() {
            Ok(&[h, w]) => Ok(Size2(h, w)),
            _ => Err(expected("[height, width] or a whole number", value)),
        }
    }
}

/// Keras's dtype names.
impl ToValue for DType {
    fn to_value(&self) -> Value {
        Value::from(match self {
            DType::F16 => "float16",
            DType::F32 => "float32",
            DType::F64 => "float64",
        })
    }
}

impl FromValue for DType {
    fn from_value(value: &Value) -> std::result::Result<Self, String> {
        match value.as_str() {
            Some("float16") => Ok(DType::F16),
            Some("float32") => Ok(DType::F32),
            Some("float64") => Ok(DType::F64),
            _ => Err(expected("\"float16\", \"float32\" or \"float64\"", value)),
        }
    }
}

/// A setting that a config holds by its Keras name or, with parameters, as
/// `{"class_name": ..., "config": {...}}`.
pub(crate) trait Setting: KerasName {
    fn to_value(&self) -> Value;

    /// The setting of class `class_name`, its parameters read from `fields` (Keras's defaults
    /// for those missing); `None` for a class it does not know.
    fn from_class(class_name: &str, fields: &mut Fields<'_>) -> Result<Option<Self>>;
}

/// A name is written as given; a value by [`Setting::to_value`].
impl<T: Setting> ToValue for Spec<T> {
    fn to_value(&self) -> Value {
        match self {
            Spec::Name(name) => Value::from(name.as_str()),
            Spec::Value(value) => value.to_value(),
        }
    }
}

/// A name must be one of the setting's names (kept as a name, as it was given); an object
/// must name a known class and only its parameters.
impl<T: Setting> FromValue for Spec<T> {
    fn from_value(value: &Value) -> std::result::Result<Self, String> {
        if let Some(name) = value.as_str() {
            let spec = Spec::Name(name.to_string());
            return spec.resolve().map(|_| spec);
        }
        let Some(object) = value.as_object() else {
            return Err(expected(
                &format!("a {} name or {{\"class_name\": ..., \"config\": {{...}}}}", T::KIND),
                value,
            ));
        };
        let read = || -> Result<T> {
            let (class_name, config) = read_class(T::KIND, object)?;
            let mut fields = Fields::new(format!("{} {class_name}", T::KIND), &config);
            let setting = T::from_class(&class_name, &mut fields)?.ok_or_else(|| {
                NnError::Config(format!(
                    "unknown {} class \"{class_name}\"; expected one of: {}",
                    T::KIND,
                    T::NAMES.join(", ")
                ))
            })?;
            fields.finish()?;
            Ok(setting)
        };
        read().map(Spec::Value).map_err(|e| e.to_string())
    }
}

/// Parameterless activations by name; `leaky_relu` and `step` with their parameter.
impl Setting for Activation {
    fn to_value(&self) -> Value {
        match *self {
            Activation::Linear => "linear".into(),
            Activation::Relu => "relu".into(),
            Activation::Sigmoid => "sigmoid".into(),
            Activation::Tanh => "tanh".into(),
            Activation::Softmax => "softmax".into(),
            Activation::LeakyRelu(slope) => class_value("leaky_relu", config!("negative_slope": slope)),
            Activation::Step(threshold) => class_value("step", config!("threshold": threshold)),
        }
    }

    fn from_class(class_name: &str, fields: &mut Fields<'_>) -> Result<Option<Self>> {
        Ok(match Activation::from_name(class_name) {
            Some(Activation::LeakyRelu(mut slope)) => {
                fields.update("negative_slope", &mut slope)?;
                Some(Activation::LeakyRelu(slope))
            }
            Some(Activation::Step(mut threshold)) => {
                fields.update("threshold", &mut threshold)?;
                Some(Activation::Step(threshold))
            }
            other => other,
        })
    }
}

/// Keras's initializer classes: `{"class_name": "RandomNormal", "config": {"mean": 0.0, ...}}`.
impl Setting for Initializer {
    fn to_value(&self) -> Value {
        let (class_name, config) = match *self {
            Initializer::Zeros => ("Zeros", Config::new()),
            Initializer::Ones => ("Ones", Config::new()),
            Initializer::Constant(value) => ("Constant", config!("value": value)),
            Initializer::GlorotUniform => ("GlorotUniform", Config::new()),
            Initializer::GlorotNormal => ("GlorotNormal", Config::new()),
            Initializer::HeNormal => ("HeNormal", Config::new()),
            Initializer::HeUniform => ("HeUniform", Config::new()),
            Initializer::LecunNormal => ("LecunNormal", Config::new()),
            Initializer::LecunUniform => ("LecunUniform", Config::new()),
            Initializer::RandomNormal { mean, stddev } => {
                ("RandomNormal", config!("mean": mean, "stddev": stddev))
            }
            Initializer::RandomUniform { minval, maxval } => {
                ("RandomUniform", config!("minval": minval, "maxval": maxval))
            }
            Initializer::Orthogonal { gain } => ("Orthogonal", config!("gain": gain)),
        };
        class_value(class_name, config)
    }

    fn from_class(class_name: &str, fields: &mut Fields<'_>) -> Result<Option<Self>> {
        let is_constant = class_name.eq_ignore_ascii_case("constant");
        let initializer =
            if is_constant { Some(Initializer::Constant(0.0)) } else { Initializer::from_name(class_name) };
        let Some(mut initializer) = initializer else { return Ok(None) };
        match &mut initializer {
            Initializer::Constant(value) => fields.update("value", value)?,
            Initializer::RandomNormal { mean, stddev } => {
                fields.update("mean", mean)?;
                fields.update("stddev", stddev)?;
            }
            Initializer::RandomUniform { minval, maxval } => {
                fields.update("minval", minval)?;
                fields.update("maxval", maxval)?;
            }
            Initializer::Orthogonal { gain } => fields.update("gain", gain)?,
            _ => {}
        }
        Ok(Some(initializer))
    }
}

/// Keras's regularizer classes: `{"class_name": "L2", "config": {"l2": 0.01}}`.
impl Setting for Regularizer {
    fn to_value(&self) -> Value {
        match *self {
            Regularizer::L1(l1) => class_value("L1", config!("l1": l1)),
            Regularizer::L2(l2) => class_value("L2", config!("l2": l2)),
            Regularizer::L1L2 { l1, l2 } => class_value("L1L2", config!("l1": l1, "l2": l2)),
        }
    }

    fn from_class(class_name: &str, fields: &mut Fields<'_>) -> Result<Option<Self>> {
        let Some(mut regularizer) = Regularizer::from_name(class_name) else { return Ok(None) };
        match &mut regularizer {
            Regularizer::L1(l1) => fields.update("l1", l1)?,
            Regularizer::L2(l2) => fields.update("l2", l2)?,
            Regularizer::L1L2 { l1, l2 } => {
                fields.update("l1", l1)?;
                fields.update("l2", l2)?;
            }
        }
        Ok(Some(regularizer))
    }
}

/// `"valid"` or `"same"`; padding has no parameters, so no class form.
impl Setting for Padding {
    fn to_value(&self) -> Value {
        Value::from(match self {
            Padding::Valid => "valid",
            Padding::Same => "same",
        })
    }

    fn from_class(_class_name: &str, _fields: &mut Fields<'_>) -> Result<Option<Self>> {
        Ok(None)
    }
}
