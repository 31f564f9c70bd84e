//! Training through the Keras-style API: losses against values worked out by hand from Keras 3's
//! formulas, their gradients, compile / fit / evaluate / predict / train_on_batch, the history,
//! the one-line progress format, and the errors a user can run into.

use tessera::nn::losses::Loss;
use tessera::nn::optimizers::{Adam, Sgd};
use tessera::nn::{ActivationLayer, DType, Dense, FitOptions, ForwardCtx, Model, NnError, Regularizer};
use tessera::nn::{EvaluateOptions, Tensor};
use tessera::tensor_core::gradcheck;
use tessera::tensor_core::rng;
use tessera::{Device, no_grad};

/// Losses are computed in f64 here; the hand-computed values carry 9+ significant digits.
const LOSS_TOLERANCE: f64 = 1e-6;

fn t(values: &[f64], shape: &[usize]) -> Tensor {
    Tensor::from_slice(values, shape.to_vec(), &Device::Cpu).unwrap()
}

fn loss_value(loss: Loss, y_true: &Tensor, y_pred: &Tensor) -> f64 {
    loss.compute(y_true, y_pred).unwrap().item().unwrap()
}

fn assert_near(actual: f64, expected: f64, tolerance: f64) {
    assert!(
        (actual - expected).abs() <= tolerance,
        "got {actual}, expected {expected} (tolerance {tolerance})"
    );
}

#[test]
fn losses_match_keras() {
    let y_true = t(&[0.0, 1.0, 0.0, 0.0], &[2, 2]);
    let y_pred = t(&[0.6, 0.4, 0.4, 0.6], &[2, 2]);
    let check = |loss: Loss, y_true: &Tensor, y_pred: &Tensor, expected: f64| {
        assert_near(loss_value(loss, y_true, y_pred), expected, LOSS_TOLERANCE);
    };

    // Squared errors [[1, 0], [1, 0]] -> per sample 0.5, 0.5.
    check(Loss::MeanSquaredError, &y_true, &t(&[1.0, 1.0, 1.0, 0.0], &[2, 2]), 0.5);
    check(Loss::MeanAbsoluteError, &y_true, &t(&[1.0, 1.0, 1.0, 0.0], &[2, 2]), 0.5);
    // Targets of shape (N,) against predictions (N, 1) are expanded: mean of 0.25 and 1.
    check(Loss::MeanSquaredError, &t(&[1.0, 0.0], &[2]), &t(&[0.5, 1.0], &[2, 1]), 0.625);

    // Sample 1: -log(0.4), -log(0.4); sample 2: -log(0.6), -log(0.4).
    // Mean of (0.916290732, 0.713557343) = 0.814924455 (Keras's docstring: 0.815).
    let bce = Loss::BinaryCrossentropy { from_logits: false, label_smoothing: 0.0 };
    check(bce, &y_true, &y_pred, 0.814924455);
    // Probabilities 0 are clipped to 1e-7: -log(1e-7) = 16.118095651 for y = 1, and
    // -log(1 - 1e-7) = 1.0000000500e-7 for y = 0; their mean is 8.059047876.
    check(bce, &t(&[1.0, 0.0], &[1, 2]), &t(&[0.0, 0.0], &[1, 2]), 8.059047876);
    // From logits, -y log(sigmoid(x)) - (1 - y) log(sigmoid(-x)) over [-18.6, 0.51, 2.94, -12.8]
    // with targets [0, 1, 0, 0] (Keras's docstring: 0.865).
    let logits = t(&[-18.6, 0.51, 2.94, -12.8], &[1, 4]);
    check(
        Loss::BinaryCrossentropy { from_logits: true, label_smoothing: 0.0 },
        &t(&[0.0, 1.0, 0.0, 0.0], &[1, 4]),
        &logits,
        0.865457950,
    );

    // -log(0.95) = 0.051293294 and -log(0.1) = 2.302585093; mean 1.176939194.
    let probs = t(&[0.05, 0.95, 0.0, 0.1, 0.8, 0.1], &[2, 3]);
    let cce = Loss::CategoricalCrossentropy { from_logits: false, label_smoothing: 0.0 };
    check(cce, &t(&[0.0, 1.0, 0.0, 0.0, 0.0, 1.0], &[2, 3]), &probs, 1.176939194);
    // Rows are normalised before clipping: [1, 2, 1] is [0.25, 0.5, 0.25], so -log(0.5).
    check(cce, &t(&[0.0, 1.0, 0.0], &[1, 3]), &t(&[1.0, 2.0, 1.0], &[1, 3]), std::f64::consts::LN_2);
    // From logits: -sum(y * log_softmax(z)) for z = [1, 2, 0.5] (y one-hot at 1) and
    // z = [-1, 0, 3] (y = [0.2, 0.3, 0.5]): mean 1.115126344.
    let z = t(&[1.0, 2.0, 0.5, -1.0, 0.0, 3.0], &[2, 3]);
    let soft = t(&[0.0, 1.0, 0.0, 0.2, 0.3, 0.5], &[2, 3]);
    check(Loss::CategoricalCrossentropy { from_logits: true, label_smoothing: 0.0 }, &soft, &z, 1.115126344);

    // Class ids, as (N,) or (N, 1): the same 1.176939194.
    let scce = Loss::SparseCategoricalCrossentropy { from_logits: false };
    check(scce, &t(&[1.0, 2.0], &[2]), &probs, 1.176939194);
    check(scce, &t(&[1.0, 2.0], &[2, 1]), &probs, 1.176939194);
    let scce_logits = Loss::SparseCategoricalCrossentropy { from_logits: true };
    // log_softmax([1, 2, 0.5])[1] = -0.464368784 and log_softmax([-1, 0, 3])[2] = -0.065883904.
    check(scce_logits, &t(&[1.0, 2.0], &[2]), &z, (0.464368784 + 0.065883904) / 2.0);

    // 0/1 targets become -1/1: 1 - y * p = [[1.6, 0.6], [1.4, 1.6]] -> means 1.1, 1.5 -> 1.3.
    check(Loss::Hinge, &y_true, &y_pred, 1.3);
    // Targets already -1/1 are kept: max(1 - y p, 0) = [[1.3, 1.2], [0, 1.5]] -> 1.0.
    check(Loss::Hinge, &t(&[-1.0, 1.0, 1.0, -1.0], &[2, 2]), &t(&[0.3, -0.2, 2.0, 0.5], &[2, 2]), 1.0);

    // Targets clipped to [1e-7, 1]: sample 1 is 1e-7 log(1e-7 / 0.6) + log(1 / 0.4) = 0.916289172,
    // sample 2 is 1e-7 (log(1e-7 / 0.4) + log(1e-7 / 0.6)) = -0.000003087; mean 0.458143045
    // (Keras's docstring: 0.458).
    check(Loss::KlDivergence, &y_true, &y_pred, 0.458143045);

    // The rest of Keras's losses on the same batch, each against its formula worked in f64:
    // |t - p| / max(|t|, 1e-7): zero targets divide by 1e-7, so [3e8 + 30, 5e8] -> 4.00000015e8.
    check(Loss::MeanAbsolutePercentageError, &y_true, &y_pred, 400000015.0);
    // (log(p + 1) - log(t + 1))^2 with both floored at 1e-7.
    check(Loss::MeanSquaredLogarithmicError, &y_true, &y_pred, 0.170559287);
    // Keras's docstring for [[0, 1], [0, 0]] against [[1, 1], [1, 0]]: 0.240.
    check(Loss::MeanSquaredLogarithmicError, &y_true, &t(&[1.0, 1.0, 1.0, 0.0], &[2, 2]), 0.240227070);
    // Margins [[1.6, 0.6], [1.4, 1.6]] squared and averaged: 1.46, 2.26 -> 1.86 (Keras's docstring).
    check(Loss::SquaredHinge, &y_true, &y_pred, 1.86);
    // max((1 - t) p) - sum(t p) + 1: 0.6 - 0.4 + 1 = 1.2 and 0.6 - 0 + 1 = 1.6 -> 1.4 (Keras's docstring).
    check(Loss::CategoricalHinge, &y_true, &y_pred, 1.4);
    // log(cosh(p - t)) averaged: 0.170135287 and 0.124044386.
    check(Loss::LogCosh, &y_true, &y_pred, 0.147089836);
    // p - t log(p + 1e-7): 0.958145241 and 0.5.
    check(Loss::Poisson, &y_true, &y_pred, 0.729072620);
    // Keras's docstring: [[0, 1], [1, 1]] against [[1, 0], [1, 1]] gives -(0 + 1) / 2.
    let cosine_true = t(&[0.0, 1.0, 1.0, 1.0], &[2, 2]);
    check(Loss::CosineSimilarity, &cosine_true, &t(&[1.0, 0.0, 1.0, 1.0], &[2, 2]), -0.5);
    // A zero row counts as orthogonal: -(0.554700196 + 0) / 2.
    check(Loss::CosineSimilarity, &y_true, &y_pred, -0.277350098);
    // log cosh stays finite far out, where cosh itself overflows: |x| - log 2.
    check(Loss::LogCosh, &t(&[0.0], &[1, 1]), &t(&[1000.0], &[1, 1]), 1000.0 - std::f64::consts::LN_2);
}

#[test]
fn losses_by_keras_name() {
    let names = [
        ("mse", Loss::MeanSquaredError),
        ("mean_absolute_error", Loss::MeanAbsoluteError),
        ("BinaryCrossentropy", Loss::BinaryCrossentropy { from_logits: false, label_smoothing: 0.0 }),
        (
            "categorical_crossentropy",
            Loss::CategoricalCrossentropy { from_logits: false, label_smoothing: 0.0 },
        ),
        ("sparse_categorical_crossentropy", Loss::SparseCategoricalCrossentropy { from_logits: false }),
        ("hinge", Loss::Hinge),
        ("kld", Loss::KlDivergence),
        ("kl_divergence", Loss::KlDivergence),
        ("mape", Loss::MeanAbsolutePercentageError),
        ("mean_absolute_percentage_error", Loss::MeanAbsolutePercentageError),
        ("msle", Loss::MeanSquaredLogarithmicError),
        ("MeanSquaredLogarithmicError", Loss::MeanSquaredLogarithmicError),
        ("squared_hinge", Loss::SquaredHinge),
        ("categorical_hinge", Loss::CategoricalHinge),
        ("log_cosh", Loss::LogCosh),
        ("logcosh", Loss::LogCosh),
        ("poisson", Loss::Poisson),
        ("cosine_similarity", Loss::CosineSimilarity),
    ];
    for (name, loss) in names {
        assert_eq!(name.parse::<Loss>().unwrap(), loss, "{name}");
    }
    let err = "cross_entropy".parse::<Loss>().unwrap_err().to_string();
    assert!(err.contains("unknown loss \"cross_entropy\""), "{err}");
}

#[test]
fn loss_targets_of_the_wrong_shape_are_errors() {
    let err =
        Loss::MeanSquaredError.compute(&t(&[1.0, 2.0, 3.0], &[1, 3]), &t(&[1.0, 2.0], &[1, 2])).unwrap_err();
    assert!(
        err.to_string().contains("targets of shape (1, 3) do not match predictions of shape (1, 2)"),
        "{err}"
    );
    let scce = Loss::SparseCategoricalCrossentropy { from_logits: false };
    let err = scce.compute(&t(&[1.0, 0.0], &[1, 2]), &t(&[0.5, 0.5], &[1, 2])).unwrap_err();
    assert!(err.to_string().contains("expected class ids of shape (1)"), "{err}");
}

/// Central differences in f64 (tensor-core's gradcheck) agree with the tape to this relative
/// error for smooth functions; inputs keep away from clipping bounds and kinks.
const GRADIENT_TOLERANCE: f64 = 1e-6;

#[test]
fn loss_gradients_match_finite_differences() {
    let probs = t(&[0.2, 0.5, 0.3, 0.6, 0.1, 0.3], &[2, 3]);
    let one_hot = t(&[0.0, 1.0, 0.0, 1.0, 0.0, 0.0], &[2, 3]);
    let soft = t(&[0.1, 0.6, 0.3, 0.3, 0.3, 0.4], &[2, 3]);
    let logits = t(&[0.3, -1.2, 2.0, 0.7, 0.1, -0.4], &[2, 3]);
    let cases = [
        (Loss::MeanSquaredError, one_hot.clone(), probs.clone()),
        (Loss::MeanAbsoluteError, one_hot.clone(), probs.clone()),
        (
            Loss::BinaryCrossentropy { from_logits: false, label_smoothing: 0.0 },
            one_hot.clone(),
            probs.clone(),
        ),
        (Loss::BinaryCrossentropy { from_logits: true, label_smoothing: 0.0 }, soft.clone(), logits.clone()),
        (
            Loss::CategoricalCrossentropy { from_logits: false, label_smoothing: 0.0 },
            soft.clone(),
            probs.clone(),
        ),
        (
            Loss::CategoricalCrossentropy { from_logits: true, label_smoothing: 0.0 },
            soft.clone(),
            logits.clone(),
        ),
        (Loss::SparseCategoricalCrossentropy { from_logits: false }, t(&[1.0, 0.0], &[2]), probs.clone()),
        (Loss::SparseCategoricalCrossentropy { from_logits: true }, t(&[2.0, 1.0], &[2, 1]), logits.clone()),
        (Loss::Hinge, one_hot.clone(), logits.clone()),
        (Loss::KlDivergence, soft.clone(), probs.clone()),
        (Loss::MeanAbsolutePercentageError, soft.clone(), probs.clone()),
        (Loss::MeanSquaredLogarithmicError, soft.clone(), probs.clone()),
        (Loss::SquaredHinge, one_hot.clone(), logits.clone()),
        (Loss::CategoricalHinge, one_hot.clone(), logits.clone()),
        (Loss::LogCosh, soft.clone(), logits.clone()),
        (Loss::Poisson, soft.clone(), probs.clone()),
        (Loss::CosineSimilarity, soft.clone(), logits.clone()),
    ];
    for (loss, y_true, y_pred) in cases {
        let report =
            gradcheck::check(loss.name(), &[&y_pred], |xs| Ok(loss.per_sample(&y_true, &xs[0]).unwrap()))
                .unwrap();
        report.assert_within(GRADIENT_TOLERANCE);
    }
}

/// Two Gaussian blobs in the plane, centred at (-2, 0) and (2, 0) with deviation 0.5, labelled
/// 0 and 1 alternately; f32 as training data usually is.
fn blobs(samples: usize, seed: u64) -> (Tensor, Tensor) {
    let mut x = Vec::with_capacity(2 * samples);
    let mut y = Vec::with_capacity(samples);
    for i in 0..samples as u32 {
        let class = (i % 2) as f32;
        x.push(4.0 * class - 2.0 + 0.5 * rng::normal(seed, 2 * i) as f32);
        x.push(0.5 * rng::normal(seed, 2 * i + 1) as f32);
        y.push(class);
    }
    (
        Tensor::from_vec(x, [samples, 2], &Device::Cpu).unwrap(),
        Tensor::from_vec(y, [samples], &Device::Cpu).unwrap(),
    )
}

/// The classifier of the brief: Dense(8, relu) -> Dense(2, softmax) on 2 features.
fn classifier(seed: u64) -> Model {
    Model::sequential(vec![
        Box::new(Dense::new(8).input_shape(&[2]).activation("relu").seed(seed)),
        Box::new(Dense::new(2).activation("softmax").seed(seed + 1)),
    ])
    .unwrap()
}

fn quiet() -> FitOptions<'static> {
    FitOptions::default().verbose(0)
}

#[test]
fn fit_separates_two_blobs() {
    let (x, y) = blobs(64, 1);
    let mut model = classifier(10);
    model
        .compile(
            Adam { learning_rate: 0.01, ..Adam::default() },
            "sparse_categorical_crossentropy",
            &["accuracy"],
        )
        .unwrap();
    let history = model.fit(&x, &y, quiet().epochs(40).batch_size(16)).unwrap();
    let losses = history.get("loss").unwrap();
    assert!(losses[39] < losses[0] / 4.0, "the loss should fall: {losses:?}");
    // The blobs are 8 deviations apart: every training sample ends up on its side.
    let logs = model.evaluate(&x, &y, EvaluateOptions::default().verbose(0)).unwrap();
    assert_eq!(logs["accuracy"], 1.0, "{logs:?}");
    assert_eq!(history.get("accuracy").unwrap()[39], 1.0);

    // predict gives class probabilities, batch by batch, in order.
    let probabilities = model.predict(&x, 10).unwrap();
    assert_eq!(probabilities.dims(), &[64, 2]);
    let p = probabilities.to_vec::<f32>().unwrap();
    for (i, row) in p.chunks(2).enumerate() {
        assert!((row[0] + row[1] - 1.0).abs() < 1e-6, "row {i}: {row:?}");
        assert_eq!((row[1] > row[0]) as u32, (i % 2) as u32, "row {i}: {row:?}");
    }
}

#[test]
fn history_has_keras_keys_one_value_per_epoch() {
    let (x, y) = blobs(40, 2);
    let mut model = classifier(20);
    model.compile("adam", "sparse_categorical_crossentropy", &["accuracy"]).unwrap();
    let history = model.fit(&x, &y, quiet().epochs(3).batch_size(8).validation_split(0.25)).unwrap();
    assert_eq!(history.keys().collect::<Vec<_>>(), ["accuracy", "loss", "val_accuracy", "val_loss"]);
    assert!(history.history().values().all(|v| v.len() == 3));
    assert_eq!(history.epochs(), &[0, 1, 2]);
    assert_eq!(model.metrics_names(), ["loss", "accuracy"]);

    // Resuming with initial_epoch runs the epochs that remain.
    let history = model.fit(&x, &y, quiet().epochs(5).initial_epoch(3)).unwrap();
    assert_eq!(history.epochs(), &[3, 4]);
}

#[test]
fn validation_split_holds_out_the_tail_before_shuffling() {
    let (x, y) = blobs(40, 3);
    let mut model = classifier(30);
    // A learning rate of zero leaves the weights alone, so the epoch's values are evaluations.
    model
        .compile(
            Sgd { learning_rate: 0.0, ..Sgd::default() },
            "sparse_categorical_crossentropy",
            &["accuracy"],
        )
        .unwrap();
    let history = model.fit(&x, &y, quiet().epochs(1).batch_size(7).validation_split(0.25)).unwrap();
    let evaluate = |start: usize, end: usize| {
        let options = EvaluateOptions::default().verbose(0);
        model.evaluate(x.slice(0, start, end).unwrap(), y.slice(0, start, end).unwrap(), options).unwrap()
    };
    let (head, tail) = (evaluate(0, 30), evaluate(30, 40));
    // f32 sums over different batchings: equal to a few units in the last place.
    assert_near(history.get("val_loss").unwrap()[0], tail["loss"], 1e-6);
    assert_near(history.get("loss").unwrap()[0], head["loss"], 1e-6);
    assert_near(history.get("val_accuracy").unwrap()[0], tail["accuracy"], 1e-12);
    assert!((head["loss"] - tail["loss"]).abs() > 1e-3, "head and tail should differ: {head:?} {tail:?}");

    let err = model.fit(&x, &y, quiet().validation_split(0.99)).unwrap_err().to_string();
    assert!(err.contains("40 samples, too few to hold out validation_split=0.99"), "{err}");
    // validation_data takes precedence over a split.
    let (x_val, y_val) = blobs(12, 4);
    let history = model.fit(&x, &y, quiet().validation_split(0.5).validation_data(&x_val, &y_val)).unwrap();
    let direct = model.evaluate(&x_val, &y_val, EvaluateOptions::default().verbose(0)).unwrap();
    assert_near(history.get("val_loss").unwrap()[0], direct["loss"], 1e-6);
}

#[test]
fn frozen_layers_stay_bit_for_bit_unchanged() {
    let (x, y) = blobs(32, 5);
    let mut model = Model::sequential(vec![
        Box::new(Dense::new(8).input_shape(&[2]).activation("relu").seed(1).trainable(false)),
        Box::new(Dense::new(2).activation("softmax").seed(2)),
    ])
    .unwrap();
    let bits = |model: &Model| -> Vec<Vec<u32>> {
        model
            .weights()
            .iter()
            .map(|w| w.value().to_vec::<f32>().unwrap().iter().map(|v| v.to_bits()).collect())
            .collect()
    };
    let before = bits(&model);
    model
        .compile(Adam { learning_rate: 0.05, ..Adam::default() }, "sparse_categorical_crossentropy", &[])
        .unwrap();
    model.fit(&x, &y, quiet().epochs(3).batch_size(8)).unwrap();
    let after = bits(&model);
    assert_eq!(before[..2], after[..2], "the frozen kernel and bias changed");
    assert_ne!(before[2], after[2], "the trainable kernel did not change");

    // A model with nothing to train still runs (and changes nothing).
    model.set_trainable(false);
    model.fit(&x, &y, quiet().epochs(1)).unwrap();
    assert_eq!(after, bits(&model));
}

#[test]
fn learning_rate_is_readable_and_settable_after_compile() {
    let mut model = classifier(40);
    assert!(model.learning_rate().unwrap_err().to_string().contains("not compiled"));
    model.compile("sgd", "mse", &[]).unwrap();
    assert_eq!(model.learning_rate().unwrap(), 0.01);
    model.set_learning_rate(0.5).unwrap();
    assert_eq!(model.learning_rate().unwrap(), 0.5);
    assert!(model.set_learning_rate(-1.0).is_err());
    model.compile(Adam { learning_rate: 3e-4, ..Adam::default() }, Loss::MeanSquaredError, &[]).unwrap();
    assert_eq!(model.learning_rate().unwrap(), 3e-4);
    for bad in ["lion", "Adamax"] {
        let err = model.compile(bad, "mse", &[]).unwrap_err().to_string();
        assert!(err.contains("unknown optimizer"), "{err}");
    }
    assert!(model.compile("RMSprop", "mse", &["accuracy", "accuracy"]).is_err());
    assert!(model.compile("RMSprop", "mse", &["roc"]).unwrap_err().to_string().contains("unknown metric"));
}

/// One SGD step with learning rate 1 moves each weight by minus its gradient, and that gradient
/// (loss plus L2 penalty, through the layers) matches central differences.
#[test]
fn a_training_step_applies_the_gradient_of_the_loss() {
    let x = t(&[0.5, -1.0, 2.0, 0.1, 0.3, -0.7], &[2, 3]);
    let y = t(&[2.0, 0.0], &[2]);
    let build = || {
        Model::sequential(vec![
            Box::new(Dense::new(4).input_shape(&[3]).activation("tanh").dtype(DType::F64).seed(7)),
            Box::new(
                Dense::new(3)
                    .activation("softmax")
                    .kernel_regularizer(Regularizer::l2())
                    .dtype(DType::F64)
                    .seed(8),
            ),
        ])
        .unwrap()
    };
    let model = build();
    let loss = Loss::SparseCategoricalCrossentropy { from_logits: false };
    let values: Vec<Tensor> = model.weights().iter().map(|w| w.value().clone()).collect();
    let objective = |ws: &[Tensor]| -> tessera::Result<Tensor> {
        let mut ctx = ForwardCtx::inference();
        for (w, value) in model.weights().into_iter().zip(ws) {
            ctx.substitute(w, value.clone());
        }
        let out = model.forward(std::slice::from_ref(&x), &mut ctx).unwrap();
        let penalty = model.regularization_loss(&mut ctx).unwrap().unwrap();
        loss.compute(&y, &out).unwrap().add(&penalty)
    };
    gradcheck::check("dense-dense-l2", &values.iter().collect::<Vec<_>>(), objective)
        .unwrap()
        .assert_within(GRADIENT_TOLERANCE);

    // The same gradients, from the tape, against the step train_on_batch takes.
    let tape = tessera::Tape::new();
    let watched: Vec<Tensor> = values.iter().map(|v| tape.watch(v)).collect();
    let grads = tape.backward(&objective(&watched).unwrap()).unwrap();
    let mut trained = build();
    trained.compile(Sgd { learning_rate: 1.0, ..Sgd::default() }, loss, &[]).unwrap();
    let logs = trained.train_on_batch(&x, &y).unwrap();
    assert_near(logs["loss"], no_grad(|| objective(&values)).unwrap().item().unwrap(), 1e-12);
    for ((w, before), watched) in trained.weights().iter().zip(&values).zip(&watched) {
        let step: Vec<f64> = before.sub(w.value()).unwrap().to_vec().unwrap();
        let gradient: Vec<f64> = grads.get(watched).unwrap().to_vec().unwrap();
        for (s, g) in step.iter().zip(&gradient) {
            assert_near(*s, *g, 1e-12);
        }
    }
}

#[test]
fn metrics_in_evaluate_are_the_hand_counted_ones() {
    // A linear identity model: the predictions are the inputs.
    let mut model =
        Model::sequential(vec![Box::new(ActivationLayer::new("linear").input_shape(&[1]))]).unwrap();
    model.compile("sgd", "binary_crossentropy", &["accuracy", "precision", "recall", "f1_score"]).unwrap();
    // Predictions 1, 1, 0, 1, 1 (threshold 0.5) against 1, 0, 1, 1, 0: TP 2, FP 2, FN 1, 2 right.
    let p = t(&[0.8, 0.6, 0.4, 0.9, 0.7], &[5, 1]);
    let y = t(&[1.0, 0.0, 1.0, 1.0, 0.0], &[5, 1]);
    let logs = model.evaluate(&p, &y, EvaluateOptions::default().verbose(0).batch_size(2)).unwrap();
    // Metric counts are exact; F1 carries Keras's 1e-7 epsilons.
    assert_near(logs["accuracy"], 0.4, 1e-12);
    assert_near(logs["precision"], 0.5, 1e-12);
    assert_near(logs["recall"], 2.0 / 3.0, 1e-12);
    assert_near(logs["f1_score"], 4.0 / 7.0, 1e-6);
    // The loss is the batch-size-weighted mean of batch means: the mean over all samples.
    let expected = (-(0.8f64.ln()) - 0.4f64.ln() - 0.4f64.ln() - 0.9f64.ln() - 0.3f64.ln()) / 5.0;
    assert_near(logs["loss"], expected, 1e-6);
}

#[test]
fn user_mistakes_are_errors_not_panics() {
    let (x, y) = blobs(20, 6);
    let mut model = classifier(50);
    let err = model.fit(&x, &y, quiet()).unwrap_err();
    assert!(
        matches!(err, NnError::Usage(_)) && err.to_string().contains("fit: the model is not compiled"),
        "{err}"
    );
    model.compile("adam", "sparse_categorical_crossentropy", &["accuracy"]).unwrap();

    let err = model.fit(&x, y.slice(0, 0, 19).unwrap(), quiet()).unwrap_err().to_string();
    assert!(err.contains("fit: input 0 holds 20 samples but y has shape (19,)"), "{err}");

    let mut labels = y.to_vec::<f32>().unwrap();
    labels[13] = 2.0;
    let bad = Tensor::from_vec(labels.clone(), [20], &Device::Cpu).unwrap();
    let err = model.fit(&x, &bad, quiet()).unwrap_err().to_string();
    assert!(err.contains("the target of sample 13 is 2, not a class id in [0, 2)"), "{err}");
    labels[13] = 0.5;
    let bad = Tensor::from_vec(labels, [20], &Device::Cpu).unwrap();
    assert!(model.fit(&x, &bad, quiet()).unwrap_err().to_string().contains("sample 13 is 0.5"));

    let wide = Tensor::zeros([20, 3], DType::F32, &Device::Cpu).unwrap();
    let err = model.fit(&wide, &y, quiet()).unwrap_err().to_string();
    assert!(err.contains("expects batches of shape (None, 2), got (20, 3)"), "{err}");

    let one_hot = Tensor::zeros([20, 3], DType::F32, &Device::Cpu).unwrap();
    let mut categorical = classifier(51);
    categorical.compile("adam", "categorical_crossentropy", &[]).unwrap();
    let err = categorical.fit(&x, &one_hot, quiet()).unwrap_err().to_string();
    assert!(err.contains("expected targets of shape (N, 2), like the model output, got (20, 3)"), "{err}");

    assert!(model.fit(&x, &y, quiet().batch_size(0)).unwrap_err().to_string().contains("batch_size"));
    assert!(model.fit(&x, &y, quiet().verbose(3)).is_err());
    assert!(model.fit(&x, &y, quiet().validation_split(1.0)).is_err());
    assert!(model.predict(x.slice(0, 0, 0).unwrap(), 4).unwrap_err().to_string().contains("no samples"));
}

/// A logged value as Keras prints it: 4 decimals above 1e-3, else scientific (here only 0 is).
fn keras_number(v: f64) -> String {
    match v {
        0.0 => "0.0000e+00".to_string(),
        v if v > 1e-3 => format!("{v:.4}"),
        v => panic!("{v} needs scientific notation; pick another seed"),
    }
}

/// Verbose 2 prints, per epoch, "Epoch i/n" and one line in the notes' format; the numbers are
/// the history's, rounded to 4 decimals.
#[test]
fn verbose_2_prints_one_line_per_epoch_in_keras_format() {
    let (x, y) = blobs(20, 7);
    let mut model = classifier(60);
    model.compile("adam", "sparse_categorical_crossentropy", &["accuracy"]).unwrap();
    let mut out = Vec::new();
    let history = model
        .fit(&x, &y, FitOptions::default().epochs(2).batch_size(10).verbose(2).output(&mut out))
        .unwrap();
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    for epoch in 0..2 {
        assert_eq!(lines[2 * epoch], format!("Epoch {}/2", epoch + 1));
        let expected = format!(
            "2/2 - 0s - loss: {} - accuracy: {} - ",
            keras_number(history.get("loss").unwrap()[epoch]),
            keras_number(history.get("accuracy").unwrap()[epoch])
        );
        let line = lines[2 * epoch + 1];
        assert!(line.starts_with(&expected), "{line:?} does not start with {expected:?}");
        let times: Vec<&str> = line[expected.len()..].split(" - ").collect();
        assert_eq!(times.len(), 2, "{line}");
        assert!(times[0].ends_with("/epoch") && times[1].ends_with("/step"), "{line}");
    }

    // Verbose 0 prints nothing, even with a writer.
    let mut silent = Vec::new();
    model.fit(&x, &y, FitOptions::default().verbose(0).output(&mut silent)).unwrap();
    assert!(silent.is_empty());
}

/// A cross-entropy on a softmax output is computed from the logits behind it (as Keras's
/// TensorFlow backend does): the same value where nothing saturates (tolerance 1e-6), and a
/// gradient that still flows where the clipped probabilities would have stopped it.
#[test]
fn cross_entropy_on_a_softmax_output_uses_its_logits() {
    use tessera::nn::Activation;
    let logits = Tensor::from_vec(vec![0.5f64, -1.0, 2.0, 0.1, 0.2, 0.3], [2, 3], &Device::Cpu).unwrap();
    let labels = Tensor::from_vec(vec![2.0f64, 0.0], [2], &Device::Cpu).unwrap();
    let mut ctx = ForwardCtx::inference();
    let probabilities = ctx.activate(Activation::Softmax, &logits).unwrap();
    let loss = Loss::SparseCategoricalCrossentropy { from_logits: false };
    let plain = loss.compute(&labels, &probabilities).unwrap().item().unwrap();
    let fused = loss
        .compute_for(&labels, &probabilities, ctx.logits_of(&probabilities), None)
        .unwrap()
        .item()
        .unwrap();
    assert!((plain - fused).abs() < 1e-6, "{plain} vs {fused}");

    // Unscaled inputs saturate the softmax: clipped probabilities would give no gradient at all.
    let mut model =
        Model::sequential(vec![Box::new(Dense::new(2).input_shape(&[2]).activation("softmax"))]).unwrap();
    model.compile("sgd", "sparse_categorical_crossentropy", &[]).unwrap();
    let x = Tensor::from_vec(vec![150.0f32, 67.0, 130.0, 60.0], [2, 2], &Device::Cpu).unwrap();
    let y = Tensor::from_vec(vec![1.0f32, 0.0], [2], &Device::Cpu).unwrap();
    let before = model.weights()[0].value().to_vec::<f32>().unwrap();
    model.train_on_batch(&x, &y).unwrap();
    assert_ne!(
        model.weights()[0].value().to_vec::<f32>().unwrap(),
        before,
        "the saturated model must still learn"
    );
}
