//! Layers by class name, as Keras's `keras.layers.serialize` / `deserialize`: a layer is written
//! as `{"class_name": "Dense", "config": {...}}` and made again from that.

use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};

use super::config::{Fields, config};
use super::{
    ActivationLayer, Add, AveragePooling2D, BatchNormalization, Concatenate, Config, Conv2D, Conv2DTranspose,
    Dense, DepthwiseConv2D, Dropout, Embedding, Flatten, GRU, GlobalAveragePooling2D, GlobalMaxPooling2D,
    Input, LSTM, LeakyReLU, MaxPooling2D, PReLU, ReLU, Reshape, SimpleRNN, Softmax, SpatialDropout2D,
    UpSampling2D, ZeroPadding2D,
};
use crate::{Layer, Model, NnError, Result};

/// The classes [`from_config`] makes, for its error message.
const CLASSES: &[&str] = &[
    "Activation",
    "Add",
    "AveragePooling2D",
    "BatchNormalization",
    "Concatenate",
    "Conv2D",
    "Conv2DTranspose",
    "Dense",
    "DepthwiseConv2D",
    "Dropout",
    "Embedding",
    "Flatten",
    "Functional",
    "GRU",
    "GlobalAveragePooling2D",
    "GlobalMaxPooling2D",
    "InputLayer",
    "LSTM",
    "LeakyReLU",
    "MaxPooling2D",
    "PReLU",
    "ReLU",
    "Reshape",
    "Sequential",
    "SimpleRNN",
    "Softmax",
    "SpatialDropout2D",
    "UpSampling2D",
    "ZeroPadding2D",
];

/// Makes a layer of a class registered with [`register`] from its config.
pub type Constructor = fn(&Config) -> Result<Box<dyn Layer>>;

/// The classes users registered, by class name.
fn registered() -> &'static RwLock<HashMap<String, Constructor>> {
    static REGISTERED: OnceLock<RwLock<HashMap<String, Constructor>>> = OnceLock::new();
    REGISTERED.get_or_init(Default::default)
}

/// Keras's `register_keras_serializable` (or `custom_objects`): makes a layer class of your own
/// known to [`from_config`], so models holding it load from their files and configs (and
/// [`crate::Model::graph`] can copy it). `class_name` is what the layer's
/// [`Layer::class_name`] returns; registering it again replaces the constructor. The crate's
/// own classes cannot be replaced.
///
/// ```
/// use nn::layers::{Config, register};
/// use nn::{Layer, Result};
/// fn make(config: &Config) -> Result<Box<dyn Layer>> {
///     nn::layers::from_config("Dense", config)
/// }
/// register("MyDense", make)?;
/// assert!(register("Dense", make).is_err());
/// # Ok::<(), nn::NnError>(())
/// ```
pub fn register(class_name: &str, constructor: Constructor) -> Result<()> {
    if CLASSES.contains(&class_name) {
        return Err(NnError::Usage(format!(
            "register: \"{class_name}\" is one of the crate's own layer classes; give your class another name"
        )));
    }
    registered()
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .insert(class_name.to_string(), constructor);
    Ok(())
}

/// `{"class_name": ..., "config": ...}` for `layer` (an error for a layer without a config).
pub fn serialize(layer: &dyn Layer) -> Result<Config> {
    Ok(config!("class_name": layer.class_name().to_string(), "config": layer.config()?))
}

/// The layer [`serialize`] wrote, unbuilt: an unknown class or a bad field is an error naming it.
pub fn deserialize(serialized: &Config) -> Result<Box<dyn Layer>> {
    let mut fields = Fields::new("serialized layer", serialized);
    let layer = read(&mut fields)?;
    fields.finish()?;
    Ok(layer)
}

/// The layer of class `class_name` (Keras's class names: "Dense", "InputLayer"...) that `config`
/// describes.
pub fn from_config(class_name: &str, config: &Config) -> Result<Box<dyn Layer>> {
    Ok(match class_name {
        "Activation" => Box::new(ActivationLayer::from_config(config)?),
        "Add" => Box::new(Add::from_config(config)?),
        "AveragePooling2D" => Box::new(AveragePooling2D::from_config(config)?),
        "BatchNormalization" => Box::new(BatchNormalization::from_config(config)?),
        "Concatenate" => Box::new(Concatenate::from_config(config)?),
        "Conv2D" => Box::new(Conv2D::from_config(config)?),
        "Conv2DTranspose" => Box::new(Conv2DTranspose::from_config(config)?),
        "Dense" => Box::new(Dense::from_config(config)?),
        "DepthwiseConv2D" => Box::new(DepthwiseConv2D::from_config(config)?),
        "Dropout" => Box::new(Dropout::from_config(config)?),
        "Embedding" => Box::new(Embedding::from_config(config)?),
        "Flatten" => Box::new(Flatten::from_config(config)?),
        // A nested model's config is its whole architecture.
        "Functional" | "Sequential" => Box::new(Model::from_architecture(
            &config!("class_name": class_name.to_string(), "config": config.clone()),
        )?),
        "GRU" => Box::new(GRU::from_config(config)?),
        "GlobalAveragePooling2D" => Box::new(GlobalAveragePooling2D::from_config(config)?),
        "GlobalMaxPooling2D" => Box::new(GlobalMaxPooling2D::from_config(config)?),
        "InputLayer" => Box::new(Input::from_config(config)?),
        "LSTM" => Box::new(LSTM::from_config(config)?),
        "LeakyReLU" => Box::new(LeakyReLU::from_config(config)?),
        "MaxPooling2D" => Box::new(MaxPooling2D::from_config(config)?),
        "PReLU" => Box::new(PReLU::from_config(config)?),
        "ReLU" => Box::new(ReLU::from_config(config)?),
        "Reshape" => Box::new(Reshape::from_config(config)?),
        "SimpleRNN" => Box::new(SimpleRNN::from_config(config)?),
        "Softmax" => Box::new(Softmax::from_config(config)?),
        "SpatialDropout2D" => Box::new(SpatialDropout2D::from_config(config)?),
        "UpSampling2D" => Box::new(UpSampling2D::from_config(config)?),
        "ZeroPadding2D" => Box::new(ZeroPadding2D::from_config(config)?),
        _ => {
            let registered = registered().read().unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(constructor) = registered.get(class_name) {
                return constructor(config);
            }
            let mut names: Vec<&str> = registered.keys().map(String::as_str).collect();
            names.sort_unstable();
            let yours = match names.as_slice() {
                [] => {
                    "; a layer class of your own must be registered first (nn::layers::register)".to_string()
                }
                names => format!(", or one registered: {}", names.join(", ")),
            };
            return Err(NnError::Config(format!(
                "unknown layer class \"{class_name}\"; expected one of: {}{yours}",
                CLASSES.join(", ")
            )));
        }
    })
}

/// The layer whose `class_name` and `config` are fields of `fields` (which may hold more, such
/// as a functional model's connections).
pub(crate) fn read(fields: &mut Fields<'_>) -> Result<Box<dyn Layer>> {
    let class_name: String = fields.required("class_name")?;
    let config: Config = fields.required("config")?;
    from_config(&class_name, &config)
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use tensor_core::{DType, Padding};

    use super::*;
    use crate::Apply;
    use crate::activations::Activation;
    use crate::initializers::Initializer;
    use crate::regularizers::Regularizer;

    /// A layer and the input shapes to build it for.
    type Case = (Box<dyn Layer>, Vec<Vec<usize>>);

    /// A model of two layers, to nest in another as one layer.
    fn nested_functional() -> Model {
        let x = Input::new(&[4]).symbolic().unwrap();
        let h = Dense::new(3).seed(3).apply(&[&x]).unwrap();
        let y = Dense::new(2).seed(4).apply(&[&h]).unwrap();
        let mut model = Model::functional(&[&x], &y).unwrap();
        model.set_name("inner");
        model
    }

    /// One layer of every class, with settings away from their defaults where it has any.
    fn every_class() -> Vec<Case> {
        let image = vec![vec![6, 6, 3]];
        vec![
            (Box::new(ActivationLayer::new(Activation::LeakyRelu(0.1)).named("act")), vec![vec![4]]),
            (Box::new(Add::new().trainable(false)), vec![vec![4], vec![4]]),
            (Box::new(AveragePooling2D::new().pool_size(3).strides((1, 2)).padding("same")), image.clone()),
            (
                Box::new(
                    BatchNormalization::new()
                        .axis(1)
                        .momentum(0.9)
                        .epsilon(1e-5)
                        .gamma_initializer(Initializer::Constant(0.5))
                        .moving_variance_initializer("zeros")
                        .seed(7),
                ),
                vec![vec![5, 2]],
            ),
            (Box::new(Concatenate::new().axis(1)), vec![vec![2, 3], vec![4, 3]]),
            (
                Box::new(
                    Conv2D::new(4, (3, 2))
                        .strides(2)
                        .padding(Padding::Same)
                        .activation("relu")
                        .use_bias(false)
                        .kernel_initializer(Initializer::RandomNormal { mean: 0.1, stddev: 0.2 })
                        .kernel_regularizer(Regularizer::L1L2 { l1: 0.1, l2: 0.2 })
                        .input_shape(&[6, 6, 3])
                        .dtype(DType::F64)
                        .seed(11),
                ),
                image.clone(),
            ),
            (
                Box::new(
                    Conv2DTranspose::new(5, (2, 3))
                        .strides((2, 1))
                        .padding("same")
                        .activation("sigmoid")
                        .bias_initializer(Initializer::Constant(0.1))
                        .bias_regularizer("l1")
                        .seed(13),
                ),
                image.clone(),
            ),
            (
                Box::new(
                    Dense::new(3)
                        .activation(Activation::Step(0.5))
                        .bias_initializer(Initializer::RandomUniform { minval: -1.0, maxval: 2.0 })
                        .bias_regularizer("l2")
                        .named("head")
                        .trainable(false),
                ),
                vec![vec![4]],
            ),
            (
                Box::new(
                    DepthwiseConv2D::new((3, 2))
                        .strides((2, 1))
                        .padding("same")
                        .depth_multiplier(2)
                        .activation("relu")
                        .depthwise_initializer(Initializer::RandomNormal { mean: 0.1, stddev: 0.2 })
                        .bias_initializer(Initializer::Constant(0.1))
                        .depthwise_regularizer("l2")
                        .bias_regularizer("l1")
                        .seed(17),
                ),
                image.clone(),
            ),
            (Box::new(Dropout::new(0.25)), vec![vec![4]]),
            (
                Box::new(
                    Embedding::new(11, 3)
                        .embeddings_initializer(Initializer::random_normal())
                        .embeddings_regularizer("l1")
                        .seed(5),
                ),
                vec![vec![7]],
            ),
            (Box::new(Flatten::new()), image.clone()),
            (Box::new(nested_functional()), vec![vec![4]]),
            (
                Box::new(
                    GRU::new(4)
                        .reset_after(false)
                        .return_sequences(true)
                        .go_backwards(true)
                        .recurrent_activation("tanh")
                        .bias_initializer("random_normal")
                        .recurrent_regularizer("l2"),
                ),
                vec![vec![3, 2]],
            ),
            (Box::new(GlobalAveragePooling2D::new().keepdims(true)), image.clone()),
            (Box::new(GlobalMaxPooling2D::new()), image.clone()),
            (Box::new(Input::new(&[6, 6, 3]).named("pixels")), vec![]),
            (
                Box::new(
                    LSTM::new(3)
                        .unit_forget_bias(false)
                        .activation("relu")
                        .use_bias(false)
                        .kernel_regularizer(Regularizer::L2(0.1))
                        .dtype(DType::F64),
                ),
                vec![vec![5, 4]],
            ),
            (Box::new(LeakyReLU::new().negative_slope(0.01)), vec![vec![4]]),
            (Box::new(MaxPooling2D::new().pool_size((2, 3))), image.clone()),
            (
                Box::new(
                    PReLU::new()
                        .shared_axes(&[1, 2])
                        .alpha_initializer(Initializer::Constant(0.25))
                        .alpha_regularizer("l2")
                        .dtype(DType::F64),
                ),
                image.clone(),
            ),
            (Box::new(ReLU::new().max_value(6.0).negative_slope(0.1).threshold(0.5)), vec![vec![4]]),
            (Box::new(Reshape::new(&[-1, 3])), image.clone()),
            (
                Box::new(Model::sequential(vec![Box::new(Dense::new(2).input_shape(&[4]).seed(5))]).unwrap()),
                vec![vec![4]],
            ),
            (
                Box::new(
                    SimpleRNN::new(5)
                        .return_sequences(true)
                        .recurrent_initializer(Initializer::Orthogonal { gain: 2.0 })
                        .recurrent_regularizer(Regularizer::L1(0.3))
                        .activation("sigmoid"),
                ),
                vec![vec![3, 2]],
            ),
            (Box::new(Softmax::new().axis(1)), vec![vec![3, 2]]),
            (Box::new(SpatialDropout2D::new(0.5)), image.clone()),
            (Box::new(UpSampling2D::new().size((3, 2))), image.clone()),
            (Box::new(ZeroPadding2D::new().padding(((0, 1), (2, 3)))), image),
        ]
    }

    #[test]
    fn every_class_is_made_again_from_its_config() {
        let classes: Vec<&str> = every_class().iter().map(|(l, _)| l.class_name()).collect();
        assert_eq!(classes, CLASSES, "every class deserialize knows is covered, in order");
        for (mut layer, inputs) in every_class() {
            let serialized = serialize(layer.as_ref()).unwrap();
            let mut copy = deserialize(&serialized).unwrap();
            assert_eq!(serialize(copy.as_ref()).unwrap(), serialized, "{}", layer.class_name());
            // The copy builds to the same shape, with weights of the same names, shapes, dtypes,
            // trainability and (from the same seed) values.
            assert_eq!(copy.build(&inputs).unwrap(), layer.build(&inputs).unwrap());
            let describe = |l: &dyn Layer| -> Vec<_> {
                l.weights()
                    .iter()
                    .map(|w| (w.name().to_string(), w.trainable(), w.value().to_vec_f64().unwrap()))
                    .collect()
            };
            assert_eq!(describe(copy.as_ref()), describe(layer.as_ref()), "{}", layer.class_name());
            assert_eq!(copy.declared_input_shape(), layer.declared_input_shape());
        }
    }

    #[test]
    fn settings_are_written_as_keras_writes_them() {
        let dense = Dense::new(3).activation("relu").kernel_regularizer("l2").named("d").seed(1);
        let config = dense.config().unwrap();
        assert_eq!(config["activation"], json!("relu"));
        assert_eq!(config["kernel_initializer"], json!({"class_name": "GlorotUniform", "config": {}}));
        assert_eq!(config["kernel_regularizer"], json!("l2"));
        assert_eq!(config["bias_regularizer"], json!(null));
        assert_eq!(config["dtype"], json!("float32"));
        let conv = Conv2D::new(2, 3).input_shape(&[8, 8, 1]).kernel_regularizer(Regularizer::L2(0.5));
        let config = conv.config().unwrap();
        assert_eq!(config["kernel_size"], json!([3, 3]));
        assert_eq!(config["padding"], json!("valid"));
        assert_eq!(config["batch_input_shape"], json!([null, 8, 8, 1]));
        assert_eq!(config["kernel_regularizer"], json!({"class_name": "L2", "config": {"l2": 0.5}}));
        assert_eq!(Input::new(&[2]).config().unwrap()["batch_shape"], json!([null, 2]));
    }

    #[test]
    fn missing_settings_take_the_defaults_and_short_forms_are_read() {
        let config = json!({"units": 4, "kernel_initializer": "he_normal"});
        let dense =
            deserialize(json!({"class_name": "Dense", "config": config}).as_object().unwrap()).unwrap();
        let written = dense.config().unwrap();
        assert_eq!(written["kernel_initializer"], json!("he_normal"));
        assert_eq!(written["activation"], json!("linear"));
        assert_eq!(written["use_bias"], json!(true));
        let conv =
            from_config("Conv2D", json!({"filters": 2, "kernel_size": 5}).as_object().unwrap()).unwrap();
        assert_eq!(conv.config().unwrap()["kernel_size"], json!([5, 5]));
    }

    /// The message of the error `deserialize` gives for `serialized`.
    fn error(serialized: serde_json::Value) -> String {
        deserialize(serialized.as_object().unwrap()).err().expect("an error").to_string()
    }

    #[test]
    fn bad_configs_are_errors_naming_the_class_and_the_field() {
        let message = error(json!({"class_name": "Conv3D", "config": {}}));
        assert!(
            message.contains("unknown layer class \"Conv3D\"")
                && message.contains("Conv2D, Conv2DTranspose, Dense"),
            "{message}"
        );
        let message = error(json!({"class_name": "Dense", "config": {"name": "d", "units": "ten"}}));
        assert_eq!(message, "layer \"d\" (Dense): field \"units\": expected a whole number, got \"ten\"");
        let message = error(json!({"class_name": "Dense", "config": {"activation": "relu"}}));
        assert_eq!(message, "Dense layer: missing field \"units\"");
        let message = error(json!({"class_name": "Dense", "config": {"units": 2, "unit": 3}}));
        assert!(
            message.starts_with("Dense layer: unknown field \"unit\"; expected units, activation"),
            "{message}"
        );
        let message = error(json!({"class_name": "Dense", "config": {"units": 2, "activation": "relux"}}));
        assert!(
            message.contains("field \"activation\": unknown activation \"relux\"; expected one of"),
            "{message}"
        );
        let message = error(json!({"class_name": "Dense", "config": {"units": 2,
            "kernel_initializer": {"class_name": "RandomNormal", "config": {"stdev": 1.0}}}}));
        assert!(
            message.contains("initializer RandomNormal: unknown field \"stdev\"; expected mean, stddev"),
            "{message}"
        );
        let message =
            error(json!({"class_name": "Conv2D", "config": {"filters": 2, "kernel_size": [1, 2, 3]}}));
        assert!(
            message
                .contains("field \"kernel_size\": expected [height, width] or a whole number, got [1,2,3]"),
            "{message}"
        );
        let message = error(json!({"class_name": "InputLayer", "config": {"batch_shape": [4, 2]}}));
        assert!(
            message.contains("expected a shape with its batch axis, [null, d1, d2, ...], got [4,2]"),
            "{message}"
        );
        assert!(error(json!({"config": {}})).contains("serialized layer: missing field \"class_name\""));
    }
}
