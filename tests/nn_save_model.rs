//! Whole-model files: `save_model` / `load_model` give back a model that predicts bit for bit as
//! the saved one (Sequential and functional), keeps its trainable flags and compile settings,
//! and whose `fit` resumed from a checkpoint ends where an uninterrupted run ends; bad files are
//! refused with errors that say what was expected.

mod common;

use std::path::{Path, PathBuf};

use tessera::nn::callbacks::ModelCheckpoint;
use tessera::nn::io::{load_model, load_weights, save_model, save_weights};
use tessera::nn::optimizers::{Adam, Sgd};
use tessera::nn::{
    Add, Apply, BatchNormalization, Concatenate, Conv2D, Conv2DTranspose, Dense, Dropout, FitOptions,
    Flatten, GRU, Input, LSTM, MaxPooling2D, Model, Reshape, set_random_seed,
};
use tessera::{DType, Device, Tensor};

const IMAGE: [usize; 3] = [8, 8, 1];
const SAMPLES: usize = 96;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tessera-save-model-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Images of uniform noise, labelled by the quadrant (of three) with the largest sum, so there
/// is something to learn.
fn images() -> (Tensor, Tensor) {
    let x = Tensor::uniform([SAMPLES, IMAGE[0], IMAGE[1], IMAGE[2]], 0.0, 1.0, 3, DType::F32, &Device::Cpu)
        .unwrap();
    let pixels = x.to_vec::<f32>().unwrap();
    let labels: Vec<f32> = pixels
        .chunks(64)
        .map(|image| {
            let quadrant = |r: usize, c: usize| -> f32 {
                (0..4).flat_map(|i| (0..4).map(move |j| image[(r + i) * 8 + c + j])).sum()
            };
            let sums = [quadrant(0, 0), quadrant(0, 4), quadrant(4, 0)];
            (0..3).max_by(|&a, &b| sums[a].total_cmp(&sums[b])).unwrap() as f32
        })
        .collect();
    (x, Tensor::from_vec(labels, [SAMPLES], &Device::Cpu).unwrap())
}

/// A small CNN with every kind of state a checkpoint must carry: trainable weights, moving
/// statistics and dropout.
fn cnn() -> Model {
    Model::sequential(vec![
        Box::new(Conv2D::new(4, 3).input_shape(&IMAGE).activation("relu").named("conv")),
        Box::new(BatchNormalization::new()),
        Box::new(MaxPooling2D::new()),
        Box::new(Dropout::new(0.25)),
        Box::new(Flatten::new()),
        Box::new(Dense::new(3).activation("softmax").kernel_regularizer("l2")),
    ])
    .unwrap()
}

fn compiled_cnn() -> Model {
    let mut model = cnn();
    model
        .compile(
            Adam { learning_rate: 0.01, ..Adam::default() },
            "sparse_categorical_crossentropy",
            &["accuracy"],
        )
        .unwrap();
    model
}

fn quiet<'a>() -> FitOptions<'a> {
    FitOptions::default().batch_size(16).seed(5).verbose(0)
}

fn predictions(model: &Model, x: &Tensor) -> Vec<f32> {
    model.predict(x, 32).unwrap().to_vec::<f32>().unwrap()
}

/// Every weight's value, in order.
fn weight_values(model: &Model) -> Vec<f64> {
    model.weights().iter().flat_map(|w| w.value().to_vec_f64().unwrap()).collect()
}

/// Every weight's key and trainability, in order.
fn trainability(model: &Model) -> Vec<(String, bool)> {
    model
        .layers()
        .iter()
        .flat_map(|l| l.weights().into_iter().map(|w| (format!("{}/{}", l.name(), w.name()), w.trainable())))
        .collect()
}

fn max_difference(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}

#[test]
fn a_sequential_cnn_comes_back_whole() {
    let dir = temp_dir("sequential");
    let path = dir.join("model.safetensors");
    let (x, y) = images();
    let mut original = compiled_cnn();
    original.layer_mut("conv").unwrap().set_trainable(false);
    original.fit(&x, &y, quiet()).unwrap();
    original.set_learning_rate(0.004).unwrap();
    save_model(&original, &path).unwrap();

    let loaded = load_model(&path).unwrap();
    assert_eq!(predictions(&loaded, &x), predictions(&original, &x), "bit for bit on the CPU");
    assert_eq!(loaded.summary(), original.summary());
    assert_eq!(loaded.count_params(), original.count_params());
    assert_eq!(trainability(&loaded), trainability(&original));
    assert!(!trainability(&loaded)[0].1, "the frozen conv kernel stays frozen");
    assert!(loaded.is_compiled());
    assert_eq!(loaded.metrics_names(), ["loss", "accuracy"]);
    assert_eq!(loaded.learning_rate().unwrap(), 0.004);
    let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(leftovers.len(), 1, "no temporary file is left behind: {leftovers:?}");

    // Its weights load into a model built by hand too, the optimizer state left aside.
    let by_hand = cnn();
    load_weights(&by_hand, &path).unwrap();
    assert_eq!(predictions(&by_hand, &x), predictions(&original, &x));
    std::fs::remove_dir_all(dir).unwrap();
}

/// Recurrent layers (LSTM walking backwards into a GRU) and a transposed convolution come
/// back with their settings and weights: the loaded model predicts bit for bit as the saved one.
#[test]
fn recurrent_and_transposed_layers_come_back_whole() {
    let dir = temp_dir("recurrent");
    let (x, y) = images();
    let sequences = x.reshape([SAMPLES, 8, 8]).unwrap();
    let mut recurrent = Model::sequential(vec![
        Box::new(LSTM::new(5).input_shape(&[8, 8]).return_sequences(true).go_backwards(true)),
        Box::new(GRU::new(4).recurrent_activation("tanh")),
        Box::new(Dense::new(3).activation("softmax")),
    ])
    .unwrap();
    recurrent.compile(Adam::default(), "sparse_categorical_crossentropy", &[]).unwrap();
    recurrent.fit(&sequences, &y, quiet().epochs(1)).unwrap();
    let path = dir.join("recurrent.safetensors");
    save_model(&recurrent, &path).unwrap();
    let loaded = load_model(&path).unwrap();
    assert_eq!(predictions(&loaded, &sequences), predictions(&recurrent, &sequences));
    assert_eq!(loaded.summary(), recurrent.summary());

    let mut decoder = Model::sequential(vec![
        Box::new(Conv2D::new(2, 3).input_shape(&IMAGE).strides(2).padding("same").activation("relu")),
        Box::new(Conv2DTranspose::new(1, 3).strides(2).padding("same").activation("sigmoid")),
        Box::new(Reshape::new(&[-1])),
    ])
    .unwrap();
    decoder.compile(Sgd::default(), "mse", &[]).unwrap();
    let flat = x.reshape([SAMPLES, 64]).unwrap();
    decoder.fit(&x, &flat, quiet().epochs(1)).unwrap();
    let path = dir.join("decoder.safetensors");
    save_model(&decoder, &path).unwrap();
    let loaded = load_model(&path).unwrap();
    assert_eq!(predictions(&loaded, &x), predictions(&decoder, &x));
    assert_eq!(loaded.summary(), decoder.summary());
    std::fs::remove_dir_all(dir).unwrap();
}

/// Two inputs, a skip connection (Add), a concatenation, batch normalization and a frozen layer.
fn functional() -> Model {
    let x = Input::new(&[6]).named("features").symbolic().unwrap();
    let z = Input::new(&[3]).named("extra").symbolic().unwrap();
    let h = Dense::new(6).activation("relu").apply(&[&x]).unwrap();
    let h = BatchNormalization::new().momentum(0.5).apply(&[&h]).unwrap();
    let skip = Add::new().apply(&[&x, &h]).unwrap();
    let side = Dense::new(3).activation("tanh").trainable(false).apply(&[&z]).unwrap();
    let joined = Concatenate::new().apply(&[&skip, &side]).unwrap();
    let y = Dense::new(2).activation("softmax").apply(&[&joined]).unwrap();
    let mut model = Model::functional(&[&x, &z], &y).unwrap();
    model.set_name("two_inputs");
    model
}

#[test]
fn a_functional_model_comes_back_whole() {
    let dir = temp_dir("functional");
    let path = dir.join("model.safetensors");
    let cpu = &Device::Cpu;
    let x = Tensor::uniform([40, 6], -1.0, 1.0, 1, DType::F32, cpu).unwrap();
    let z = Tensor::uniform([40, 3], -1.0, 1.0, 2, DType::F32, cpu).unwrap();
    let y = Tensor::from_vec((0..40).map(|i| (i % 2) as f32).collect::<Vec<_>>(), [40], cpu).unwrap();
    let mut original = functional();
    let sgd = Sgd { learning_rate: 0.05, momentum: 0.9, nesterov: true };
    original.compile(sgd, "sparse_categorical_crossentropy", &["accuracy"]).unwrap();
    original.fit([&x, &z], &y, quiet().epochs(2)).unwrap();
    save_model(&original, &path).unwrap();

    let loaded = load_model(&path).unwrap();
    let outputs = |m: &Model| m.predict([&x, &z], 16).unwrap().to_vec::<f32>().unwrap();
    assert_eq!(outputs(&loaded), outputs(&original), "bit for bit on the CPU");
    assert_eq!(loaded.name(), "two_inputs");
    assert_eq!(loaded.to_json().unwrap(), original.to_json().unwrap());
    assert_eq!(loaded.summary(), original.summary());
    assert_eq!(loaded.count_params(), original.count_params());
    assert_eq!(trainability(&loaded), trainability(&original));
    assert_eq!(loaded.input_shapes(), [vec![6], vec![3]]);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn training_resumed_from_a_checkpoint_ends_where_an_uninterrupted_run_ends() {
    let dir = temp_dir("resume");
    let (x, y) = images();
    set_random_seed(1);
    let mut straight = compiled_cnn();
    let history = straight.fit(&x, &y, quiet().epochs(2)).unwrap();

    set_random_seed(1);
    let mut first = compiled_cnn();
    let template = dir.join("ckpt-{epoch:02d}.safetensors");
    let mut checkpoint = ModelCheckpoint::whole_model(template.to_str().unwrap());
    first.fit(&x, &y, quiet().epochs(1).callback(&mut checkpoint)).unwrap();
    let checkpoint_path = dir.join("ckpt-01.safetensors");

    let mut resumed = load_model(&checkpoint_path).unwrap();
    let mut progress = Vec::new();
    let resumed_history =
        resumed.fit(&x, &y, quiet().initial_epoch(1).epochs(2).verbose(2).output(&mut progress)).unwrap();
    // Adam's slots, its step count (bias correction, dropout seeds) and the shuffling of epoch 1
    // all come back, so the arithmetic is the same as the uninterrupted run's: equal in practice;
    // 1e-6 leaves room for nothing but a difference in summation order.
    let difference = max_difference(&weight_values(&resumed), &weight_values(&straight));
    assert!(difference <= 1e-6, "resumed weights differ by {difference}");
    assert_eq!(resumed_history.epochs(), [1], "epochs are numbered from initial_epoch");
    let resumed_loss = resumed_history.get("loss").unwrap()[0];
    assert!((resumed_loss - history.get("loss").unwrap()[1]).abs() <= 1e-6);
    let progress = String::from_utf8(progress).unwrap();
    assert!(progress.starts_with("Epoch 2/2\n") && !progress.contains("Epoch 1/"), "{progress}");

    // The comparison can tell: compiling the loaded model again starts Adam afresh (no slots,
    // step 1), which ends elsewhere.
    let mut restarted = load_model(&checkpoint_path).unwrap();
    restarted
        .compile(Adam { learning_rate: 0.01, ..Adam::default() }, "sparse_categorical_crossentropy", &[])
        .unwrap();
    restarted.fit(&x, &y, quiet().initial_epoch(1).epochs(2)).unwrap();
    let restart_difference = max_difference(&weight_values(&restarted), &weight_values(&straight));
    assert!(restart_difference > 1e-3, "a fresh optimizer ends only {restart_difference} away");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn checkpoints_can_hold_the_weights_only() {
    let dir = temp_dir("weights-only");
    let (x, y) = images();
    let mut model = compiled_cnn();
    let template = dir.join("w-{epoch}.safetensors");
    let mut checkpoint = ModelCheckpoint::weights_only(template.to_str().unwrap());
    model.fit(&x, &y, quiet().epochs(2).callback(&mut checkpoint)).unwrap();
    let fresh = cnn();
    load_weights(&fresh, dir.join("w-2.safetensors")).unwrap();
    assert_eq!(predictions(&fresh, &x), predictions(&model, &x));
    assert!(dir.join("w-1.safetensors").exists());
    std::fs::remove_dir_all(dir).unwrap();
}

/// The error `load_model` gives for the file at `path`.
fn load_error(path: &Path) -> String {
    load_model(path).err().expect("the file is refused").to_string()
}

#[test]
fn bad_files_are_refused_saying_what_was_expected() {
    let dir = temp_dir("refused");
    let path = dir.join("model.safetensors");
    let model = compiled_cnn();
    save_model(&model, &path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let shown = path.display().to_string();

    let corrupt = dir.join("corrupt.safetensors");
    std::fs::write(&corrupt, &bytes[..bytes.len() / 2]).unwrap();
    let message = load_error(&corrupt);
    assert!(
        message.starts_with(&corrupt.display().to_string()) && message.contains("not a safetensors file"),
        "{message}"
    );

    let weights = dir.join("weights.safetensors");
    save_weights(&model, &weights).unwrap();
    let message = load_error(&weights);
    assert!(
        message.contains("holds no model architecture")
            && message.contains("expected a file from save_model"),
        "{message}"
    );

    // The same file with a layer class nn does not have (same length, so the header still fits).
    let at = bytes.windows(7).position(|w| w == b"Flatten").unwrap();
    let mut unknown = bytes.clone();
    unknown[at..at + 7].copy_from_slice(b"Permute");
    std::fs::write(&path, &unknown).unwrap();
    let message = load_error(&path);
    assert!(
        message.starts_with(&format!("{shown}: unknown layer class \"Permute\"; expected one of: ")),
        "{message}"
    );
    assert!(message.contains("Flatten"), "{message}");
    // A class of the user's own that was never registered: the message says how to register it.
    assert!(message.ends_with("must be registered first (nn::layers::register)"), "{message}");

    let message = load_error(&dir.join("missing.safetensors"));
    assert!(message.contains("missing.safetensors"), "{message}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn architectures_that_do_not_hold_together_are_refused() {
    let error = |json: &str| Model::from_json(json).err().expect("refused").to_string();
    assert_eq!(
        error("[1]"),
        "a model architecture must be a JSON object {\"class_name\": ..., \"config\": {...}}, got [1]"
    );
    assert!(
        error(r#"{"class_name": "Graph", "config": {"name": "g", "layers": []}}"#)
            .contains("unknown model class \"Graph\"; expected Sequential or Functional")
    );
    let dangling = r#"{"class_name": "Functional", "config": {"name": "f", "input_layers": ["in"],
        "output_layers": ["out"], "layers": [
            {"class_name": "InputLayer", "config": {"name": "in", "batch_shape": [null, 2]}, "inbound_layers": []},
            {"class_name": "Dense", "config": {"name": "out", "units": 1}, "inbound_layers": ["hidden"]}]}}"#;
    assert_eq!(
        error(dangling),
        "layer \"out\" takes the output of \"hidden\", which no layer of the model gives"
    );
    let two_outputs = dangling.replace("[\"hidden\"]", "[\"in\"]").replace("[\"out\"]", "[\"out\", \"in\"]");
    assert_eq!(Model::from_json(&two_outputs).unwrap().output_shapes(), vec![vec![1], vec![2]]);
    let unknown_output = dangling.replace("[\"hidden\"]", "[\"in\"]").replace("[\"out\"]", "[\"nowhere\"]");
    assert_eq!(
        error(&unknown_output),
        "the model's input or output \"nowhere\" is none of its layers' outputs"
    );
    assert!(Model::from_json(&dangling.replace("[\"hidden\"]", "[\"in\"]")).is_ok());
}

#[test]
fn a_model_loaded_onto_the_gpu_predicts_and_trains_like_the_cpu() {
    let Some(gpu) = common::gpu() else { return };
    let dir = temp_dir("gpu");
    let path = dir.join("model.safetensors");
    let (x, y) = images();
    let mut trained = compiled_cnn();
    trained.fit(&x, &y, quiet()).unwrap();
    save_model(&trained, &path).unwrap();

    let mut on_cpu = load_model(&path).unwrap();
    let mut on_gpu = load_model(&path).unwrap();
    on_gpu.to_device(&gpu).unwrap();
    // Float32 sums in another order: ~1e-6 apart on softmax outputs in [0, 1].
    let as_f64 = |v: Vec<f32>| v.into_iter().map(f64::from).collect::<Vec<_>>();
    let difference = max_difference(&as_f64(predictions(&on_gpu, &x)), &as_f64(predictions(&on_cpu, &x)));
    assert!(difference <= 1e-4, "GPU predictions differ by {difference}");

    // The optimizer's state moved with the weights: one more step trains alike.
    let batch = x.slice(0, 0, 16).unwrap();
    let labels = y.slice(0, 0, 16).unwrap();
    on_cpu.train_on_batch(&batch, &labels).unwrap();
    on_gpu.train_on_batch(&batch, &labels).unwrap();
    let difference = max_difference(&weight_values(&on_gpu), &weight_values(&on_cpu));
    assert!(difference <= 1e-4, "weights after a step on the GPU differ by {difference}");
    std::fs::remove_dir_all(dir).unwrap();
}
