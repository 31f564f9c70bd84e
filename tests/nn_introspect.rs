//! Per-layer gradient norms (`Model::gradient_norms`): the norms of the loss gradient against
//! central differences of the loss, and proof that reading them changes nothing.

use tessera::Device;
use tessera::nn::optimizers::Adam;
use tessera::nn::{DType, Dense, EvaluateOptions, Model, Regularizer, Tensor};

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
