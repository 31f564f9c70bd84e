//! `nn::applications`: VGG16 as Keras 3 builds it (keras/src/applications/vgg16.py of Keras
//! 3.15.1: layer names, output shapes, parameter counts), Keras's option rules as errors, its
//! weights from a file in the layout of Keras's own VGG16 weight files (and Keras 3's
//! `.weights.h5`) predicting exactly as the model they came from, on the CPU and the GPU, and
//! `preprocess_input`'s known answers.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use common::fixtures::{scratch, write};
use hdf5_pure::{AttrValue, FileBuilder};
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
            ["W", "b"][..weights.len()].iter().map(|kind| format!("{}_{kind}_1:0", layer.name())).collect();
        for (weight, dataset) in weights.iter().zip(&weight_names) {
            let shape: Vec<u64> = weight.value().dims().iter().map(|&d| d as u64).collect();
            group.create_dataset(dataset).with_f32_data(&values(weight.value())).with_shape(&shape);
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
