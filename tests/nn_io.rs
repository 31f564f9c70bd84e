//! Weight files: a save/load round trip restores a model's outputs exactly; mismatched or
//! corrupt files are refused with errors that name the file and the weight; writes are atomic.

use tessera::nn::io::{load_weights, save_weights};
use tessera::nn::{BatchNormalization, Conv2D, Dense, Flatten, ForwardCtx, Model};
use tessera::{DType, Device, Tensor};

fn model(seed: u64, units: usize) -> Model {
    Model::sequential(vec![
        Box::new(Conv2D::new(3, 3).input_shape(&[5, 5, 2]).activation("relu").seed(seed)),
        Box::new(BatchNormalization::new()),
        Box::new(Flatten::new()),
        Box::new(Dense::new(units).seed(seed + 1)),
    ])
    .unwrap()
}

fn outputs(model: &Model) -> Vec<f32> {
    let x = Tensor::uniform([4, 5, 5, 2], -1.0, 1.0, 9, DType::F32, &Device::Cpu).unwrap();
    model.forward(&[x], &mut ForwardCtx::inference()).unwrap().to_vec::<f32>().unwrap()
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tessera-io-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_round_trip_restores_every_weight() {
    let dir = temp_dir("round-trip");
    let path = dir.join("weights.safetensors");
    let original = model(1, 4);
    // Non-trivial moving statistics, so non-trainable weights are covered too.
    let bn = original.layers()[1].weights();
    bn[2].assign(&Tensor::full([3], 0.25, DType::F32, &Device::Cpu).unwrap()).unwrap();
    save_weights(&original, &path).unwrap();
    let restored = model(100, 4);
    assert_ne!(outputs(&original), outputs(&restored));
    load_weights(&restored, &path).unwrap();
    assert_eq!(outputs(&original), outputs(&restored));
    let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(leftovers.len(), 1, "no temporary file is left behind: {leftovers:?}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn mismatched_and_corrupt_files_are_refused() {
    let dir = temp_dir("refused");
    let path = dir.join("weights.safetensors");
    save_weights(&model(1, 4), &path).unwrap();
    let other = model(2, 5);
    let before = outputs(&other);
    let err = load_weights(&other, &path).unwrap_err().to_string();
    assert!(err.contains("dense/kernel") && err.contains("weights.safetensors"), "{err}");
    assert_eq!(outputs(&other), before, "a refused file changes nothing");

    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let err = load_weights(&model(1, 4), &path).unwrap_err().to_string();
    assert!(err.contains("not a safetensors file"), "{err}");
    let err = load_weights(&model(1, 4), dir.join("missing.safetensors")).unwrap_err().to_string();
    assert!(err.contains("missing.safetensors"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}
