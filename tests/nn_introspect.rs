//! Per-layer gradient norms (`Model::gradient_norms`): the norms of the loss gradient against
//! central differences of the loss, and proof that reading them changes nothing.

use tessera::Device;
use tessera::nn::optimizers::{Adam, Sgd};
use tessera::nn::{BatchNormalization, DType, Dense, Dropout, EvaluateOptions, Model, Regularizer, Tensor};

/// Central differences in f64 with a step of 1e-6 carry errors near 1e-9 relative (truncation
/// ~h², round-off ~1e-16/h); a wrong rule or a missed term (the L2 penalty, a layer) is off
/// by far more than 1e-6.
const RELATIVE_TOLERANCE: f64 = 1e-6;
const STEP: f64 = 1e-6;

fn t(values: &[f64], shape: &[usize]) -> Tensor {
    Tensor::from_slice(values, shape.to_vec(), &Device::Cpu).unwrap()
}

/// Three f64 layers: a regularized tanh layer, a frozen sigmoid layer and a softmax head,
/// compiled for sparse categorical cross-entropy.
fn model() -> Model {
    let mut model = Model::sequential(vec![
        Box::new(
            Dense::new(3)
                .input_shape(&[2])
                .activation("tanh")
                .kernel_regularizer(Regularizer::l2())
                .dtype(DType::F64)
                .seed(1),
        ),
        Box::new(Dense::new(4).activation("sigmoid").trainable(false).dtype(DType::F64).seed(2)),
        Box::new(Dense::new(2).activation("softmax").dtype(DType::F64).seed(3)),
    ])
    .unwrap();
    model.compile(Adam::default(), "sparse_categorical_crossentropy", &[]).unwrap();
    model
}

fn batch() -> (Tensor, Tensor) {
    (t(&[0.5, -1.0, 2.0, 0.1, -0.3, 0.7], &[3, 2]), t(&[1.0, 0.0, 1.0], &[3]))
}

fn loss(model: &Model, x: &Tensor, y: &Tensor) -> f64 {
    model.evaluate(x, y, EvaluateOptions::default().verbose(0)).unwrap()["loss"]
}

#[test]
fn gradient_norms_match_central_differences_of_the_loss() {
    let mut model = model();
    let (x, y) = batch();
    let norms = model.gradient_norms(&x, &y).unwrap();
    let names: Vec<&str> = norms.iter().map(|(name, _)| name.as_str()).collect();
    // The frozen layer (dense_1) has no trainable weights, so it is left out.
    assert_eq!(names, ["dense/kernel", "dense/bias", "dense_2/kernel", "dense_2/bias"]);

    // The model has no dropout or batch normalization, so evaluate's inference-mode loss is the
    // training loss the norms differentiate (regularization included in both).
    for ((name, norm), weight) in norms.iter().zip(model.trainable_weights()) {
        let values = weight.value().to_vec::<f64>().unwrap();
        let shape = weight.value().dims().to_vec();
        let mut squares = 0.0;
        for k in 0..values.len() {
            let at = |delta: f64| {
                let mut shifted = values.clone();
                shifted[k] += delta;
                weight.assign(&t(&shifted, &shape)).unwrap();
                loss(&model, &x, &y)
            };
            let derivative = (at(STEP) - at(-STEP)) / (2.0 * STEP);
            squares += derivative * derivative;
        }
        weight.assign(&t(&values, &shape)).unwrap();
        let expected = squares.sqrt();
        assert!(expected > 1e-3, "{name}: a gradient this small would not test anything ({expected})");
        let error = (norm - expected).abs() / expected;
        assert!(error <= RELATIVE_TOLERANCE, "{name}: norm {norm}, central differences {expected}");
    }
}

#[test]
fn gradient_norms_update_neither_weights_nor_optimizer() {
    let (x, y) = batch();
    let mut looked_at = model();
    let mut untouched = model();
    let before: Vec<Vec<f64>> =
        looked_at.weights().iter().map(|w| w.value().to_vec::<f64>().unwrap()).collect();
    looked_at.gradient_norms(&x, &y).unwrap();
    looked_at.gradient_norms(&x, &y).unwrap();
    let after: Vec<Vec<f64>> =
        looked_at.weights().iter().map(|w| w.value().to_vec::<f64>().unwrap()).collect();
    assert_eq!(before, after, "gradient_norms changed a weight");

    // Adam's step depends on its iteration count and moment estimates, so the next training
    // step matches a fresh model's to the bit only if gradient_norms left the optimizer alone.
    looked_at.train_on_batch(&x, &y).unwrap();
    untouched.train_on_batch(&x, &y).unwrap();
    for (a, b) in looked_at.weights().iter().zip(untouched.weights()) {
        assert_eq!(a.value().to_vec::<f64>().unwrap(), b.value().to_vec::<f64>().unwrap(), "{}", a.name());
    }
}

#[test]
fn gradient_norms_need_a_compiled_model_and_matching_targets() {
    let (x, y) = batch();
    let mut uncompiled =
        Model::sequential(vec![Box::new(Dense::new(2).input_shape(&[2]).dtype(DType::F64))]).unwrap();
    let err = uncompiled.gradient_norms(&x, &y).unwrap_err().to_string();
    assert!(err.contains("gradient_norms") && err.contains("compile"), "{err}");

    let mut model = model();
    let too_few = t(&[1.0, 0.0], &[2]);
    let err = model.gradient_norms(&x, &too_few).unwrap_err().to_string();
    assert!(err.contains("gradient_norms") && err.contains("3 samples") && err.contains("(2,)"), "{err}");
}

/// A small model with every kind of state a look could disturb: BatchNormalization's moving
/// statistics, dropout's seeds and Adam's moments.
fn batch_norm_model() -> Model {
    let mut model = Model::sequential(vec![
        Box::new(Dense::new(5).input_shape(&[2]).activation("relu").dtype(DType::F64).seed(4)),
        Box::new(BatchNormalization::new().dtype(DType::F64)),
        Box::new(Dropout::new(0.3)),
        Box::new(Dense::new(2).activation("softmax").dtype(DType::F64).seed(5)),
    ])
    .unwrap();
    model.compile(Adam::default(), "sparse_categorical_crossentropy", &[]).unwrap();
    model
}

fn values(model: &Model) -> Vec<Vec<f64>> {
    model.weights().iter().map(|w| w.value().to_vec::<f64>().unwrap()).collect()
}

#[test]
fn looking_at_gradients_leaves_batch_norm_statistics_bit_identical() {
    let (x, y) = batch();
    let mut looked_at = batch_norm_model();
    let mut untouched = batch_norm_model();
    let before = values(&looked_at);
    looked_at.gradient_norms(&x, &y).unwrap();
    looked_at.gradients(&x, &y).unwrap();
    assert_eq!(values(&looked_at), before, "a look changed a weight or a moving statistic");

    // Training still moves the statistics, and the same way as on a model never looked at.
    looked_at.train_on_batch(&x, &y).unwrap();
    untouched.train_on_batch(&x, &y).unwrap();
    let moving =
        looked_at.layer("batch_normalization").unwrap().weights()[2].value().to_vec::<f64>().unwrap();
    assert!(moving.iter().any(|&m| m != 0.0), "training did not update the moving mean: {moving:?}");
    assert_eq!(values(&looked_at), values(&untouched));
}

#[test]
fn gradients_are_what_a_training_step_applies() {
    // Plain SGD moves each weight by exactly -learning_rate * gradient.
    let (x, y) = batch();
    let mut model = model();
    model
        .compile(Sgd { learning_rate: 0.5, ..Sgd::default() }, "sparse_categorical_crossentropy", &[])
        .unwrap();
    let gradients = model.gradients(&x, &y).unwrap();
    let names: Vec<&str> = gradients.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["dense/kernel", "dense/bias", "dense_2/kernel", "dense_2/bias"]);
    let before: Vec<Vec<f64>> =
        model.trainable_weights().iter().map(|w| w.value().to_vec().unwrap()).collect();
    model.train_on_batch(&x, &y).unwrap();
    for (((name, gradient), weight), old) in gradients.iter().zip(model.trainable_weights()).zip(before) {
        let expected: Vec<f64> =
            old.iter().zip(gradient.to_vec::<f64>().unwrap()).map(|(w, g)| w - 0.5 * g).collect();
        let after = weight.value().to_vec::<f64>().unwrap();
        for (a, e) in after.iter().zip(&expected) {
            assert!((a - e).abs() <= 1e-12, "{name}: {after:?} against {expected:?}");
        }
    }
}

#[test]
fn weights_come_out_as_copies_and_go_back_in_checked() {
    let (x, y) = batch();
    let mut model = batch_norm_model();
    let saved = model.get_weights().unwrap();
    assert_eq!(saved.len(), model.weights().len());
    model.train_on_batch(&x, &y).unwrap();
    let trained = values(&model);
    assert_ne!(saved.iter().map(|t| t.to_vec::<f64>().unwrap()).collect::<Vec<_>>(), trained, "not copies");

    model.set_weights(&saved).unwrap();
    assert_eq!(values(&model), saved.iter().map(|t| t.to_vec::<f64>().unwrap()).collect::<Vec<_>>());

    // Per layer, and the errors that name what was expected.
    let dense = model.layer("dense").unwrap();
    let own = dense.get_weights().unwrap();
    assert_eq!(own.iter().map(|t| t.dims().to_vec()).collect::<Vec<_>>(), [vec![2, 5], vec![5]]);
    let err = dense.set_weights(&own[..1]).unwrap_err().to_string();
    assert!(err.contains("dense") && err.contains("expected 2 arrays") && err.contains("got 1"), "{err}");
    let wrong = [Tensor::zeros([5, 2], DType::F64, &Device::Cpu).unwrap(), own[1].clone()];
    let err = dense.set_weights(&wrong).unwrap_err().to_string();
    assert!(err.contains("kernel") && err.contains("(2, 5)") && err.contains("(5, 2)"), "{err}");
    assert_eq!(dense.get_weights().unwrap()[0].to_vec::<f64>().unwrap(), own[0].to_vec::<f64>().unwrap());
}

#[test]
fn the_optimizer_state_is_readable() {
    let (x, y) = batch();
    let mut model = model();
    assert_eq!(model.optimizer_state().unwrap().0, 0);
    assert!(model.optimizer_state().unwrap().1.is_empty());
    model.train_on_batch(&x, &y).unwrap();
    model.train_on_batch(&x, &y).unwrap();
    let (iterations, slots) = model.optimizer_state().unwrap();
    assert_eq!(iterations, 2);
    let names: Vec<&str> = slots.iter().map(|(name, _)| name.as_str()).collect();
    // Adam keeps two moments per trainable weight; the frozen layer has none.
    assert_eq!(names.len(), 8, "{names:?}");
    assert!(names[0].starts_with("dense/kernel/"), "{names:?}");
    assert!(slots.iter().all(|(_, t)| t.device() == &Device::Cpu));
    let err = Model::sequential(vec![Box::new(Dense::new(1).input_shape(&[1]))]).unwrap().optimizer_state();
    assert!(err.unwrap_err().to_string().contains("optimizer_state"));
}
