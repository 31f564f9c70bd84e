//! `nn::applications`: VGG16 and MobileNet as Keras 3 builds them (keras/src/applications/vgg16.py
//! and mobilenet.py of Keras 3.15.1: layer names, output shapes, parameter counts), Keras's
//! option rules as errors, their weights from a file in the layout of Keras's own weight files
//! (and Keras 3's `.weights.h5`) predicting exactly as the model they came from, on the CPU and
//! the GPU, and `preprocess_input`'s known answers.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use common::fixtures::{scratch, write};
use hdf5_pure::{AttrValue, FileBuilder};
use tessera::nn::applications::mobilenet::{self, MobileNet};
use tessera::nn::applications::vgg16::{self, Vgg16};
use tessera::nn::applications::{Pooling, Weights};
use tessera::nn::io::{load_keras, save_keras, save_keras_weights};
use tessera::nn::{Graph, Model, NnError, set_random_seed};
use tessera::{DType, Device, Tensor};

/// VGG16's layers with the top at 224x224x3, as Keras's `model.summary()` lists them: name,
/// output shape (batch excluded) and parameter count.
const KERAS_VGG16: &[(&str, &[usize], usize)] = &[
    ("input_layer", &[224, 224, 3], 0),
    ("block1_conv1", &[224, 224, 64], 1_792),
    ("block1_conv2", &[224, 224, 64], 36_928),
    ("block1_pool", &[112, 112, 64], 0),
    ("block2_conv1", &[112, 112, 128], 73_856),
    ("block2_conv2", &[112, 112, 128], 147_584),
    ("block2_pool", &[56, 56, 128], 0),
    ("block3_conv1", &[56, 56, 256], 295_168),
    ("block3_conv2", &[56, 56, 256], 590_080),
    ("block3_conv3", &[56, 56, 256], 590_080),
    ("block3_pool", &[28, 28, 256], 0),
    ("block4_conv1", &[28, 28, 512], 1_180_160),
    ("block4_conv2", &[28, 28, 512], 2_359_808),
    ("block4_conv3", &[28, 28, 512], 2_359_808),
    ("block4_pool", &[14, 14, 512], 0),
    ("block5_conv1", &[14, 14, 512], 2_359_808),
    ("block5_conv2", &[14, 14, 512], 2_359_808),
    ("block5_conv3", &[14, 14, 512], 2_359_808),
    ("block5_pool", &[7, 7, 512], 0),
    ("flatten", &[25_088], 0),
    ("fc1", &[4_096], 102_764_544),
    ("fc2", &[4_096], 16_781_312),
    ("predictions", &[1_000], 4_097_000),
];

/// The layers up to `block5_pool`: VGG16 without its top.
const CONVOLUTIONAL_LAYERS: usize = 19;

/// The GPU's f32 convolutions sum their 3x3xC products (up to 4608 of them) in another order
/// than the CPU's; over 13 such layers and the top, lavapipe's outputs (of order 0.1 to 1 here)
/// move by about 2e-6 of the largest, other GPUs' kernels may sum in other orders again.
const GPU_RELATIVE_TOLERANCE: f32 = 1e-4;

/// Keeps every warning logged in this test binary, to check what a user is told.
struct Warnings(Mutex<Vec<String>>);

static WARNINGS: Warnings = Warnings(Mutex::new(Vec::new()));

impl log::Log for Warnings {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Warn
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            self.0.lock().unwrap().push(record.args().to_string());
        }
    }

    fn flush(&self) {}
}

/// The warnings logged so far that mention `needle`.
fn warnings_about(needle: &str) -> Vec<String> {
    if log::set_logger(&WARNINGS).is_ok() {
        log::set_max_level(log::LevelFilter::Warn);
    }
    WARNINGS.0.lock().unwrap().iter().filter(|w| w.contains(needle)).cloned().collect()
}

fn names(model: &Model) -> Vec<String> {
    model.layers().iter().map(|l| l.name().to_string()).collect()
}

fn params(model: &Model, layer: &str) -> usize {
    model.get_layer(layer).unwrap().weights().iter().map(|w| w.numel()).sum()
}

fn output_shape(graph: &Graph, layer: &str) -> Vec<usize> {
    graph.layer_output(layer).unwrap().shape().to_vec()
}

/// A batch of `n` RGB images of `size`x`size` pixels in [0, 255], preprocessed for VGG16.
fn images(n: usize, size: usize, seed: u64) -> Tensor {
    let pixels = Tensor::uniform(vec![n, size, size, 3], 0.0, 255.0, seed, DType::F32, &Device::Cpu).unwrap();
    vgg16::preprocess_input(&pixels).unwrap()
}

fn values(t: &Tensor) -> Vec<f32> {
    t.to_vec::<f32>().unwrap()
}

/// The usage error of `result`, which must be one, containing `needle`.
fn usage_error(result: Result<Model, NnError>, needle: &str) -> String {
    match result {
        Err(NnError::Usage(message)) => {
            assert!(message.starts_with("vgg16: ") && message.contains(needle), "{message}");
            message
        }
        Err(other) => panic!("expected a usage error containing {needle:?}, got {other}"),
        Ok(_) => panic!("expected a usage error containing {needle:?}, got a model"),
    }
}

/// `model`'s weights in the legacy HDF5 layout of Keras's own VGG16 weight files
/// (`vgg16_weights_tf_dim_ordering_tf_kernels[_notop].h5`): a `layer_names` attribute at the root
/// listing every layer, input and poolings included; a group per layer with a `weight_names`
/// attribute (empty for a layer without weights, which h5py writes as an empty float array);
/// each weight a dataset `<layer>_W_1:0` or `<layer>_b_1:0` in its layer's group.
fn legacy_weights_file(model: &Model, dir: &Path, name: &str) -> PathBuf {
    legacy_file(model, dir, name, |layer, index, _| format!("{layer}_{}_1:0", ["W", "b"][index]))
}

/// `model`'s weights in the legacy layout of Keras 2's weight files, Keras's own MobileNet files
/// (`mobilenet_2_5_224_tf_no_top.h5`) among them: as [`legacy_weights_file`], each weight a
/// dataset `<layer>/<weight>:0`, a depthwise kernel `<layer>/depthwise_kernel:0`.
fn keras2_weights_file(model: &Model, dir: &Path, name: &str) -> PathBuf {
    legacy_file(model, dir, name, |layer, _, weight| {
        let weight =
            if layer.starts_with("conv_dw_") && weight == "kernel" { "depthwise_kernel" } else { weight };
        format!("{layer}/{weight}:0")
    })
}

/// A legacy HDF5 weight file of `model`, each weight's dataset named by `dataset(layer, index,
/// weight name)`.
fn legacy_file(
    model: &Model,
    dir: &Path,
    name: &str,
    dataset: impl Fn(&str, usize, &str) -> String,
) -> PathBuf {
    let mut file = FileBuilder::new();
    let layers = model.layers();
    let layer_names: Vec<String> = layers.iter().map(|l| l.name().to_string()).collect();
    file.set_attr("layer_names", AttrValue::AsciiStringArray(layer_names));
    file.set_attr("keras_version", AttrValue::AsciiString("1.2.2".into()));
    file.set_attr("backend", AttrValue::AsciiString("tensorflow".into()));
    for layer in layers {
        let mut group = file.create_group(layer.name());
        let weights = layer.weights();
        let weight_names: Vec<String> =
            weights.iter().enumerate().map(|(k, w)| dataset(layer.name(), k, w.name())).collect();
        // Keras 2 nests its datasets a level deeper, `<layer>/<layer>/<weight>:0`.
        let mut nested = group.create_group(layer.name());
        for (weight, dataset) in weights.iter().zip(&weight_names) {
            let shape: Vec<u64> = weight.value().dims().iter().map(|&d| d as u64).collect();
            let (holder, leaf) = match dataset.split_once('/') {
                Some((_, leaf)) => (&mut nested, leaf),
                None => (&mut group, dataset.as_str()),
            };
            holder.create_dataset(leaf).with_f32_data(&values(weight.value())).with_shape(&shape);
        }
        if weight_names.iter().any(|name| name.contains('/')) {
            group.add_group(nested.finish());
        }
        group.set_attr(
            "weight_names",
            if weight_names.is_empty() {
                AttrValue::F64Array(Vec::new())
            } else {
                AttrValue::AsciiStringArray(weight_names)
            },
        );
        file.add_group(group.finish());
    }
    write(dir, name, &file.finish().unwrap())
}

#[test]
fn vgg16_has_keras_layers_shapes_and_counts() {
    let started = Instant::now();
    let model = Vgg16::new().build().unwrap();
    println!("VGG16 with its top (138M parameters) built in {:.2?}", started.elapsed());
    assert_eq!(model.name(), "vgg16");
    let expected: Vec<&str> = KERAS_VGG16.iter().map(|(name, _, _)| *name).collect();
    assert_eq!(names(&model), expected);
    let graph = model.graph().unwrap();
    println!("its graph taken after {:.2?}", started.elapsed());
    for &(layer, shape, count) in KERAS_VGG16 {
        assert_eq!(output_shape(&graph, layer), shape, "output shape of {layer}");
        assert_eq!(params(&model, layer), count, "parameters of {layer}");
    }
    assert_eq!(model.count_params(), (138_357_544, 0));
    let summary = model.summary();
    println!("counted and summarised after {:.2?}", started.elapsed());
    assert!(summary.contains("Model: \"vgg16\""), "{summary}");
    assert!(summary.contains("Total params: 138,357,544"), "{summary}");
    assert!(summary.contains("predictions (Dense)"), "{summary}");

    // Without the top, whatever the input size: Keras's 14,714,688.
    for (shape, pooling, output, last) in [
        ([224, 224, 3], Pooling::None, vec![7, 7, 512], "block5_pool"),
        ([32, 32, 3], Pooling::None, vec![1, 1, 512], "block5_pool"),
        ([48, 64, 3], Pooling::Avg, vec![512], "global_average_pooling2d"),
        ([32, 40, 1], Pooling::Max, vec![512], "global_max_pooling2d"),
    ] {
        let model = Vgg16::new().include_top(false).input_shape(shape).pooling(pooling).build().unwrap();
        let trainable = if shape[2] == 3 { 14_714_688 } else { 14_714_688 - 2 * 64 * 9 };
        assert_eq!(model.count_params(), (trainable, 0), "{shape:?}");
        assert_eq!(model.output_shape(), output, "{shape:?} {pooling:?}");
        let names = names(&model);
        assert_eq!(names[..CONVOLUTIONAL_LAYERS], expected[..CONVOLUTIONAL_LAYERS]);
        assert_eq!(names.last().map(String::as_str), Some(last));
    }
    let summary = Vgg16::new().include_top(false).build().unwrap().summary();
    assert!(summary.contains("Total params: 14,714,688"), "{summary}");

    // The top after a smaller input: flatten takes what block5_pool leaves (1x2x512 here).
    let small =
        Vgg16::new().input_shape([32, 64, 3]).classes(10).classifier_activation(None).build().unwrap();
    assert_eq!(output_shape(&small.graph().unwrap(), "flatten"), [1024]);
    assert_eq!(params(&small, "fc1"), 1024 * 4096 + 4096);
    assert_eq!(small.output_shape(), [10]);
}

#[test]
fn keras_option_rules_are_errors() {
    let dir = scratch("vgg16-rules");
    // Keras's ImageNet rules apply whatever the file holds (these fail before it is read).
    let imagenet = Weights::ImageNet(write(&dir, "vgg16_weights_tf_dim_ordering_tf_kernels.h5", b"-"));
    let with = |options: Vgg16| options.weights(imagenet.clone()).build();
    let message =
        usage_error(with(Vgg16::new().input_shape([32, 32, 3])), "input_shape should be (224, 224, 3)");
    assert!(message.contains("received input_shape=(32, 32, 3)"), "{message}");
    usage_error(with(Vgg16::new().classes(10)), "classes should be 1000; received classes=10");
    usage_error(with(Vgg16::new().include_top(false).input_shape([64, 64, 1])), "must have 3 channels");
    usage_error(with(Vgg16::new().classifier_activation(Some("relu"))), "classifier_activation=\"relu\"");
    let file = Weights::File(dir.join("vgg16_weights_tf_dim_ordering_tf_kernels.h5"));
    usage_error(
        Vgg16::new().weights(file).classifier_activation(Some("sigmoid")).build(),
        "only no activation (None) and softmax",
    );
    for shape in [[31, 224, 3], [224, 16, 3]] {
        usage_error(Vgg16::new().include_top(false).input_shape(shape).build(), "at least 32x32");
    }
    usage_error(Vgg16::new().input_shape([31, 32, 3]).build(), "at least 32x32");
    let missing = dir.join("no-such-file.h5");
    let message = usage_error(Vgg16::new().weights(Weights::File(missing.clone())).build(), "does not exist");
    assert!(message.contains(&missing.display().to_string()), "{message}");
    // Random weights take any classifier activation and, with a file, any classes.
    Vgg16::new().input_shape([32, 32, 3]).classes(3).classifier_activation(Some("sigmoid")).build().unwrap();
}

#[test]
fn weights_files_load_to_the_same_predictions() {
    let dir = scratch("vgg16-weights");
    set_random_seed(7);
    let source =
        Vgg16::new().include_top(false).input_shape([32, 32, 3]).pooling(Pooling::Avg).build().unwrap();
    let x = images(2, 32, 11);
    let expected = values(&source.predict(&x, 2).unwrap());

    let legacy = legacy_weights_file(&source, &dir, "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5");
    save_keras_weights(&source, dir.join("vgg16.weights.h5")).unwrap();
    for weights in [
        Weights::File(legacy.clone()),
        Weights::ImageNet(legacy.clone()),
        Weights::File(dir.join("vgg16.weights.h5")),
    ] {
        let loaded = Vgg16::new()
            .include_top(false)
            .input_shape([32, 32, 3])
            .pooling(Pooling::Avg)
            .weights(weights.clone());
        let loaded = loaded.build().unwrap();
        assert_eq!(values(&loaded.predict(&x, 2).unwrap()), expected, "{weights:?}");
    }
    // The convolutional weights serve any input size and pooling: the same features at 48x40.
    let x = images(2, 48, 12).slice(2, 0, 40).unwrap();
    let pooled = |weights: Weights| {
        let model = Vgg16::new().include_top(false).input_shape([48, 40, 3]).pooling(Pooling::Max);
        values(&model.weights(weights).build().unwrap().predict(&x, 2).unwrap())
    };
    let source_weights = dir.join("source.weights.h5");
    save_keras_weights(&source, &source_weights).unwrap();
    assert_eq!(pooled(Weights::File(legacy)), pooled(Weights::File(source_weights)));
}

#[test]
fn vgg16_goes_through_keras_archives_whole() {
    let dir = scratch("vgg16-archive");
    let x = images(2, 32, 15);
    for pooling in [Pooling::Avg, Pooling::Max] {
        let model =
            Vgg16::new().include_top(false).input_shape([32, 32, 3]).pooling(pooling).build().unwrap();
        let path = dir.join(format!("{pooling:?}.keras"));
        save_keras(&model, &path).unwrap();
        let loaded = load_keras(&path).unwrap();
        assert_eq!(loaded.name(), "vgg16");
        assert_eq!(names(&loaded), names(&model));
        assert_eq!(
            values(&loaded.predict(&x, 2).unwrap()),
            values(&model.predict(&x, 2).unwrap()),
            "{pooling:?}"
        );
    }
}

#[test]
fn a_top_included_file_loads_and_mismatches_name_the_layer_and_shapes() {
    let dir = scratch("vgg16-top");
    set_random_seed(8);
    let source = Vgg16::new().input_shape([32, 32, 3]).classes(10).build().unwrap();
    let x = images(2, 32, 13);
    let expected = values(&source.predict(&x, 2).unwrap());
    let path = legacy_weights_file(&source, &dir, "vgg16_weights_tf_dim_ordering_tf_kernels.h5");
    let file = Weights::File(path.clone());
    let loaded = Vgg16::new().input_shape([32, 32, 3]).classes(10).weights(file.clone()).build().unwrap();
    assert_eq!(values(&loaded.predict(&x, 2).unwrap()), expected);

    // Other classes than the file's.
    let error = Vgg16::new().input_shape([32, 32, 3]).classes(5).weights(file.clone()).build().err().unwrap();
    let message = error.to_string();
    assert!(
        message.contains("layer predictions")
            && message.contains("[4096, 10]")
            && message.contains("[4096, 5]"),
        "{message}"
    );
    assert!(message.contains(&path.display().to_string()), "{message}");
    // Another input size, which changes what fc1 takes.
    let error =
        Vgg16::new().input_shape([64, 32, 3]).classes(10).weights(file.clone()).build().err().unwrap();
    let message = error.to_string();
    assert!(message.contains("layer fc1") && message.contains("[512, 4096]"), "{message}");
    assert!(message.contains("[1024, 4096]"), "{message}");
    // A file with the top for a model without: 16 layers of weights in the file, 13 in the model.
    let error = Vgg16::new().include_top(false).input_shape([32, 32, 3]).weights(file).build().err().unwrap();
    let message = error.to_string();
    assert!(message.contains("holds weights for 16 layers, the model has 13"), "{message}");
}

#[test]
fn loaded_vgg16_predicts_on_the_gpu_as_on_the_cpu() {
    let Some(gpu) = common::gpu() else { return };
    let dir = scratch("vgg16-gpu");
    set_random_seed(9);
    let top = Vgg16::new().input_shape([32, 32, 3]).classes(7).classifier_activation(None).build().unwrap();
    let top = legacy_weights_file(&top, &dir, "vgg16.h5");
    let notop = Vgg16::new().include_top(false).input_shape([32, 32, 3]).build().unwrap();
    let notop = legacy_weights_file(&notop, &dir, "vgg16_notop.h5");
    // 33x35 images: odd sizes, which every pooling floors.
    for (include_top, shape, pooling) in [
        (true, [32, 32, 3], Pooling::None),
        (false, [33, 35, 3], Pooling::Max),
        (false, [35, 33, 3], Pooling::Avg),
    ] {
        let file = if include_top { &top } else { &notop };
        let options = Vgg16::new().include_top(include_top).input_shape(shape).pooling(pooling);
        let options = options.classes(7).classifier_activation(None).weights(Weights::File(file.clone()));
        let mut model = options.build().unwrap();
        let x = images(2, 35, 14).slice(1, 0, shape[0]).unwrap().slice(2, 0, shape[1]).unwrap();
        let cpu = values(&model.predict(&x, 2).unwrap());
        model.to_device(&gpu).unwrap();
        let started = Instant::now();
        let on_gpu = values(&model.predict(x.to(&gpu).unwrap(), 2).unwrap());
        let scale = cpu.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let difference = cpu.iter().zip(&on_gpu).map(|(c, g)| (c - g).abs()).fold(0.0f32, f32::max);
        println!(
            "top {include_top} {shape:?} {pooling:?}: GPU in {:.2?}, max difference {difference:e} of outputs up to {scale:e}",
            started.elapsed()
        );
        assert!(scale > 0.0, "outputs all zero would compare nothing");
        assert!(
            difference <= GPU_RELATIVE_TOLERANCE * scale,
            "{difference} > {GPU_RELATIVE_TOLERANCE} x {scale}"
        );
    }
}

#[test]
fn a_model_without_weights_says_they_are_random() {
    warnings_about("");
    let dir = scratch("vgg16-warning");
    let random = Vgg16::new().include_top(false).input_shape([32, 32, 3]).name("untrained").build().unwrap();
    let warned = warnings_about("untrained: no weights given");
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(warned[0].contains("random") && warned[0].contains("Weights::File"), "{warned:?}");
    let path = legacy_weights_file(&random, &dir, "untrained.h5");
    let options = Vgg16::new().include_top(false).input_shape([32, 32, 3]).name("pretrained");
    options.weights(Weights::File(path)).build().unwrap();
    assert_eq!(warnings_about("pretrained"), Vec::<String>::new());
}

#[test]
fn preprocess_input_is_keras_caffe_mode() {
    // Keras: x[..., ::-1] - [103.939, 116.779, 123.68].
    let rgb = [10.0, 20.0, 30.0, 255.0, 0.0, 128.0];
    let expected = [30.0 - 103.939, 20.0 - 116.779, 10.0 - 123.68, 128.0 - 103.939, -116.779, 255.0 - 123.68];
    let x = Tensor::from_slice(&rgb, [1, 2, 1, 3], &Device::Cpu).unwrap();
    let out = vgg16::preprocess_input(&x).unwrap();
    assert_eq!(out.dims(), [1, 2, 1, 3]);
    assert_eq!(out.dtype(), DType::F64);
    common::assert_close(&out.to_vec_f64().unwrap(), &expected, 1e-12);
    // f32 keeps its dtype, within f32's rounding of the means; any rank with 3 channels last.
    let out = vgg16::preprocess_input(&x.reshape([2, 3]).unwrap().to_dtype(DType::F32).unwrap()).unwrap();
    assert_eq!(out.dtype(), DType::F32);
    common::assert_close(&out.to_vec_f64().unwrap(), &expected, 1e-5);
    let four = Tensor::zeros([2, 4, 4, 4], DType::F32, &Device::Cpu).unwrap();
    let message = vgg16::preprocess_input(&four).err().unwrap().to_string();
    assert!(message.contains("3 channels") && message.contains("[2, 4, 4, 4]"), "{message}");
    if let Some(gpu) = common::gpu() {
        let on_gpu = vgg16::preprocess_input(&x.to_dtype(DType::F32).unwrap().to(&gpu).unwrap()).unwrap();
        common::assert_close(&on_gpu.to_vec_f64().unwrap(), &expected, 1e-5);
    }
}

/// Layers of MobileNet with the top at alpha 1 and 224x224x3, as Keras 3.15.1's `summary()`
/// gives them: name, output shape (batch excluded) and parameter count.
const KERAS_MOBILENET: &[(&str, &[usize], usize)] = &[
    ("conv1", &[112, 112, 32], 864),
    ("conv1_bn", &[112, 112, 32], 128),
    ("conv_dw_1", &[112, 112, 32], 288),
    ("conv_pw_1", &[112, 112, 64], 2_048),
    ("conv_pad_2", &[113, 113, 64], 0),
    ("conv_dw_2", &[56, 56, 64], 576),
    ("conv_pw_13", &[7, 7, 1_024], 1_048_576),
    ("conv_pw_13_relu", &[7, 7, 1_024], 0),
    ("global_average_pooling2d", &[1, 1, 1_024], 0),
    ("dropout", &[1, 1, 1_024], 0),
    ("conv_preds", &[1, 1, 1_000], 1_025_000),
    ("reshape_2", &[1_000], 0),
    ("predictions", &[1_000], 0),
];

/// The GPU's f32 convolutions sum in another order than the CPU's; over MobileNet's 27
/// convolutions and batch normalizations the outputs move by a few 1e-6 of the largest on
/// lavapipe, other GPUs may sum in other orders again.
const MOBILENET_GPU_RELATIVE_TOLERANCE: f32 = 1e-4;

/// A batch of `n` RGB images of `size`x`size` pixels in [0, 255], preprocessed for MobileNet.
fn mobilenet_images(n: usize, size: usize, seed: u64) -> Tensor {
    let pixels = Tensor::uniform(vec![n, size, size, 3], 0.0, 255.0, seed, DType::F32, &Device::Cpu).unwrap();
    mobilenet::preprocess_input(&pixels).unwrap()
}

/// Gives every batch normalization of `model` statistics and an affine part away from their
/// initial values (variances and scales in [0.5, 1.5], means and offsets in [-0.1, 0.1]), so
/// that a file read into the wrong one of the four is seen.
fn perturb_batch_normalizations(model: &Model, seed: u64) {
    for (k, weight) in model.weights().iter().enumerate() {
        let (low, high) = match weight.name() {
            "gamma" | "moving_variance" => (0.5, 1.5),
            "beta" | "moving_mean" => (-0.1, 0.1),
            _ => continue,
        };
        let dims = weight.value().dims().to_vec();
        weight
            .assign(&Tensor::uniform(dims, low, high, seed + k as u64, DType::F32, &Device::Cpu).unwrap())
            .unwrap();
    }
}

/// The usage error of `result`, which must be one, containing `needle`.
fn mobilenet_error(result: Result<Model, NnError>, needle: &str) -> String {
    match result {
        Err(NnError::Usage(message)) => {
            assert!(message.starts_with("mobilenet: ") && message.contains(needle), "{message}");
            message
        }
        Err(other) => panic!("expected a usage error containing {needle:?}, got {other}"),
        Ok(_) => panic!("expected a usage error containing {needle:?}, got a model"),
    }
}

#[test]
fn mobilenet_has_keras_layers_shapes_and_counts() {
    let model = MobileNet::new().build().unwrap();
    assert_eq!(model.name(), "mobilenet_1.00_224");
    let names = names(&model);
    assert_eq!(names.len(), 91, "Keras's MobileNet has 91 layers, its input included");
    assert_eq!(
        names[..8],
        [
            "input_layer",
            "conv1",
            "conv1_bn",
            "conv1_relu",
            "conv_dw_1",
            "conv_dw_1_bn",
            "conv_dw_1_relu",
            "conv_pw_1"
        ]
    );
    let pads: Vec<&String> = names.iter().filter(|n| n.starts_with("conv_pad_")).collect();
    assert_eq!(pads, ["conv_pad_2", "conv_pad_4", "conv_pad_6", "conv_pad_12"]);
    let graph = model.graph().unwrap();
    for &(layer, shape, count) in KERAS_MOBILENET {
        assert_eq!(output_shape(&graph, layer), shape, "output shape of {layer}");
        assert_eq!(params(&model, layer), count, "parameters of {layer}");
    }
    assert_eq!(names.last().map(String::as_str), Some("predictions"));
    // Keras: 4,253,864 parameters, 21,888 of them the batch normalizations' moving statistics.
    assert_eq!(model.count_params(), (4_253_864 - 21_888, 21_888));
    let summary = model.summary();
    assert!(summary.contains("Model: \"mobilenet_1.00_224\""), "{summary}");
    assert!(summary.contains("Total params: 4,253,864"), "{summary}");
    assert!(
        summary.contains("conv_dw_1 (DepthwiseConv2D)") && summary.contains("conv_pad_2 (ZeroPadding2D)"),
        "{summary}"
    );

    let notop = MobileNet::new().include_top(false).build().unwrap();
    assert_eq!(notop.count_params(), (3_228_864 - 21_888, 21_888));
    assert_eq!(notop.layers().len(), 86);
    assert_eq!(notop.output_shape(), [7, 7, 1024]);
    assert_eq!(notop.layers().last().unwrap().name(), "conv_pw_13_relu");
    // Keras: MobileNet(alpha=0.25, input_shape=(32, 32, 3), include_top=False, pooling="avg").
    let small =
        MobileNet::new().alpha(0.25).input_shape([32, 32, 3]).include_top(false).pooling(Pooling::Avg);
    let small = small.build().unwrap();
    assert_eq!((small.name(), small.output_shape()), ("mobilenet_0.25_32", vec![256]));
    assert_eq!(small.count_params().0 + small.count_params().1, 218_544);
    // A depth multiplier doubles the depthwise outputs; the name keeps Keras's size rule.
    let wide = MobileNet::new().depth_multiplier(2).input_shape([160, 160, 3]).alpha(0.5).classes(7);
    let wide = wide.build().unwrap();
    assert_eq!(wide.name(), "mobilenet_0.50_160");
    assert_eq!(output_shape(&wide.graph().unwrap(), "conv_dw_1"), [80, 80, 32]);
    assert_eq!(params(&wide, "conv_dw_1"), 3 * 3 * 16 * 2);
    assert_eq!(wide.output_shape(), [7]);
    let max = MobileNet::new().include_top(false).input_shape([33, 40, 1]).pooling(Pooling::Max).name("m");
    let max = max.build().unwrap();
    assert_eq!((max.name(), max.output_shape()), ("m", vec![1024]));
    assert_eq!(max.layers().last().unwrap().name(), "global_max_pooling2d");
}

#[test]
fn mobilenet_keras_option_rules_are_errors() {
    let dir = scratch("mobilenet-rules");
    let imagenet = Weights::ImageNet(write(&dir, "mobilenet_1_0_224_tf.h5", b"-"));
    let with = |options: MobileNet| options.weights(imagenet.clone()).build();
    mobilenet_error(
        with(MobileNet::new().depth_multiplier(2)),
        "depth multiplier must be 1; received depth_multiplier=2",
    );
    mobilenet_error(
        with(MobileNet::new().alpha(0.3)),
        "alpha can be one of 0.25, 0.50, 0.75 or 1.0 only; received alpha=0.3",
    );
    mobilenet_error(with(MobileNet::new().input_shape([32, 32, 3])), "input_shape should be (224, 224, 3)");
    mobilenet_error(with(MobileNet::new().input_shape([160, 192, 3])), "input_shape should be (224, 224, 3)");
    mobilenet_error(with(MobileNet::new().classes(10)), "classes should be 1000; received classes=10");
    mobilenet_error(
        with(MobileNet::new().classifier_activation(Some("relu"))),
        "classifier_activation=\"relu\"",
    );
    mobilenet_error(
        with(MobileNet::new().include_top(false).input_shape([64, 64, 1])),
        "must have 3 channels",
    );
    mobilenet_error(MobileNet::new().alpha(0.0).build(), "alpha should be positive; received alpha=0");
    mobilenet_error(MobileNet::new().include_top(false).input_shape([31, 64, 3]).build(), "at least 32x32");
    // Keras's ImageNet weights exist at 128, 160, 192 and 224: with the top, a 160 input is
    // accepted (the file, not a weight file, fails to load); without, any other size takes the
    // 224 ones with a warning.
    let loaded = with(MobileNet::new().input_shape([160, 160, 3])).err().unwrap();
    assert!(!matches!(loaded, NnError::Usage(_)), "{loaded}");
    warnings_about("");
    let loaded =
        with(MobileNet::new().include_top(false).input_shape([96, 128, 3]).name("odd")).err().unwrap();
    assert!(!matches!(loaded, NnError::Usage(_)), "{loaded}");
    let warned = warnings_about("odd: input_shape is undefined or non-square");
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(warned[0].contains("(224, 224) will be loaded"), "{warned:?}");
}

#[test]
fn mobilenet_weights_files_and_archives_load_to_the_same_predictions() {
    let dir = scratch("mobilenet-weights");
    set_random_seed(17);
    let options =
        MobileNet::new().alpha(0.25).input_shape([32, 32, 3]).classes(10).classifier_activation(None);
    let source = options.clone().build().unwrap();
    perturb_batch_normalizations(&source, 100);
    let x = mobilenet_images(3, 32, 18);
    let expected = values(&source.predict(&x, 3).unwrap());
    let spread = expected.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(spread > 0.0 && expected.iter().any(|v| *v != expected[0]), "{expected:?}");

    let legacy = keras2_weights_file(&source, &dir, "mobilenet_2_5_32_tf.h5");
    save_keras_weights(&source, dir.join("mobilenet.weights.h5")).unwrap();
    for weights in [Weights::File(legacy.clone()), Weights::File(dir.join("mobilenet.weights.h5"))] {
        let loaded = options.clone().weights(weights.clone()).build().unwrap();
        assert_eq!(values(&loaded.predict(&x, 3).unwrap()), expected, "{weights:?}");
    }
    // A .keras archive: the top's keepdims pooling, reshape and activation, the paddings and
    // depthwise convolutions go through Keras's config and come back whole.
    let archive = dir.join("mobilenet.keras");
    save_keras(&source, &archive).unwrap();
    let loaded = load_keras(&archive).unwrap();
    assert_eq!((loaded.name(), names(&loaded)), (source.name(), names(&source)));
    assert_eq!(values(&loaded.predict(&x, 3).unwrap()), expected);

    // A file with the top for a model without it: the convolutional weights serve any size.
    let notop = options.clone().include_top(false).input_shape([40, 33, 3]).pooling(Pooling::Max);
    let error = notop.clone().weights(Weights::File(legacy)).build().err().unwrap().to_string();
    assert!(error.contains("holds weights for 55 layers, the model has 54"), "{error}");
    // Other classes than the file's name the layer and both shapes.
    let error =
        options.classes(5).weights(Weights::File(dir.join("mobilenet.weights.h5"))).build().err().unwrap();
    let message = error.to_string();
    assert!(
        message.contains("layer conv_preds")
            && message.contains("[1, 1, 256, 10]")
            && message.contains("[1, 1, 256, 5]"),
        "{message}"
    );
}

#[test]
fn loaded_mobilenet_predicts_on_the_gpu_as_on_the_cpu() {
    let Some(gpu) = common::gpu() else { return };
    let dir = scratch("mobilenet-gpu");
    set_random_seed(19);
    let source = MobileNet::new().alpha(0.25).input_shape([32, 32, 3]).classes(7).build().unwrap();
    perturb_batch_normalizations(&source, 200);
    let file = keras2_weights_file(&source, &dir, "mobilenet.h5");
    let x = mobilenet_images(2, 35, 20);
    // 33x35 images: odd sizes, which the strided depthwise convolutions after their padding floor.
    for (include_top, shape, pooling) in
        [(true, [32, 32, 3], Pooling::None), (false, [33, 35, 3], Pooling::Avg)]
    {
        let options =
            MobileNet::new().alpha(0.25).include_top(include_top).input_shape(shape).pooling(pooling);
        let options =
            if include_top { options.classes(7).weights(Weights::File(file.clone())) } else { options };
        let mut model = options.build().unwrap();
        if !include_top {
            perturb_batch_normalizations(&model, 300);
        }
        let x = x.slice(1, 0, shape[0]).unwrap().slice(2, 0, shape[1]).unwrap();
        let cpu = values(&model.predict(&x, 2).unwrap());
        model.to_device(&gpu).unwrap();
        let on_gpu = values(&model.predict(x.to(&gpu).unwrap(), 2).unwrap());
        let scale = cpu.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let difference = cpu.iter().zip(&on_gpu).map(|(c, g)| (c - g).abs()).fold(0.0f32, f32::max);
        println!("top {include_top} {shape:?}: max difference {difference:e} of outputs up to {scale:e}");
        assert!(scale > 0.0, "outputs all zero would compare nothing");
        assert!(
            difference <= MOBILENET_GPU_RELATIVE_TOLERANCE * scale,
            "{difference} > {MOBILENET_GPU_RELATIVE_TOLERANCE} x {scale}"
        );
    }
}

#[test]
fn mobilenet_preprocess_input_is_keras_tf_mode() {
    // Keras: x / 127.5 - 1.
    let pixels = [0.0, 127.5, 255.0, 51.0, 204.0, 1.0];
    let expected: Vec<f64> = pixels.iter().map(|p| p / 127.5 - 1.0).collect();
    assert_eq!(expected[..3], [-1.0, 0.0, 1.0]);
    let x = Tensor::from_slice(&pixels, [1, 2, 1, 3], &Device::Cpu).unwrap();
    let out = mobilenet::preprocess_input(&x).unwrap();
    assert_eq!((out.dims(), out.dtype()), (&[1, 2, 1, 3][..], DType::F64));
    assert_eq!(out.to_vec_f64().unwrap(), expected);
    // f32 divides as Keras does in f32: bit for bit, any shape.
    let x32 = x.reshape([6]).unwrap().to_dtype(DType::F32).unwrap();
    let keras: Vec<f32> = pixels.iter().map(|&p| p as f32 / 127.5f32 - 1.0).collect();
    assert_eq!(values(&mobilenet::preprocess_input(&x32).unwrap()), keras);
    if let Some(gpu) = common::gpu() {
        let on_gpu = mobilenet::preprocess_input(&x32.to(&gpu).unwrap()).unwrap();
        common::assert_close(&on_gpu.to_vec_f64().unwrap(), &expected, 1e-6);
    }
}
