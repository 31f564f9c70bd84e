//! Training a model of several outputs as Keras 3 does: per-output losses, `loss_weights`,
//! metrics per output and their log names ("loss", "<output>_loss", "<output>_<metric>", and
//! the "val_" versions), checked against losses and gradients worked out from each output alone;
//! the errors Keras gives; the compile settings through save and load. Log names and values were
//! compared by hand with Keras 3.15 (JAX backend) on the same kind of model.

mod common;

use common::{assert_close, rand};
use tessera::Device;
use tessera::nn::io::{load_keras, load_model, save_keras, save_model};
use tessera::nn::losses::Loss;
use tessera::nn::optimizers::Sgd;
use tessera::nn::{
    Apply, CompileOptions, DType, Dense, EvaluateOptions, FitOptions, Input, Model, NnError, Targets, Tensor,
};

/// f64 sums of a handful of terms, computed two ways.
const F64_TOLERANCE: f64 = 1e-10;
/// f32 on the GPU against f64 on the CPU: relative to the values' scale (about 1).
const GPU_TOLERANCE: f64 = 2e-4;

/// x (3 features) -> "hidden" (4, tanh) -> "out_a" (2, linear) and "out_b" (1, sigmoid).
fn two_output_model(dtype: DType) -> Model {
    let x = Input::new(&[3]).named("x").symbolic().unwrap();
    let h = Dense::new(4).activation("tanh").dtype(dtype).seed(11).named("hidden").apply(&[&x]).unwrap();
    let a = Dense::new(2).dtype(dtype).seed(12).named("out_a").apply(&[&h]).unwrap();
    let b = Dense::new(1).activation("sigmoid").dtype(dtype).seed(13).named("out_b").apply(&[&h]).unwrap();
    Model::functional(&[&x], &[&a, &b]).unwrap()
}

/// Six samples: x, regression targets for "out_a", 0/1 labels for "out_b".
fn data() -> (Tensor, Tensor, Tensor) {
    let x = rand(&[6, 3], 1);
    let ya = rand(&[6, 2], 2);
    let yb = Tensor::from_slice(&[1.0, 0.0, 0.0, 1.0, 1.0, 0.0], vec![6, 1], &Device::Cpu).unwrap();
    (x, ya, yb)
}

fn sgd() -> Sgd {
    Sgd { learning_rate: 0.1, ..Sgd::default() }
}

/// Mean squared error and binary cross-entropy of each output, by hand from the predictions.
fn hand_losses(model: &Model, x: &Tensor, ya: &Tensor, yb: &Tensor, weights: Option<&[f64]>) -> (f64, f64) {
    let predicted = model.predict_all(x, 32).unwrap();
    let (pa, pb) = (predicted[0].to_vec_f64().unwrap(), predicted[1].to_vec_f64().unwrap());
    let (ya, yb) = (ya.to_vec_f64().unwrap(), yb.to_vec_f64().unwrap());
    let samples = yb.len();
    let w = |i: usize| weights.map_or(1.0, |w| w[i]);
    let mse: f64 = (0..samples)
        .map(|i| w(i) * ((pa[2 * i] - ya[2 * i]).powi(2) + (pa[2 * i + 1] - ya[2 * i + 1]).powi(2)) / 2.0)
        .sum::<f64>()
        / samples as f64;
    let bce: f64 =
        (0..samples).map(|i| -w(i) * (yb[i] * pb[i].ln() + (1.0 - yb[i]) * (1.0 - pb[i]).ln())).sum::<f64>()
            / samples as f64;
    (mse, bce)
}

fn compile(model: &mut Model, loss_weights: [f64; 2]) {
    let options = CompileOptions::default()
        .losses(["mse", "binary_crossentropy"])
        .loss_weights(loss_weights)
        .metrics_per_output(&[&["mae"], &["accuracy"]]);
    model.compile_with(sgd(), options).unwrap();
}

#[test]
fn total_loss_is_the_weighted_sum_of_the_outputs_losses() {
    let (x, ya, yb) = data();
    let mut model = two_output_model(DType::F64);
    compile(&mut model, [1.0, 0.5]);
    let (mse, bce) = hand_losses(&model, &x, &ya, &yb, None);
    let logs = model.evaluate(&x, [&ya, &yb], EvaluateOptions::default().verbose(0)).unwrap();
    let keys: Vec<&str> = logs.keys().map(String::as_str).collect();
    assert_eq!(keys, ["loss", "out_a_loss", "out_a_mae", "out_b_accuracy", "out_b_loss"]);
    // Keras logs each output's loss before its weight, and their weighted sum as "loss".
    assert_close(&[logs["out_a_loss"], logs["out_b_loss"]], &[mse, bce], F64_TOLERANCE);
    assert_close(&[logs["loss"]], &[mse + 0.5 * bce], F64_TOLERANCE);
    assert_eq!(
        model.metrics_names(),
        ["loss", "out_a_loss", "out_a_mae", "out_b_accuracy", "out_b_loss"].map(String::from)
    );

    // Targets by output name give the same, in any order.
    let named = Targets::named([("out_b", &yb), ("out_a", &ya)]);
    let by_name = model.evaluate(&x, named, EvaluateOptions::default().verbose(0)).unwrap();
    assert_eq!(by_name, logs);

    // Sample weights weigh every output's loss ("sum_over_batch_size": over 6, not the weights).
    let w = [1.0, 2.0, 0.0, 1.0, 1.0, 3.0];
    let (wmse, wbce) = hand_losses(&model, &x, &ya, &yb, Some(&w));
    let weights = Tensor::from_slice(&w, vec![6], &Device::Cpu).unwrap();
    let options = EvaluateOptions::default().verbose(0).sample_weight(&weights);
    let weighted = model.evaluate(&x, [&ya, &yb], options).unwrap();
    assert_close(
        &[weighted["out_a_loss"], weighted["out_b_loss"], weighted["loss"]],
        &[wmse, wbce, wmse + 0.5 * wbce],
        F64_TOLERANCE,
    );
    // Plain metrics are not weighted.
    assert_eq!(weighted["out_a_mae"], logs["out_a_mae"]);
}

#[test]
fn one_loss_for_all_outputs_and_losses_by_name() {
    let (x, ya, yb) = data();
    let mut model = two_output_model(DType::F64);
    model.compile(sgd(), "mse", &[]).unwrap();
    let logs = model.evaluate(&x, [&ya, &yb], EvaluateOptions::default().verbose(0)).unwrap();
    let predicted = model.predict_all(&x, 32).unwrap();
    let mse_b = predicted[1].sub(&yb).unwrap().square().unwrap().mean_all().unwrap().item().unwrap();
    let (mse_a, _) = hand_losses(&model, &x, &ya, &yb, None);
    assert_close(
        &[logs["out_a_loss"], logs["out_b_loss"], logs["loss"]],
        &[mse_a, mse_b, mse_a + mse_b],
        F64_TOLERANCE,
    );

    let options = CompileOptions::default()
        .output_loss("out_b", "binary_crossentropy")
        .output_loss("out_a", Loss::MeanSquaredError)
        .output_loss_weight("out_a", 2.0)
        .output_metrics("out_b", &["accuracy"]);
    model.compile_with(sgd(), options).unwrap();
    let (mse, bce) = hand_losses(&model, &x, &ya, &yb, None);
    let logs = model.evaluate(&x, [&ya, &yb], EvaluateOptions::default().verbose(0)).unwrap();
    let keys: Vec<&str> = logs.keys().map(String::as_str).collect();
    assert_eq!(keys, ["loss", "out_a_loss", "out_b_accuracy", "out_b_loss"]);
    assert_close(&[logs["loss"]], &[2.0 * mse + bce], F64_TOLERANCE);
}

/// Each trainable weight's gradient, in the model's order.
fn gradients(model: &mut Model, x: &Tensor, ya: &Tensor, yb: &Tensor) -> Vec<Vec<f64>> {
    model.gradients(x, [ya, yb]).unwrap().iter().map(|(_, g)| g.to_vec_f64().unwrap()).collect()
}

#[test]
fn gradients_are_the_weighted_sum_of_each_outputs_gradients() {
    let (x, ya, yb) = data();
    let mut model = two_output_model(DType::F64);
    let mut alone = |weights: [f64; 2]| {
        compile(&mut model, weights);
        gradients(&mut model, &x, &ya, &yb)
    };
    let (only_a, only_b, both) = (alone([1.0, 0.0]), alone([0.0, 1.0]), alone([0.7, 1.9]));
    for ((a, b), total) in only_a.iter().zip(&only_b).zip(&both) {
        let expected: Vec<f64> = a.iter().zip(b).map(|(a, b)| 0.7 * a + 1.9 * b).collect();
        assert_close(total, &expected, F64_TOLERANCE);
    }
    // "out_a" depends on its own kernel only through its loss, "out_b"'s kernel only through
    // its own: each head's gradient comes from its output alone.
    let names: Vec<String> = model.gradients(&x, [&ya, &yb]).unwrap().into_iter().map(|(n, _)| n).collect();
    let head_a = names.iter().position(|n| n == "out_a/kernel").unwrap();
    assert!(only_b[head_a].iter().all(|&g| g == 0.0));
    assert!(only_a[head_a].iter().any(|&g| g != 0.0));

    // A training step moves the weights by -lr times that gradient (plain SGD).
    compile(&mut model, [0.7, 1.9]);
    let before: Vec<Vec<f64>> =
        model.trainable_weights().iter().map(|w| w.value().to_vec_f64().unwrap()).collect();
    let logs = model.train_on_batch(&x, [&ya, &yb]).unwrap();
    let (mse, bce) = {
        let mut fresh = two_output_model(DType::F64);
        compile(&mut fresh, [0.7, 1.9]);
        hand_losses(&fresh, &x, &ya, &yb, None)
    };
    assert_close(&[logs["loss"]], &[0.7 * mse + 1.9 * bce], F64_TOLERANCE);
    for ((w, old), g) in model.trainable_weights().iter().zip(&before).zip(&both) {
        let expected: Vec<f64> = old.iter().zip(g).map(|(o, g)| o - 0.1 * g).collect();
        assert_close(&w.value().to_vec_f64().unwrap(), &expected, F64_TOLERANCE);
    }
}

#[test]
fn gpu_losses_and_gradients_match_the_cpu() {
    let Some(gpu) = common::gpu() else { return };
    let (x, ya, yb) = data();
    let mut cpu = two_output_model(DType::F64);
    let mut on_gpu = two_output_model(DType::F32);
    on_gpu.to_device(&gpu).unwrap();
    for model in [&mut cpu, &mut on_gpu] {
        compile(model, [0.3, 1.7]);
    }
    let reference = gradients(&mut cpu, &x, &ya, &yb);
    let f32 = |t: &Tensor| t.to_dtype(DType::F32).unwrap();
    let (x32, ya32, yb32) = (f32(&x), f32(&ya), f32(&yb));
    let computed = gradients(&mut on_gpu, &x32, &ya32, &yb32);
    for (c, r) in computed.iter().zip(&reference) {
        assert_close(c, r, GPU_TOLERANCE);
    }
    let cpu_logs = cpu.evaluate(&x, [&ya, &yb], EvaluateOptions::default().verbose(0)).unwrap();
    let gpu_logs = on_gpu.evaluate(&x32, [&ya32, &yb32], EvaluateOptions::default().verbose(0)).unwrap();
    assert_eq!(cpu_logs.keys().collect::<Vec<_>>(), gpu_logs.keys().collect::<Vec<_>>());
    for (key, value) in &cpu_logs {
        assert_close(&[gpu_logs[key]], &[*value], GPU_TOLERANCE);
    }
}

#[test]
fn history_holds_every_outputs_logs_and_their_validation() {
    let (x, ya, yb) = data();
    let mut model = two_output_model(DType::F64);
    compile(&mut model, [1.0, 0.5]);
    let before = model.evaluate(&x, [&ya, &yb], EvaluateOptions::default().verbose(0)).unwrap();
    let mut printed = Vec::new();
    let options = FitOptions::default()
        .batch_size(6)
        .shuffle(false)
        .verbose(2)
        .output(&mut printed)
        .validation_data(&x, [&ya, &yb]);
    let history = model.fit(&x, [&ya, &yb], options).unwrap();
    let keys: Vec<&str> = history.keys().collect();
    assert_eq!(
        keys,
        [
            "loss",
            "out_a_loss",
            "out_a_mae",
            "out_b_accuracy",
            "out_b_loss",
            "val_loss",
            "val_out_a_loss",
            "val_out_a_mae",
            "val_out_b_accuracy",
            "val_out_b_loss"
        ]
    );
    // One step over the whole batch: the training logs are the batch's before the update, the
    // validation logs the same data's after it.
    let after = model.evaluate(&x, [&ya, &yb], EvaluateOptions::default().verbose(0)).unwrap();
    for (key, value) in &before {
        assert_close(history.get(key).unwrap(), &[*value], F64_TOLERANCE);
        assert_close(history.get(&format!("val_{key}")).unwrap(), &[after[key]], F64_TOLERANCE);
    }
    // The progress line shows them in Keras 3's order: sorted, training ones first.
    let line = String::from_utf8(printed).unwrap();
    let order =
        ["- loss:", "- out_a_loss:", "- out_a_mae:", "- out_b_accuracy:", "- out_b_loss:", "- val_loss:"];
    let positions: Vec<usize> =
        order.iter().map(|k| line.find(k).unwrap_or_else(|| panic!("{k} in {line}"))).collect();
    assert!(positions.windows(2).all(|p| p[0] < p[1]), "{line}");
}

#[test]
fn mistakes_are_errors_that_say_what_was_expected() {
    let (x, ya, yb) = data();
    let mut model = two_output_model(DType::F64);
    compile(&mut model, [1.0, 1.0]);
    let message = |e: NnError| e.to_string();

    let err = message(model.fit(&x, &ya, FitOptions::default().verbose(0)).unwrap_err());
    assert!(err.contains("2 output(s) (out_a, out_b), so y needs 2 target tensor(s), got 1"), "{err}");
    let err = message(model.evaluate(&x, [&ya, &yb, &yb], EvaluateOptions::default()).unwrap_err());
    assert!(err.contains("got 3"), "{err}");
    let err = message(model.train_on_batch(&x, Targets::named([("out_a", &ya), ("nope", &yb)])).unwrap_err());
    assert!(
        err.contains("y names output \"nope\", but model \"functional\"'s outputs are out_a, out_b"),
        "{err}"
    );
    let err = message(model.train_on_batch(&x, Targets::named([("out_a", &ya)])).unwrap_err());
    assert!(err.contains("no target for output \"out_b\""), "{err}");
    let twice = Targets::named([("out_a", &ya), ("out_b", &yb), ("out_a", &ya)]);
    let err = message(model.train_on_batch(&x, twice).unwrap_err());
    assert!(err.contains("y names output \"out_a\" twice"), "{err}");

    let options = FitOptions::default().verbose(0).class_weight([(0, 1.0), (1, 2.0)]);
    let err = message(model.fit(&x, [&ya, &yb], options).unwrap_err());
    assert!(err.contains("class_weight is only supported for models with a single output"), "{err}");

    // A target that does not fit its output's loss names the output.
    let err = message(model.evaluate(&x, [&ya, &ya], EvaluateOptions::default()).unwrap_err());
    assert!(err.contains("output \"out_b\""), "{err}");

    let compile_err = |options: CompileOptions| {
        message(two_output_model(DType::F64).compile_with(sgd(), options).unwrap_err())
    };
    let err = compile_err(CompileOptions::default().loss("mse").output_loss_weight("nope", 1.0));
    assert!(
        err.contains("loss_weights names output \"nope\", but the model's outputs are out_a, out_b"),
        "{err}"
    );
    let err = compile_err(CompileOptions::default().losses(["mse"]));
    assert!(err.contains("loss lists 1 value(s), but the model has 2 output(s)"), "{err}");
    let err = compile_err(CompileOptions::default().output_loss("out_a", "mse"));
    assert!(err.contains("leave output \"out_b\" without one"), "{err}");
    // A flat list of metrics is for a model of one output, as in Keras.
    let err = compile_err(CompileOptions::default().loss("mse").metrics(&["mae"]));
    assert!(err.contains("metrics are given per output"), "{err}");
    let err = compile_err(CompileOptions::default().loss("no_such_loss"));
    assert!(err.contains("no_such_loss"), "{err}");
}

#[test]
fn compile_settings_survive_save_and_load() {
    let (x, ya, yb) = data();
    let mut model = two_output_model(DType::F64);
    let options = CompileOptions::default()
        .losses(["mse", "binary_crossentropy"])
        .loss_weights([0.25, 3.0])
        .metrics_per_output(&[&["mae"], &["accuracy"]])
        .output_weighted_metrics("out_b", &["accuracy"]);
    model.compile_with(sgd(), options).unwrap();
    model.train_on_batch(&x, [&ya, &yb]).unwrap();
    let weights = Tensor::from_slice(&[1.0, 2.0, 0.0, 1.0, 1.0, 3.0], vec![6], &Device::Cpu).unwrap();
    let evaluate = |m: &Model| {
        m.evaluate(&x, [&ya, &yb], EvaluateOptions::default().verbose(0).sample_weight(&weights)).unwrap()
    };
    let expected = evaluate(&model);
    assert!(expected.contains_key("out_b_weighted_accuracy"), "{expected:?}");

    let dir = std::env::temp_dir().join(format!("tessera-multi-output-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("two_outputs.tsr");
    save_model(&model, &path).unwrap();
    let loaded = load_model(&path).unwrap();
    assert_eq!(loaded.metrics_names(), model.metrics_names());
    assert_eq!(evaluate(&loaded), expected);

    // Keras's archive keeps them as Keras's lists, and reads them back.
    let keras = dir.join("two_outputs.keras");
    save_keras(&model, &keras).unwrap();
    let loaded = load_keras(&keras).unwrap();
    assert_eq!(loaded.metrics_names(), model.metrics_names());
    let logs = evaluate(&loaded);
    for (key, value) in &expected {
        assert_close(&[logs[key]], &[*value], 1e-6);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn one_output_logs_as_before() {
    let x = rand(&[5, 3], 3);
    let y = rand(&[5, 2], 4);
    let input = Input::new(&[3]).symbolic().unwrap();
    let out = Dense::new(2).dtype(DType::F64).seed(5).named("out").apply(&[&input]).unwrap();
    let mut model = Model::functional(&[&input], &out).unwrap();
    model.compile(sgd(), "mse", &["mae"]).unwrap();
    let logs = model.evaluate(&x, &y, EvaluateOptions::default().verbose(0)).unwrap();
    assert_eq!(logs.keys().collect::<Vec<_>>(), ["loss", "mae"]);
    assert_eq!(model.output_names(), ["out"]);
}
