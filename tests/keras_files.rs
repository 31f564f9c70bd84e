//! Keras 3.15's own files (../shared/fixtures/keras beside the checkout, made by Keras itself: see its README) read by
//! tessera: each model in each format predicts Keras's own outputs on Keras's own inputs, the
//! optimizer state comes back, weights load by name with mismatches skipped on request, and
//! damaged files are errors that name the file and what was wrong, never panics.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use common::fixtures::{scratch, write};
use serde_json::Value;
use tessera::nn::io::{KerasWeightsOptions, load_keras, load_keras_weights, save_keras, save_keras_weights};
use tessera::nn::{Add, Apply, Dense, Input, Model};
use tessera::{Device, Tensor};

/// How far tessera's f32 predictions may be from Keras's (JAX, CPU, f32): the two sum the same
/// products in different orders, which moves the last bits of a softmax output.
const TOLERANCE: f32 = 1e-5;

/// A GPU's f32 kernels sum in their own order again, over a 3x3x4 convolution at most.
const GPU_TOLERANCE: f32 = 1e-4;

/// A file of the shared Keras fixtures, which sit beside the checkout (`../shared/fixtures`).
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/keras").join(name)
}

/// The tensor `name` of a safetensors file of f32 tensors (Keras's `input` batch and `output`).
fn safetensors_f32(path: &Path, name: &str) -> Tensor {
    let bytes = std::fs::read(path).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: Value = serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
    let entry = &header[name];
    assert_eq!(entry["dtype"], "F32", "{name} in {}", path.display());
    let shape: Vec<usize> =
        entry["shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect();
    let [start, end] = [0, 1].map(|i| entry["data_offsets"][i].as_u64().unwrap() as usize + 8 + header_len);
    let values =
        bytes[start..end].chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
    Tensor::from_vec(values, shape, &Device::Cpu).unwrap()
}

/// The largest difference between `model`'s predictions on Keras's input for `name` and Keras's
/// own output.
fn max_difference(model: &Model, name: &str) -> f32 {
    let io = fixture(&format!("{name}.io.safetensors"));
    let (input, expected) = (safetensors_f32(&io, "input"), safetensors_f32(&io, "output"));
    let predicted = model.predict(&input, 16).unwrap();
    assert_eq!(predicted.dims(), expected.dims());
    let (predicted, expected) = (predicted.to_vec::<f32>().unwrap(), expected.to_vec::<f32>().unwrap());
    predicted.iter().zip(&expected).map(|(p, e)| (p - e).abs()).fold(0.0, f32::max)
}

fn assert_predicts_as_keras(model: &Model, name: &str, how: &str, tolerance: f32) {
    let difference = max_difference(model, name);
    println!("{name} from {how}: max difference from Keras's predictions {difference:e}");
    assert!(difference <= tolerance, "{name} from {how}: {difference} > {tolerance}");
}

fn from_json(name: &str) -> Model {
    Model::from_keras_json(&std::fs::read_to_string(fixture(&format!("{name}.json"))).unwrap()).unwrap()
}

#[test]
fn keras_archives_predict_as_keras() {
    for name in ["mlp", "cnn"] {
        let model = load_keras(fixture(&format!("{name}.keras"))).unwrap();
        assert_predicts_as_keras(&model, name, ".keras", TOLERANCE);
    }
}

#[test]
fn weights_files_into_models_from_keras_json_predict_as_keras() {
    for name in ["mlp", "cnn"] {
        let model = from_json(name);
        let skipped = load_keras_weights(
            &model,
            fixture(&format!("{name}.weights.h5")),
            KerasWeightsOptions::default(),
        )
        .unwrap();
        assert!(skipped.is_empty());
        assert_predicts_as_keras(&model, name, ".json + .weights.h5", TOLERANCE);
    }
}

#[test]
fn legacy_h5_files_predict_as_keras() {
    for name in ["mlp", "cnn"] {
        let path = fixture(&format!("{name}.legacy.h5"));
        assert_predicts_as_keras(&load_keras(&path).unwrap(), name, ".legacy.h5", TOLERANCE);
        let model = from_json(name);
        load_keras_weights(&model, &path, KerasWeightsOptions::default()).unwrap();
        assert_predicts_as_keras(&model, name, ".json + .legacy.h5 weights", TOLERANCE);
    }
}

#[test]
fn keras_configs_keep_their_layers_and_parameter_counts() {
    let cnn = from_json("cnn");
    let names: Vec<&str> = cnn.layers().iter().map(|l| l.name()).collect();
    assert_eq!(
        names,
        ["conv2d", "max_pooling2d", "batch_normalization", "conv2d_1", "dropout", "flatten", "dense_2"]
    );
    // Keras's summary: 799 parameters, of which BatchNormalization's 8 moving statistics are not
    // trained.
    assert_eq!(cnn.count_params(), (791, 8));
    assert_eq!(from_json("mlp").count_params(), (67, 0));
}

#[test]
fn the_optimizer_state_comes_back_from_keras_files() {
    for name in ["mlp", "cnn"] {
        let archive = load_keras(fixture(&format!("{name}.keras"))).unwrap();
        let (iterations, slots) = archive.optimizer_state().unwrap();
        assert_eq!(iterations, 3, "Keras trained {name} for 3 steps");
        // Adam: a momentum and a velocity per trainable weight.
        assert_eq!(slots.len(), 2 * archive.trainable_weights().len());
        assert_eq!(
            slots[0].0,
            format!("{}/momentum", if name == "mlp" { "dense/kernel" } else { "conv2d/kernel" })
        );
        // The legacy file of the same model holds the same state under names rather than numbers.
        let legacy = load_keras(fixture(&format!("{name}.legacy.h5"))).unwrap();
        let (legacy_iterations, legacy_slots) = legacy.optimizer_state().unwrap();
        assert_eq!(legacy_iterations, 3);
        for ((a_name, a), (b_name, b)) in slots.iter().zip(&legacy_slots) {
            assert_eq!(a_name, b_name);
            assert_eq!(a.to_vec::<f32>().unwrap(), b.to_vec::<f32>().unwrap(), "{name}: {a_name}");
        }
    }
    // Keras's first moment of the first kernel after 3 steps, read from the file by h5py.
    let (_, slots) = load_keras(fixture("mlp.keras")).unwrap().optimizer_state().unwrap();
    assert_eq!(&slots[0].1.to_vec::<f32>().unwrap()[..3], &[0.009356503, -0.03528021, 0.021537079]);
}

#[test]
fn a_loaded_keras_model_trains_on() {
    let mut model = load_keras(fixture("mlp.keras")).unwrap();
    let io = fixture("mlp.io.safetensors");
    let x = safetensors_f32(&io, "input");
    let y = Tensor::from_vec(vec![0.0f32; 16], [16], &Device::Cpu).unwrap();
    model.train_on_batch(&x, &y).unwrap();
    assert_eq!(model.optimizer_state().unwrap().0, 4);
}

/// A model with the first layer of `mlp` and a head of its own.
fn mlp_with_head(units: usize, head: &str) -> Model {
    Model::sequential(vec![
        Box::new(Dense::new(8).input_shape(&[4]).activation("relu").named("dense")),
        Box::new(Dense::new(units).activation("softmax").named(head)),
    ])
    .unwrap()
}

#[test]
fn weights_load_by_name_and_skip_mismatches_on_request() {
    let keras = load_keras(fixture("mlp.keras")).unwrap();
    let kernel = |m: &Model| m.layers()[0].weights()[0].value().to_vec::<f32>().unwrap();
    let head = |m: &Model| m.layers()[1].weights()[0].value().to_vec::<f32>().unwrap();
    let by_name = KerasWeightsOptions { by_name: true, ..Default::default() };
    let skip = KerasWeightsOptions { skip_mismatch: true, ..Default::default() };

    // Legacy files by name: a new head is left as it is, the layer the file has is filled.
    let model = mlp_with_head(5, "new_head");
    let fresh = head(&model);
    load_keras_weights(&model, fixture("mlp.legacy.h5"), by_name).unwrap();
    assert_eq!((kernel(&model), head(&model)), (kernel(&keras), fresh));
    // A head of the file's name but another shape: an error naming it, or skipped on request.
    let model = mlp_with_head(5, "dense_1");
    let error = load_keras_weights(&model, fixture("mlp.legacy.h5"), by_name).unwrap_err().to_string();
    assert!(
        error.contains("dense_1") && error.contains("[8, 3]") && error.contains("mlp.legacy.h5"),
        "{error}"
    );
    let skipped = load_keras_weights(
        &model,
        fixture("mlp.legacy.h5"),
        KerasWeightsOptions { by_name: true, skip_mismatch: true },
    )
    .unwrap();
    assert!(skipped.len() == 1 && skipped[0].starts_with("dense_1"), "{skipped:?}");
    assert_eq!(kernel(&model), kernel(&keras));
    // Without by_name a legacy file fills the layers in order, whatever their names.
    let model = mlp_with_head(3, "new_head");
    load_keras_weights(&model, fixture("mlp.legacy.h5"), Default::default()).unwrap();
    assert_predicts_as_keras(&model, "mlp", "legacy weights in order", TOLERANCE);

    // Keras 3 files key layers by class and position, and refuse by_name as Keras 3 does; a
    // head of another shape is an error, or skipped on request.
    for file in ["mlp.weights.h5", "mlp.keras"] {
        let error =
            load_keras_weights(&mlp_with_head(3, "x"), fixture(file), by_name).unwrap_err().to_string();
        assert!(error.contains("by_name"), "{error}");
        let model = mlp_with_head(5, "new_head");
        let error = load_keras_weights(&model, fixture(file), Default::default()).unwrap_err().to_string();
        assert!(
            error.contains("new_head") && error.contains("[8, 3]") && error.contains("[8, 5]"),
            "{error}"
        );
        let fresh = head(&model);
        let skipped = load_keras_weights(&model, fixture(file), skip).unwrap();
        assert!(skipped.len() == 1 && skipped[0].starts_with("new_head"), "{skipped:?}");
        assert_eq!((kernel(&model), head(&model)), (kernel(&keras), fresh));
    }
}

#[test]
fn a_keras_model_predicts_on_a_gpu() {
    let Some(gpu) = common::gpu() else { return };
    let mut model = load_keras(fixture("cnn.keras")).unwrap();
    model.to_device(&gpu).unwrap();
    let io = fixture("cnn.io.safetensors");
    let input = safetensors_f32(&io, "input").to(&gpu).unwrap();
    let predicted = model.predict(&input, 16).unwrap().to_vec::<f32>().unwrap();
    let expected = safetensors_f32(&io, "output").to_vec::<f32>().unwrap();
    let difference = predicted.iter().zip(&expected).map(|(p, e)| (p - e).abs()).fold(0.0, f32::max);
    println!("cnn on the GPU: max difference from Keras's predictions {difference:e}");
    assert!(difference <= GPU_TOLERANCE, "{difference} > {GPU_TOLERANCE}");
}

/// The predictions of `model` on Keras's input for `name`, as bits.
fn predictions(model: &Model, name: &str) -> Vec<u32> {
    let input = safetensors_f32(&fixture(&format!("{name}.io.safetensors")), "input");
    model.predict(&input, 16).unwrap().to_vec::<f32>().unwrap().iter().map(|v| v.to_bits()).collect()
}

fn optimizer_bits(model: &Model) -> (u64, Vec<(String, Vec<u32>)>) {
    let (iterations, slots) = model.optimizer_state().unwrap();
    let slots =
        slots.into_iter().map(|(n, t)| (n, t.to_vec::<f32>().unwrap().iter().map(|v| v.to_bits()).collect()));
    (iterations, slots.collect())
}

#[test]
fn keras_files_tessera_writes_read_back_bit_for_bit() {
    let dir = scratch("keras-round-trip");
    for name in ["mlp", "cnn"] {
        let model = load_keras(fixture(&format!("{name}.keras"))).unwrap();
        let archive = dir.join(format!("{name}.keras"));
        save_keras(&model, &archive).unwrap();
        let back = load_keras(&archive).unwrap();
        assert_eq!(predictions(&back, name), predictions(&model, name), "{name}.keras");
        assert_eq!(optimizer_bits(&back), optimizer_bits(&model), "{name}.keras");
        assert_eq!(back.learning_rate().unwrap(), model.learning_rate().unwrap());

        let weights = dir.join(format!("{name}.weights.h5"));
        save_keras_weights(&model, &weights).unwrap();
        let fresh = from_json(name);
        load_keras_weights(&fresh, &weights, KerasWeightsOptions::default()).unwrap();
        assert_eq!(predictions(&fresh, name), predictions(&model, name), "{name}.weights.h5");
    }
    // A functional graph with a merge: Keras 3's inbound nodes written and read back.
    let x = Input::new(&[4]).symbolic().unwrap();
    let a = Dense::new(3).apply(&[&x]).unwrap();
    let b = Dense::new(3).activation("relu").apply(&[&x]).unwrap();
    let y = Add::new().apply(&[&a, &b]).unwrap();
    let model = Model::functional(&[&x], &y).unwrap();
    let path = dir.join("graph.keras");
    save_keras(&model, &path).unwrap();
    assert_eq!(predictions(&load_keras(&path).unwrap(), "mlp"), predictions(&model, "mlp"));
}

/// Writes what `scripts/check_keras_files.py` gives Keras: for each model, tessera's `.keras`
/// and `.weights.h5` files and `NAME.predictions.json` (Keras's input and tessera's
/// predictions), into `TESSERA_KERAS_CHECK_DIR`. Run by that script only.
#[test]
#[ignore = "writes files for scripts/check_keras_files.py"]
fn write_files_for_keras() {
    let dir = PathBuf::from(std::env::var("TESSERA_KERAS_CHECK_DIR").expect("TESSERA_KERAS_CHECK_DIR"));
    let x = Input::new(&[4]).symbolic().unwrap();
    let a = Dense::new(3).apply(&[&x]).unwrap();
    let b = Dense::new(3).activation("relu").apply(&[&x]).unwrap();
    let graph = Model::functional(&[&x], &Add::new().apply(&[&a, &b]).unwrap()).unwrap();
    let models = [
        ("mlp", "mlp", load_keras(fixture("mlp.keras")).unwrap()),
        ("cnn", "cnn", load_keras(fixture("cnn.keras")).unwrap()),
        ("graph", "mlp", graph),
    ];
    for (name, data, model) in models {
        save_keras(&model, dir.join(format!("{name}.keras"))).unwrap();
        save_keras_weights(&model, dir.join(format!("{name}.weights.h5"))).unwrap();
        let input = safetensors_f32(&fixture(&format!("{data}.io.safetensors")), "input");
        let output = model.predict(&input, 16).unwrap();
        let json = serde_json::json!({
            "input": input.to_vec::<f32>().unwrap(), "input_shape": input.dims(),
            "output": output.to_vec::<f32>().unwrap(), "output_shape": output.dims(),
        });
        std::fs::write(dir.join(format!("{name}.predictions.json")), json.to_string()).unwrap();
    }
}

/// A zip archive of `members`, stored uncompressed, as Python's zipfile writes `.keras` files.
fn zip_of(members: &[(&str, &[u8])]) -> Vec<u8> {
    let (mut out, mut central) = (Vec::new(), Vec::new());
    for (name, data) in members {
        let mut crc = flate2::Crc::new();
        crc.update(data);
        let offset = out.len() as u32;
        let fields = |out: &mut Vec<u8>| {
            out.extend(0u16.to_le_bytes()); // flags
            out.extend(0u16.to_le_bytes()); // stored
            out.extend([0u8; 4]); // time and date
            out.extend(crc.sum().to_le_bytes());
            out.extend((data.len() as u32).to_le_bytes());
            out.extend((data.len() as u32).to_le_bytes());
            out.extend((name.len() as u16).to_le_bytes());
            out.extend(0u16.to_le_bytes()); // extra field length
        };
        out.extend(b"PK\x03\x04");
        out.extend(20u16.to_le_bytes());
        fields(&mut out);
        out.extend(name.as_bytes());
        out.extend(*data);
        central.extend(b"PK\x01\x02");
        central.extend(20u16.to_le_bytes());
        central.extend(20u16.to_le_bytes());
        fields(&mut central);
        central.extend([0u8; 6]); // comment length, disk, internal attributes
        central.extend([0u8; 4]); // external attributes
        central.extend(offset.to_le_bytes());
        central.extend(name.as_bytes());
    }
    let central_offset = out.len() as u32;
    out.extend(&central);
    out.extend(b"PK\x05\x06");
    out.extend([0u8; 4]);
    out.extend((members.len() as u16).to_le_bytes());
    out.extend((members.len() as u16).to_le_bytes());
    out.extend((central.len() as u32).to_le_bytes());
    out.extend(central_offset.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out
}

/// The error of loading `bytes` as a whole Keras model, which must name the file.
fn load_error(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = write(dir, name, bytes);
    let error = load_keras(&path).err().unwrap_or_else(|| panic!("{name} loaded")).to_string();
    assert!(error.contains(name), "the error names the file: {error}");
    error
}

#[test]
fn damaged_keras_files_are_errors_naming_what_was_wrong() {
    let dir = scratch("keras-damaged");
    let archive = std::fs::read(fixture("mlp.keras")).unwrap();
    let weights = std::fs::read(fixture("mlp.weights.h5")).unwrap();
    let config = r#"{"class_name": "Sequential", "config": {"name": "m", "layers": []}}"#;

    let error = load_error(&dir, "truncated.keras", &archive[..archive.len() / 2]);
    assert!(error.contains("zip"), "{error}");
    let error = load_error(&dir, "no-config.keras", &zip_of(&[("model.weights.h5", &weights[..])]));
    assert!(error.contains("config.json"), "{error}");
    let error = load_error(&dir, "no-weights.keras", &zip_of(&[("config.json", config.as_bytes())]));
    assert!(error.contains("model.weights.h5"), "{error}");
    let legacy = std::fs::read(fixture("mlp.legacy.h5")).unwrap();
    let error = load_error(&dir, "truncated.h5", &legacy[..legacy.len() / 2]);
    assert!(error.contains("HDF5") || error.contains("dataset") || error.contains("group"), "{error}");
    let error = load_error(&dir, "weights-only.h5", &weights);
    assert!(error.contains("model_config") && error.contains("load_keras_weights"), "{error}");
    let error = load_error(&dir, "text.keras", b"not a model");
    assert!(error.contains("neither"), "{error}");

    // The cnn's weights into the mlp: the layer and both shapes are named.
    let path = write(&dir, "cnn-weights.weights.h5", &std::fs::read(fixture("cnn.weights.h5")).unwrap());
    let one_dense = Model::sequential(vec![Box::new(Dense::new(8).input_shape(&[4]))]).unwrap();
    let error = load_keras_weights(&one_dense, &path, Default::default()).unwrap_err().to_string();
    assert!(error.contains("dense") && error.contains("[96, 5]") && error.contains("[4, 8]"), "{error}");

    // A config tessera cannot honour is refused, naming the layer and the field.
    let cnn = std::fs::read_to_string(fixture("cnn.json")).unwrap();
    let json_error =
        |json: &str| Model::from_keras_json(json).err().expect("the config is refused").to_string();
    let error = json_error(&cnn.replacen("channels_last", "channels_first", 1));
    assert!(
        error.contains("conv2d") && error.contains("data_format") && error.contains("channels_first"),
        "{error}"
    );
    let error = json_error(&cnn.replace("\"Dropout\"", "\"AlphaDropout\""));
    assert!(error.contains("AlphaDropout"), "{error}");
    let dilated = cnn.replacen("\"dilation_rate\": [1, 1]", "\"dilation_rate\": [2, 2]", 1);
    let error = json_error(&dilated);
    assert!(error.contains("dilation_rate"), "{error}");
    // The archive's own config, edited: the error says it came from config.json in the file.
    let mlp_config =
        std::fs::read_to_string(fixture("mlp.json")).unwrap().replace("\"units\": 8", "\"units\": 9");
    let error = load_error(
        &dir,
        "edited.keras",
        &zip_of(&[("config.json", mlp_config.as_bytes()), ("model.weights.h5", &weights[..])]),
    );
    assert!(error.contains("config.json") || error.contains("dense"), "{error}");
}

/// A small deterministic generator, for the positions of the damage below.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    *state >> 33
}

#[test]
fn truncated_and_flipped_keras_files_never_panic() {
    let dir = scratch("keras-fuzz");
    let mut state = 7;
    for name in ["mlp.keras", "mlp.weights.h5", "mlp.legacy.h5", "cnn.keras"] {
        let original = std::fs::read(fixture(name)).unwrap();
        let model = from_json(if name.starts_with("mlp") { "mlp" } else { "cnn" });
        for round in 0..150 {
            let mut bytes = original.clone();
            let at = next(&mut state) as usize % bytes.len();
            if round % 3 == 0 {
                bytes.truncate(at);
            } else {
                bytes[at] ^= 1 << (next(&mut state) % 8);
            }
            let path = write(&dir, name, &bytes);
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                let whole = load_keras(&path).map(|_| ());
                let weights = load_keras_weights(&model, &path, KerasWeightsOptions::default()).map(|_| ());
                [whole, weights]
            }));
            let results =
                outcome.unwrap_or_else(|_| panic!("{name}: round {round} (damage at byte {at}) panicked"));
            for error in results.into_iter().filter_map(Result::err) {
                assert!(error.to_string().contains(name), "{name} round {round}: {error}");
            }
        }
    }
}
