//! What every layer keeps besides its own settings: its name, declared input shape, build
//! state, dtype, seed, trainable flag and weights; and the checks built on them.

use tensor_core::{DType, Shape, Tensor, cpu};

use super::config::{BatchShape, Fields, ToValue, config};
use super::weight_gate;
use crate::initializers::{Initializer, derive_seed, next_layer_seed};
use crate::layers::{Config, KerasName, Spec};
use crate::regularizers::Regularizer;
use crate::{ForwardCtx, NnError, Result, Weight};

/// A weight and whether training may ever update it (BatchNormalization's moving statistics
/// may not, whatever the layer's trainable flag says).
struct Slot {
    weight: Weight,
    learnable: bool,
}

/// The bookkeeping shared by all layers.
pub(crate) struct LayerBase {
    pub(crate) name: String,
    pub(crate) declared_input: Option<Vec<usize>>,
    /// The input shapes the layer was built for, once built.
    built: Option<Vec<Vec<usize>>>,
    pub(crate) dtype: DType,
    pub(crate) seed: u64,
    pub(crate) trainable: bool,
    slots: Vec<Slot>,
}

/// `(None, d1, d2, ...)`, the way Keras prints a shape with its batch axis.
pub(crate) fn batch_shape(dims: &[usize]) -> String {
    let dims: Vec<String> = dims.iter().map(usize::to_string).collect();
    format!("({})", ["None".to_string()].into_iter().chain(dims).collect::<Vec<_>>().join(", "))
}

impl LayerBase {
    /// A trainable f32 layer named `base_name`, with the next seed of the thread's stream.
    pub(crate) fn new(base_name: &str) -> LayerBase {
        LayerBase {
            name: base_name.to_string(),
            declared_input: None,
            built: None,
            dtype: DType::F32,
            seed: next_layer_seed(),
            trainable: true,
            slots: Vec::new(),
        }
    }

    /// Keras's base config: the name, the trainable flag and the input shape declared on the
    /// layer, with its batch axis (Keras's `batch_input_shape`).
    pub(crate) fn config(&self) -> Config {
        let mut config = config!("name": self.name, "trainable": self.trainable);
        if let Some(shape) = &self.declared_input {
            config.insert("batch_input_shape".into(), BatchShape(shape.clone()).to_value());
        }
        config
    }

    /// [`LayerBase::config`] and what layers with weights add: the dtype of the weights and the
    /// seed of their initializers, so that a layer made from the config starts from the same
    /// values.
    pub(crate) fn weighted_config(&self) -> Config {
        let mut config = self.config();
        config.extend(config!("dtype": self.dtype, "seed": self.seed));
        config
    }

    /// Reads back what [`LayerBase::config`] wrote; missing fields keep their defaults.
    pub(crate) fn read_config(&mut self, fields: &mut Fields<'_>) -> Result<()> {
        fields.update("name", &mut self.name)?;
        fields.update("trainable", &mut self.trainable)?;
        if let Some(BatchShape(shape)) = fields.get("batch_input_shape")? {
            self.declared_input = Some(shape);
        }
        Ok(())
    }

    /// Reads back what [`LayerBase::weighted_config`] wrote.
    pub(crate) fn read_weighted_config(&mut self, fields: &mut Fields<'_>) -> Result<()> {
        self.read_config(fields)?;
        fields.update("dtype", &mut self.dtype)?;
        fields.update("seed", &mut self.seed)
    }

    /// Reads Keras's `data_format`, which tessera's image layers take as "channels_last" (or
    /// null, Keras's default, which is the same); any other is an error naming the layer.
    pub(crate) fn read_channels_last(&self, fields: &mut Fields<'_>) -> Result<()> {
        let format: Option<Option<String>> = fields.get("data_format")?;
        match format.flatten().filter(|f| f != "channels_last") {
            Some(other) => {
                Err(self
                    .error(format!("data_format \"{other}\" is not supported; expected \"channels_last\"")))
            }
            None => Ok(()),
        }
    }

    /// An error that names this layer.
    pub(crate) fn error(&self, detail: impl Into<String>) -> NnError {
        NnError::layer(&self.name, detail)
    }

    /// Resolves a setting given by name, or says which names exist.
    pub(crate) fn resolve<T: KerasName>(&self, spec: &Spec<T>) -> Result<T> {
        spec.resolve().map_err(|detail| self.error(detail))
    }

    /// Resolves an optional regularizer given by name.
    pub(crate) fn resolve_regularizer(
        &self,
        spec: &Option<Spec<Regularizer>>,
    ) -> Result<Option<Regularizer>> {
        spec.as_ref().map(|s| self.resolve(s)).transpose()
    }

    /// The one input shape of a single-input layer.
    pub(crate) fn single<'a>(&self, inputs: &'a [Vec<usize>]) -> Result<&'a [usize]> {
        match inputs {
            [shape] => Ok(shape),
            _ => Err(self.error(format!("expected 1 input, got {}", inputs.len()))),
        }
    }

    /// An error saying the layer needs inputs of `expected` (described) but got `shape`.
    pub(crate) fn shape_error(&self, expected: &str, shape: &[usize]) -> NnError {
        self.error(format!("expected {expected}, got input shape {}", batch_shape(shape)))
    }

    /// Builds the layer for `inputs`, creating its weights with `create`, unless it was already
    /// built for the same shapes (a layer moved between models keeps its weights). Building for
    /// other shapes is an error; a failed build leaves the layer unbuilt.
    pub(crate) fn build_weights(
        &mut self,
        inputs: &[Vec<usize>],
        create: impl FnOnce(&mut LayerBase) -> Result<()>,
    ) -> Result<()> {
        match &self.built {
            Some(previous) if previous == inputs => return Ok(()),
            Some(previous) => {
                return Err(self.error(format!(
                    "was built for input shapes {}, cannot be built again for {}",
                    shapes(previous),
                    shapes(inputs)
                )));
            }
            None => {}
        }
        if let Err(e) = create(self) {
            self.slots.clear();
            return Err(e);
        }
        self.built = Some(inputs.to_vec());
        Ok(())
    }

    /// Adds a weight of `shape` drawn by `init` (from the layer's seed, its own stream per
    /// weight). `learnable`: whether training may update it at all.
    pub(crate) fn add_weight(
        &mut self,
        name: &str,
        shape: &[usize],
        init: &Spec<Initializer>,
        learnable: bool,
    ) -> Result<()> {
        let init = self.resolve(init)?;
        // Weight shapes come from user numbers (units, filters, kernel sizes, a file's config):
        // their size is checked before anything is allocated, and errors name the layer.
        let described = batch_free_shape(shape);
        let elements = Shape::from(shape).checked_numel("add_weight").map_err(|_| {
            self.error(format!(
                "weight {name} of shape {described} has more elements than memory can address"
            ))
        })?;
        let what = format_args!("weight {name} of shape {described} ({elements} elements of {})", self.dtype);
        // The gate first: a model file's loader says more precisely why a weight cannot be.
        weight_gate::check_weight(&self.name, name, shape)?;
        cpu::check_host_bytes("add_weight", &what, elements, self.dtype.size_in_bytes())
            .map_err(|e| self.error(e.to_string()))?;
        let seed = derive_seed(self.seed, self.slots.len() as u32);
        let value = init
            .sample(shape, seed, self.dtype)
            .map_err(|e| self.error(format!("weight {name} of shape {described}: {e}")))?;
        let weight = Weight::new(name, value, learnable && self.trainable);
        self.slots.push(Slot { weight, learnable });
        Ok(())
    }

    /// The `index`-th weight, in creation order (an error if the layer was built without it).
    pub(crate) fn weight(&self, index: usize) -> Result<&Weight> {
        self.slots.get(index).map(|s| &s.weight).ok_or_else(|| {
            self.error(format!(
                "has {} weight(s), not {}; was a setting changed after it was built?",
                self.slots.len(),
                index + 1
            ))
        })
    }

    /// Every weight, in creation order.
    pub(crate) fn weights(&self) -> Vec<&Weight> {
        self.slots.iter().map(|s| &s.weight).collect()
    }

    /// Every weight, to change.
    pub(crate) fn weights_mut(&mut self) -> Vec<&mut Weight> {
        self.slots.iter_mut().map(|s| &mut s.weight).collect()
    }

    /// Freezes or unfreezes the layer, now and for weights it creates later.
    pub(crate) fn set_trainable(&mut self, trainable: bool) {
        self.trainable = trainable;
        for slot in &mut self.slots {
            slot.weight.set_trainable(trainable && slot.learnable);
        }
    }

    /// Checks a batch against the built input shapes (any batch size) and, for layers with
    /// weights, their dtype.
    pub(crate) fn check_inputs(&self, inputs: &[Tensor]) -> Result<()> {
        let Some(built) = &self.built else {
            return Err(self.error("is not built; build it or add it to a model before calling it"));
        };
        if inputs.len() != built.len() {
            return Err(self.error(format!("expected {} input(s), got {}", built.len(), inputs.len())));
        }
        for (k, (x, shape)) in inputs.iter().zip(built).enumerate() {
            if x.dims().get(1..) != Some(shape.as_slice()) {
                return Err(self.error(format!(
                    "input {k}: expected shape {}, got {}",
                    batch_shape(shape),
                    x.shape()
                )));
            }
            // Under mixed precision, f32 weights compute with f16 inputs (cast for the pass).
            let mixed = x.dtype() == DType::F16 && self.dtype == DType::F32;
            if let Some(slot) = self.slots.first().filter(|s| s.weight.value().dtype() != x.dtype() && !mixed)
            {
                return Err(self.error(format!(
                    "input {k}: expected dtype {} (the layer's weights), got {}",
                    slot.weight.value().dtype(),
                    x.dtype()
                )));
            }
        }
        Ok(())
    }

    /// The sum of the penalties of the regularized weights, if any is regularized.
    pub(crate) fn penalties(
        &self,
        ctx: &mut ForwardCtx<'_>,
        terms: &[(usize, Option<Regularizer>)],
    ) -> Result<Option<Tensor>> {
        let mut total: Option<Tensor> = None;
        for &(index, regularizer) in terms {
            let (Some(regularizer), Some(slot)) = (regularizer, self.slots.get(index)) else { continue };
            let penalty = regularizer.penalty(&ctx.weight(&slot.weight))?;
            total = Some(match total {
                None => penalty,
                Some(sum) => sum.add(&penalty)?,
            });
        }
        Ok(total)
    }
}

/// A shape without a batch axis, as Keras prints one: `(784, 10)`.
pub(crate) fn batch_free_shape(dims: &[usize]) -> String {
    let dims: Vec<String> = dims.iter().map(usize::to_string).collect();
    let trailing = if dims.len() == 1 { "," } else { "" };
    format!("({}{trailing})", dims.join(", "))
}

/// Shapes as Keras prints them, for messages.
fn shapes(list: &[Vec<usize>]) -> String {
    list.iter().map(|s| batch_shape(s)).collect::<Vec<_>>().join(", ")
}

/// The `Layer` methods every layer implements the same way from its `base` field.
macro_rules! layer_basics {
    ($class:literal, $base_name:literal) => {
        fn class_name(&self) -> &'static str {
            $class
        }

        fn base_name(&self) -> &'static str {
            $base_name
        }

        fn name(&self) -> &str {
            &self.base.name
        }

        fn set_name(&mut self, name: String) {
            self.base.name = name;
        }

        fn declared_input_shape(&self) -> Option<&[usize]> {
            self.base.declared_input.as_deref()
        }

        fn weights(&self) -> Vec<&crate::Weight> {
            self.base.weights()
        }

        fn weights_mut(&mut self) -> Vec<&mut crate::Weight> {
            self.base.weights_mut()
        }

        fn set_trainable(&mut self, trainable: bool) {
            self.base.set_trainable(trainable);
        }
    };
}

/// The builder methods every layer has: `named`, `input_shape`, `trainable`.
macro_rules! layer_builders {
    ($layer:ty) => {
        impl $layer {
            /// Names the layer (otherwise its model names it: dense, dense_1, ...).
            pub fn named(mut self, name: impl Into<String>) -> Self {
                self.base.name = name.into();
                self
            }

            /// Declares the input shape (batch axis excluded), which starts a Sequential model.
            pub fn input_shape(mut self, shape: &[usize]) -> Self {
                self.base.declared_input = Some(shape.to_vec());
                self
            }

            /// Creates the layer frozen (false) or trainable (true, the default).
            pub fn trainable(mut self, trainable: bool) -> Self {
                self.base.trainable = trainable;
                self
            }
        }
    };
}

/// The builder methods of layers with weights: `dtype` and `seed`.
macro_rules! weight_builders {
    ($layer:ty) => {
        impl $layer {
            /// The dtype of the weights (f32 by default; f64 on the CPU for gradient checks).
            pub fn dtype(mut self, dtype: tensor_core::DType) -> Self {
                self.base.dtype = dtype;
                self
            }

            /// The seed of the initializers (otherwise drawn from the thread's stream, see
            /// [`crate::set_random_seed`]).
            pub fn seed(mut self, seed: u64) -> Self {
                self.base.seed = seed;
                self
            }
        }
    };
}

/// The builder methods of layers with a kernel and a bias (Dense, Conv2D, SimpleRNN), which
/// keep them in fields of these names.
macro_rules! kernel_builders {
    ($layer:ty) => {
        impl $layer {
            /// The activation, by value or Keras name ("relu").
            pub fn activation(
                mut self,
                activation: impl Into<$crate::layers::Spec<$crate::activations::Activation>>,
            ) -> Self {
                self.activation = activation.into();
                self
            }

            /// Whether to add a bias (true by default).
            pub fn use_bias(mut self, use_bias: bool) -> Self {
                self.use_bias = use_bias;
                self
            }

            /// How the kernel starts (glorot_uniform by default), by value or Keras name.
            pub fn kernel_initializer(
                mut self,
                init: impl Into<$crate::layers::Spec<$crate::initializers::Initializer>>,
            ) -> Self {
                self.kernel_initializer = init.into();
                self
            }

            /// How the bias starts (zeros by default), by value or Keras name.
            pub fn bias_initializer(
                mut self,
                init: impl Into<$crate::layers::Spec<$crate::initializers::Initializer>>,
            ) -> Self {
                self.bias_initializer = init.into();
                self
            }

            /// A penalty on the kernel added to the loss, by value or Keras name ("l2").
            pub fn kernel_regularizer(
                mut self,
                regularizer: impl Into<$crate::layers::Spec<$crate::regularizers::Regularizer>>,
            ) -> Self {
                self.kernel_regularizer = Some(regularizer.into());
                self
            }

            /// A penalty on the bias added to the loss, by value or Keras name ("l2").
            pub fn bias_regularizer(
                mut self,
                regularizer: impl Into<$crate::layers::Spec<$crate::regularizers::Regularizer>>,
            ) -> Self {
                self.bias_regularizer = Some(regularizer.into());
                self
            }
        }
    };
}

pub(crate) use {kernel_builders, layer_basics, layer_builders, weight_builders};
