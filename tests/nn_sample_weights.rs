//! Keras's `sample_weight`, `class_weight` and `label_smoothing`: weighted losses against values
//! worked out by hand from Keras 3's "sum_over_batch_size" reduction
//! (keras/src/losses/loss.py `reduce_values`: sum of the weighted losses over their count) and
//! its label smoothing (keras/src/losses/losses.py), their gradients, and the errors.

use tessera::Device;
use tessera::nn::losses::Loss;
use tessera::nn::optimizers::Sgd;
use tessera::nn::{
    Activation, BatchOptions, CompileOptions, Dense, EvaluateOptions, FitOptions, ForwardCtx, Model, Tensor,
};
use tessera::tensor_core::gradcheck;

/// Hand-computed values carry 9+ significant digits; losses here are f64 or f32 sums of a few
/// terms.
const F64_TOLERANCE: f64 = 1e-9;
const F32_TOLERANCE: f64 = 1e-5;

fn t(values: &[f64], shape: &[usize]) -> Tensor {
    Tensor::from_slice(values, shape.to_vec(), &Device::Cpu).unwrap()
}

fn t32(values: &[f32], shape: &[usize]) -> Tensor {
    Tensor::from_slice(values, shape.to_vec(), &Device::Cpu).unwrap()
}

fn assert_near(actual: f64, expected: f64, tolerance: f64) {
    assert!(
        (actual - expected).abs() <= tolerance,
        "got {actual}, expected {expected} (tolerance {tolerance})"
    );
}

#[test]
fn weighted_loss_is_the_weighted_sum_over_the_batch_size() {
    // Squared errors 1, 4, 9 weighted 1, 0, 2: (1 + 0 + 18) / 3, not over the weights' sum.
    let y_pred = t(&[1.0, 2.0, 3.0], &[3, 1]);
    let y_true = t(&[0.0, 0.0, 0.0], &[3, 1]);
    let weights = t(&[1.0, 0.0, 2.0], &[3]);
    let loss = Loss::MeanSquaredError.compute_for(&y_true, &y_pred, None, Some(&weights)).unwrap();
    assert_near(loss.item().unwrap(), 19.0 / 3.0, F64_TOLERANCE);
    // Per-position losses (rank 3 outputs) take their sample's weight at every position:
    // samples [1, 4] and [9, 16] weighted 2 and 1: (2 + 8 + 9 + 16) / 4.
    let y_pred = t(&[1.0, 2.0, 3.0, 4.0], &[2, 2, 1]);
    let y_true = t(&[0.0; 4], &[2, 2, 1]);
    let loss =
        Loss::MeanSquaredError.compute_for(&y_true, &y_pred, None, Some(&t(&[2.0, 1.0], &[2]))).unwrap();
    assert_near(loss.item().unwrap(), 35.0 / 4.0, F64_TOLERANCE);

    let err = Loss::MeanSquaredError.compute_for(&y_true, &y_pred, None, Some(&t(&[1.0], &[1]))).unwrap_err();
    assert!(err.to_string().contains("one sample weight per sample, shape (2,), got (1,)"), "{err}");
}

#[test]
fn weighted_loss_gradient_matches_finite_differences() {
    let y_true = t(&[1.0, 0.0, 0.0, 0.0, 1.0, 0.0], &[2, 3]);
    let y_pred = t(&[0.5, -1.0, 0.3, 0.2, 0.9, -0.4], &[2, 3]);
    let weights = t(&[0.25, 3.0], &[2]);
    let loss = Loss::CategoricalCrossentropy { from_logits: true, label_smoothing: 0.2 };
    let report = gradcheck::check("weighted smoothed cce", &[&y_pred], |xs| {
        Ok(loss.compute_for(&y_true, &xs[0], None, Some(&weights)).unwrap())
    })
    .unwrap();
    // Central differences in f64.
    report.assert_within(1e-6);
}

#[test]
fn label_smoothing_follows_keras() {
    // Categorical, 2 classes, smoothing 0.1: [1, 0] -> [0.95, 0.05];
    // -(0.95 ln 0.8 + 0.05 ln 0.2) = 0.2924582694.
    let cce = Loss::CategoricalCrossentropy { from_logits: false, label_smoothing: 0.1 };
    let value = cce.compute(&t(&[1.0, 0.0], &[1, 2]), &t(&[0.8, 0.2], &[1, 2])).unwrap().item().unwrap();
    assert_near(value, -(0.95 * 0.8f64.ln() + 0.05 * 0.2f64.ln()), F64_TOLERANCE);
    assert_near(value, 0.2924582694, 1e-9);
    // Binary, smoothing 0.2: 1 -> 0.9; -(0.9 ln 0.7 + 0.1 ln 0.3) = 0.441408165.
    let bce = Loss::BinaryCrossentropy { from_logits: false, label_smoothing: 0.2 };
    let value = bce.compute(&t(&[1.0], &[1, 1]), &t(&[0.7], &[1, 1])).unwrap().item().unwrap();
    assert_near(value, -(0.9 * 0.7f64.ln() + 0.1 * 0.3f64.ln()), F64_TOLERANCE);
    // Smoothing outside [0, 1] is refused at compile.
    let mut model = Model::sequential(vec![Box::new(Dense::new(2).input_shape(&[2]))]).unwrap();
    let bad = Loss::CategoricalCrossentropy { from_logits: false, label_smoothing: 1.5 };
    let err = model.compile("sgd", bad, &[]).unwrap_err();
    assert!(err.to_string().contains("label_smoothing must be in [0, 1], got 1.5"), "{err}");
}

/// On a softmax or sigmoid output the loss is taken from the logits behind it: smoothing must
/// give the same value there as on the probabilities (nothing saturates here; 1e-9 in f64).
#[test]
fn label_smoothing_survives_the_logits_fast_path() {
    let logits = t(&[0.5, -1.0, 2.0, 0.1, 0.2, 0.3], &[2, 3]);
    let targets = t(&[0.0, 0.0, 1.0, 1.0, 0.0, 0.0], &[2, 3]);
    let mut ctx = ForwardCtx::inference();
    let probabilities = ctx.activate(Activation::Softmax, &logits).unwrap();
    let cce = Loss::CategoricalCrossentropy { from_logits: false, label_smoothing: 0.3 };
    let plain = cce.compute(&targets, &probabilities).unwrap().item().unwrap();
    let fused = cce
        .compute_for(&targets, &probabilities, ctx.logits_of(&probabilities), None)
        .unwrap()
        .item()
        .unwrap();
    assert!(ctx.logits_of(&probabilities).is_some());
    assert_near(fused, plain, F64_TOLERANCE);

    let sigmoid = ctx.activate(Activation::Sigmoid, &logits).unwrap();
    let bce = Loss::BinaryCrossentropy { from_logits: false, label_smoothing: 0.3 };
    let plain = bce.compute(&targets, &sigmoid).unwrap().item().unwrap();
    let fused = bce.compute_for(&targets, &sigmoid, ctx.logits_of(&sigmoid), None).unwrap().item().unwrap();
    assert_near(fused, plain, F64_TOLERANCE);
}

/// A linear model that `fit` does not move (learning rate 0), so the epoch's reported loss can be
/// checked against the losses of its predictions.
fn frozen_model(units: usize, activation: &str, loss: Loss) -> Model {
    let mut model =
        Model::sequential(vec![Box::new(Dense::new(units).input_shape(&[2]).activation(activation))])
            .unwrap();
    model.compile(Sgd { learning_rate: 0.0, ..Sgd::default() }, loss, &[]).unwrap();
    model
}

/// The per-sample losses of `model`'s predictions, in f64 on the host.
fn per_sample(model: &Model, loss: Loss, x: &Tensor, y: &Tensor) -> Vec<f64> {
    let p = model.predict(x, 32).unwrap();
    loss.per_sample(y, &p).unwrap().to_vec_f64().unwrap()
}

const X: [f32; 8] = [0.5, -1.0, 1.5, 0.25, -0.75, 2.0, 1.0, 1.0];

#[test]
fn fit_and_evaluate_report_keras_weighted_mean() {
    let loss = Loss::SparseCategoricalCrossentropy { from_logits: false };
    let mut model = frozen_model(3, "softmax", loss);
    let x = t32(&X, &[4, 2]);
    let y = t32(&[0.0, 2.0, 1.0, 2.0], &[4]);
    let losses = per_sample(&model, loss, &x, &y);

    // class_weight {2: 3.0, 0: 0.5}; class 1 is left out and weighs 1. Batches of 3 and 1: the
    // epoch's loss is the batch-size-weighted mean of batch losses, i.e. sum(w l) / N.
    let w = [0.5, 3.0, 1.0, 3.0];
    let expected: f64 = losses.iter().zip(w).map(|(l, w)| l * w).sum::<f64>() / 4.0;
    let options =
        FitOptions::default().batch_size(3).shuffle(false).verbose(0).class_weight([(2, 3.0), (0, 0.5)]);
    let history = model.fit(&x, &y, options).unwrap();
    assert_near(history.get("loss").unwrap()[0], expected, F32_TOLERANCE);

    let sample_weight = t32(&[0.5, 3.0, 1.0, 3.0], &[4]);
    let options = FitOptions::default().batch_size(3).shuffle(true).verbose(0).sample_weight(&sample_weight);
    let history = model.fit(&x, &y, options).unwrap();
    assert_near(history.get("loss").unwrap()[0], expected, F32_TOLERANCE);

    let logs = model
        .evaluate(&x, &y, EvaluateOptions::default().batch_size(2).verbose(0).sample_weight(&sample_weight))
        .unwrap();
    assert_near(logs["loss"], expected, F32_TOLERANCE);
    let unweighted = model.evaluate(&x, &y, EvaluateOptions::default().verbose(0)).unwrap();
    assert_near(unweighted["loss"], losses.iter().sum::<f64>() / 4.0, F32_TOLERANCE);
}

#[test]
fn class_weight_reads_one_hot_rows_and_binary_targets() {
    let x = t32(&X, &[4, 2]);
    // One-hot rows: classes 1, 0, 1, 0.
    let loss = Loss::CategoricalCrossentropy { from_logits: false, label_smoothing: 0.0 };
    let mut model = frozen_model(2, "softmax", loss);
    let y = t32(&[0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0], &[4, 2]);
    let losses = per_sample(&model, loss, &x, &y);
    let expected = (2.0 * losses[0] + losses[1] + 2.0 * losses[2] + losses[3]) / 4.0;
    let history = model.fit(&x, &y, FitOptions::default().verbose(0).class_weight([(1, 2.0)])).unwrap();
    assert_near(history.get("loss").unwrap()[0], expected, F32_TOLERANCE);

    // One sigmoid column: targets 1, 0, 0, 1 are classes 1, 0, 0, 1.
    let loss = Loss::BinaryCrossentropy { from_logits: false, label_smoothing: 0.0 };
    let mut model = frozen_model(1, "sigmoid", loss);
    let y = t32(&[1.0, 0.0, 0.0, 1.0], &[4, 1]);
    let losses = per_sample(&model, loss, &x, &y);
    let expected = (0.5 * losses[0] + 4.0 * losses[1] + 4.0 * losses[2] + 0.5 * losses[3]) / 4.0;
    let history =
        model.fit(&x, &y, FitOptions::default().verbose(0).class_weight([(0, 4.0), (1, 0.5)])).unwrap();
    assert_near(history.get("loss").unwrap()[0], expected, F32_TOLERANCE);
}

#[test]
fn weights_that_do_not_fit_are_errors() {
    let loss = Loss::SparseCategoricalCrossentropy { from_logits: false };
    let mut model = frozen_model(3, "softmax", loss);
    let x = t32(&X, &[4, 2]);
    let y = t32(&[0.0, 2.0, 1.0, 2.0], &[4]);
    let fit_error = |model: &mut Model, options: FitOptions<'_>| {
        model.fit(&x, &y, options.verbose(0)).unwrap_err().to_string()
    };

    let err = fit_error(&mut model, FitOptions::default().sample_weight(&t32(&[1.0; 3], &[3])));
    assert!(err.contains("expected sample_weight of shape (4,), one weight per sample, got (3,)"), "{err}");
    let err = fit_error(&mut model, FitOptions::default().class_weight([(3, 1.0)]));
    assert!(err.contains("class_weight names class 3") && err.contains("classes 0 to 2"), "{err}");
    let err = fit_error(&mut model, FitOptions::default().class_weight([(1, f64::NAN)]));
    assert!(err.contains("class_weight for class 1 must be finite"), "{err}");
    let both = FitOptions::default().class_weight([(1, 2.0)]).sample_weight(&t32(&[1.0; 4], &[4]));
    let err = fit_error(&mut model, both);
    assert!(err.contains("class_weight or sample_weight, not both"), "{err}");
    let err = model
        .evaluate(&x, &y, EvaluateOptions::default().verbose(0).sample_weight(&t32(&[1.0; 4], &[2, 2])))
        .unwrap_err()
        .to_string();
    assert!(err.contains("expected sample_weight of shape (4,)"), "{err}");
}

/// A frozen one-column sigmoid model compiled with plain "mae" and the weighted metrics "mae",
/// "accuracy" and "precision", with four samples, their labels and weights.
fn weighted_metrics_case() -> (Model, Tensor, Tensor, [f64; 4]) {
    let loss = Loss::BinaryCrossentropy { from_logits: false, label_smoothing: 0.0 };
    let mut model = frozen_model(1, "sigmoid", loss);
    let options = CompileOptions::default().loss(loss).metrics(&["mae"]).weighted_metrics(&[
        "mae",
        "accuracy",
        "precision",
    ]);
    model.compile_with(Sgd { learning_rate: 0.0, ..Sgd::default() }, options).unwrap();
    let x = t32(&X, &[4, 2]);
    let y = t32(&[1.0, 0.0, 0.0, 1.0], &[4, 1]);
    (model, x, y, [0.5, 3.0, 0.0, 2.0])
}

/// Keras's weighted metrics by hand: each sample counts by its weight, over the weights' sum.
fn weighted_expectations(model: &Model, x: &Tensor, y: &Tensor, w: &[f64]) -> [f64; 4] {
    let p = model.predict(x, 32).unwrap().to_vec_f64().unwrap();
    let y = y.to_vec_f64().unwrap();
    let total: f64 = w.iter().sum();
    let errors: Vec<f64> = p.iter().zip(&y).map(|(p, y)| (p - y).abs()).collect();
    let predicted: Vec<f64> = p.iter().map(|&p| if p > 0.5 { 1.0 } else { 0.0 }).collect();
    let weighted = |values: &[f64]| values.iter().zip(w).map(|(v, w)| v * w).sum::<f64>();
    let right: Vec<f64> = predicted.iter().zip(&y).map(|(p, y)| if p == y { 1.0 } else { 0.0 }).collect();
    let true_positives: Vec<f64> = predicted.iter().zip(&y).map(|(p, y)| p * y).collect();
    let positives = weighted(&predicted);
    let precision = if positives > 0.0 { weighted(&true_positives) / positives } else { 0.0 };
    [errors.iter().sum::<f64>() / 4.0, weighted(&errors) / total, weighted(&right) / total, precision]
}

#[test]
fn weighted_metrics_count_each_sample_by_its_weight() {
    let (model, x, y, w) = weighted_metrics_case();
    // Names as Keras 3 gives them: a weighted metric whose name a plain one took is "weighted_".
    assert_eq!(model.metrics_names(), ["loss", "mae", "weighted_mae", "accuracy", "precision"]);
    let [mae, weighted_mae, accuracy, precision] = weighted_expectations(&model, &x, &y, &w);
    let weights = t(&w, &[4]);
    // Batches of 3 and 1: the weighted sums and the weights' total add up across batches.
    let options = EvaluateOptions::default().batch_size(3).verbose(0).sample_weight(&weights);
    let logs = model.evaluate(&x, &y, options).unwrap();
    assert_near(logs["mae"], mae, F32_TOLERANCE);
    assert_near(logs["weighted_mae"], weighted_mae, F32_TOLERANCE);
    assert_near(logs["accuracy"], accuracy, F32_TOLERANCE);
    assert_near(logs["precision"], precision, F32_TOLERANCE);
    // Without weights every sample weighs 1: the weighted metric is the plain one.
    let logs = model.evaluate(&x, &y, EvaluateOptions::default().verbose(0)).unwrap();
    assert_near(logs["weighted_mae"], logs["mae"], F32_TOLERANCE);
    // AUC keeps unweighted counts, so it is refused as a weighted metric rather than misread.
    let mut model = frozen_model(1, "sigmoid", Loss::MeanSquaredError);
    let err = model
        .compile_with("sgd", CompileOptions::default().loss("mse").weighted_metrics(&["auc"]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("\"auc\"") && err.contains("cannot be weighted"), "{err}");
}

#[test]
fn train_on_batch_and_validation_take_sample_weights() {
    let (mut model, x, y, w) = weighted_metrics_case();
    let loss = Loss::BinaryCrossentropy { from_logits: false, label_smoothing: 0.0 };
    let losses = per_sample(&model, loss, &x, &y);
    let expected: f64 = losses.iter().zip(w).map(|(l, w)| l * w).sum::<f64>() / 4.0;
    let [_, weighted_mae, ..] = weighted_expectations(&model, &x, &y, &w);
    let weights = t(&w, &[4]);

    let logs = model.train_on_batch_with(&x, &y, BatchOptions::default().sample_weight(&weights)).unwrap();
    assert_near(logs["loss"], expected, F32_TOLERANCE);
    assert_near(logs["weighted_mae"], weighted_mae, F32_TOLERANCE);
    // The plain call weighs nothing.
    let logs = model.train_on_batch(&x, &y).unwrap();
    assert_near(logs["loss"], losses.iter().sum::<f64>() / 4.0, F32_TOLERANCE);
    // Class weights become the samples' weights: labels 1, 0, 0, 1.
    let logs = model
        .train_on_batch_with(&x, &y, BatchOptions::default().class_weight([(0, 3.0), (1, 2.0)]))
        .unwrap();
    let by_class = (2.0 * losses[0] + 3.0 * losses[1] + 3.0 * losses[2] + 2.0 * losses[3]) / 4.0;
    assert_near(logs["loss"], by_class, F32_TOLERANCE);
    let both = BatchOptions::default().class_weight([(0, 3.0)]).sample_weight(&weights);
    let err = model.train_on_batch_with(&x, &y, both).unwrap_err().to_string();
    assert!(err.contains("class_weight or sample_weight, not both"), "{err}");
    let err = model
        .train_on_batch_with(&x, &y, BatchOptions::default().sample_weight(&t(&[1.0; 3], &[3])))
        .unwrap_err()
        .to_string();
    assert!(err.contains("train_on_batch: expected sample_weight of shape (4,)"), "{err}");

    // Keras's validation_data=(x, y, sample_weight): the validation loss and weighted metrics
    // are weighted, the training ones not.
    let options = FitOptions::default().verbose(0).validation_data_weighted(&x, &y, &weights);
    let history = model.fit(&x, &y, options).unwrap();
    assert_near(history.get("val_loss").unwrap()[0], expected, F32_TOLERANCE);
    assert_near(history.get("val_weighted_mae").unwrap()[0], weighted_mae, F32_TOLERANCE);
    assert_near(history.get("loss").unwrap()[0], losses.iter().sum::<f64>() / 4.0, F32_TOLERANCE);
}
