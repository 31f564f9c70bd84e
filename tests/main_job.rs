//! The main job's fast mode: the reference CNN on a slice of the real Fashion-MNIST learns far
//! past chance; its model, checkpoints and report are written, and an interrupted run resumes.

mod common;

use tessera::train::{TrainOptions, reference_cnn, run};

#[test]
fn the_reference_cnn_has_keras_parameter_count() {
    assert_eq!(reference_cnn().unwrap().count_params(), (421_642, 0));
}

#[test]
fn fast_mode_learns_on_the_cpu() {
    let out_dir = std::env::temp_dir().join(format!("tessera-main-job-{}", std::process::id()));
    let options = TrainOptions {
        epochs: 1,
        limit: Some(3000),
        out_dir: out_dir.clone(),
        verbose: 0,
        ..Default::default()
    };
    let (_, result) = run(&options).unwrap();
    // Chance is 10% over ten classes; one epoch on 2,700 images reaches about 70%.
    assert!(result.test_accuracy > 0.5, "test accuracy {}", result.test_accuracy);
    let losses = result.history.get("loss").unwrap();
    assert!(losses[0] < 2.3, "the first epoch's mean loss {} should be below ln(10) = 2.303", losses[0]);
    assert!(result.model_path.exists());
    assert!(out_dir.join("checkpoints/epoch-01.safetensors").exists());
    let names: Vec<_> = result.report.iter().map(|p| p.file_name().unwrap().to_str().unwrap()).collect();
    assert_eq!(names, ["report.md", "curves.png", "filters.png", "predictions.png"]);
    for picture in &result.report[1..] {
        let (width, height) = image::image_dimensions(picture).unwrap();
        assert!(width >= 200 && height >= 100, "{}: {width}x{height}", picture.display());
    }
    let summary = std::fs::read_to_string(&result.report[0]).unwrap();
    assert!(summary.contains(&format!("| test accuracy | {:.4} |", result.test_accuracy)), "{summary}");
    std::fs::remove_dir_all(out_dir).unwrap();
}

#[test]
fn fast_mode_learns_on_the_gpu() {
    let Some(device) = common::gpu() else { return };
    let out_dir = std::env::temp_dir().join(format!("tessera-main-job-gpu-{}", std::process::id()));
    let options = TrainOptions {
        epochs: 1,
        limit: Some(3000),
        device,
        out_dir: out_dir.clone(),
        verbose: 0,
        ..Default::default()
    };
    let (_, result) = run(&options).unwrap();
    // Same bound as on the CPU: chance is 10%.
    assert!(result.test_accuracy > 0.5, "test accuracy {}", result.test_accuracy);
    std::fs::remove_dir_all(out_dir).unwrap();
}

#[test]
fn an_interrupted_run_resumes_from_its_last_checkpoint() {
    let out_dir = std::env::temp_dir().join(format!("tessera-main-job-resume-{}", std::process::id()));
    let options = TrainOptions {
        epochs: 1,
        limit: Some(600),
        out_dir: out_dir.clone(),
        verbose: 0,
        ..Default::default()
    };
    let (_, first) = run(&options).unwrap();
    assert_eq!(first.resumed_after_epoch, None);
    // Asking for two epochs with --resume runs only the second, continuing the first's model;
    // the history, kept in the checkpoint, covers both.
    let (_, resumed) = run(&TrainOptions { epochs: 2, resume: true, ..options.clone() }).unwrap();
    assert_eq!(resumed.resumed_after_epoch, Some(1));
    assert_eq!(resumed.history.epochs(), [0, 1]);
    assert_eq!(resumed.history.get("loss").unwrap()[0], first.history.get("loss").unwrap()[0]);
    assert!(out_dir.join("checkpoints/epoch-02.safetensors").exists());
    let summary = std::fs::read_to_string(&resumed.report[0]).unwrap();
    assert!(summary.contains("from the checkpoint of epoch 1"), "{summary}");
    assert!(summary.contains("| 1 | ") && summary.contains("| 2 | "), "{summary}");

    // A run that died after its last checkpoint (during the evaluation, the model's write or the
    // report) resumes into them, with the whole history.
    for finished in ["model.safetensors", "report.md", "curves.png"] {
        std::fs::remove_file(out_dir.join(finished)).unwrap();
    }
    let (_, ended) = run(&TrainOptions { epochs: 2, resume: true, ..options.clone() }).unwrap();
    assert_eq!(ended.resumed_after_epoch, Some(2));
    assert_eq!(ended.history, resumed.history);
    assert_eq!(ended.test_loss, resumed.test_loss);
    assert!(out_dir.join("model.safetensors").exists() && out_dir.join("curves.png").exists());

    // Starting afresh over these checkpoints must be asked for.
    let refused = run(&options).err().expect("a fresh run over checkpoints is refused").to_string();
    assert!(refused.contains("--overwrite"), "{refused}");
    let (_, fresh) = run(&TrainOptions { overwrite: true, ..options }).unwrap();
    assert_eq!(fresh.history.epochs(), [0]);
    assert!(!out_dir.join("checkpoints/epoch-02.safetensors").exists(), "the earlier run's checkpoints stay");
    std::fs::remove_dir_all(out_dir).unwrap();
}
