//! The training-specific ops: fused softmax cross-entropy (dense and sparse labels), dropout
//! (plain and with a broadcast mask) and batch normalization (training and inference). Gradient
//! checks in f64, known answers, and the errors users can run into.

mod common;

use common::{assert_close, rand, rand_in, tensor};
use tessera::tensor_core::{gradcheck, rng};
use tessera::{DType, Device, Error, Shape, Tape, Tensor};

/// Bound on the max relative error (see `gradcheck::check`). Every op here is smooth where it is
/// checked, so round-off dominates: the objective sums up to ~200 weighted outputs (losses up to
/// ~40 for unnormalized labels), ~1e-14 over 2 * STEP, ~1e-8 absolute, up to 1e-5 relative
/// against the 1e-3 floor of small gradients (observed worst: 1e-6). A wrong rule errs by O(1).
const BOUND: f64 = 1e-5;

/// (N, C) pairs: sizes 1, 3, 7 and 13, non-square, batches of one and more.
const ROWS_CLASSES: &[(usize, usize)] = &[(1, 2), (1, 13), (3, 3), (7, 13), (13, 3), (3, 7)];

/// Batch-norm inputs and their channel axes: (N, C), and (N, H, W, C) normalized per channel
/// on the last axis and per "H row" on axis 1.
const NORM_CASES: &[(&[usize], isize)] = &[
    (&[7, 3], -1),
    (&[13, 1], 1),
    (&[2, 3, 5, 7], -1),
    (&[2, 3, 5, 7], 1),
    (&[1, 3, 3, 2], -1),
    (&[3, 1, 7, 1], 1),
];

/// Random target distributions: positive rows scaled to sum to one.
fn soft_labels(rows: usize, classes: usize, seed: u64) -> Tensor {
    let raw = rand_in(&[rows, classes], 0.1, 1.0, seed);
    raw.div(&raw.sum(&[1], true).unwrap()).unwrap()
}

/// One-hot rows for `ids`.
fn one_hot(ids: &[usize], classes: usize) -> Tensor {
    let mut values = vec![0.0; ids.len() * classes];
    for (r, &id) in ids.iter().enumerate() {
        values[r * classes + id] = 1.0;
    }
    tensor(&values, &[ids.len(), classes])
}

/// Deterministic class ids spread over `0..classes`.
fn class_ids(rows: usize, classes: usize, seed: u64) -> Vec<usize> {
    (0..rows as u32).map(|i| (rng::uniform(seed, i) * classes as f64) as usize).collect()
}

fn ids_tensor(ids: &[usize], shape: &[usize]) -> Tensor {
    tensor(&ids.iter().map(|&i| i as f64).collect::<Vec<_>>(), shape)
}

#[test]
fn softmax_cross_entropy_gradients() {
    for (k, &(n, c)) in ROWS_CLASSES.iter().enumerate() {
        let seed = 10 * k as u64;
        let logits = rand_in(&[n, c], -3.0, 3.0, seed);
        let one_hot = one_hot(&class_ids(n, c, seed + 1), c);
        let soft = soft_labels(n, c, seed + 2);
        // Labels that do not sum to one exercise the `sum(y)` factor of the gradient.
        let unnormalized = rand_in(&[n, c], 0.0, 2.0, seed + 3);
        for (kind, labels) in [("one-hot", &one_hot), ("soft", &soft), ("unnormalized", &unnormalized)] {
            let name = format!("softmax_cross_entropy {kind} ({n}, {c})");
            gradcheck::check(&name, &[&logits], |x| x[0].softmax_cross_entropy(labels))
                .unwrap()
                .assert_within(BOUND);
        }
    }
}

#[test]
fn sparse_softmax_cross_entropy_gradients() {
    for (k, &(n, c)) in ROWS_CLASSES.iter().enumerate() {
        let seed = 10 * k as u64 + 5;
        let logits = rand_in(&[n, c], -3.0, 3.0, seed);
        let ids = class_ids(n, c, seed + 1);
        for shape in [vec![n], vec![n, 1]] {
            let labels = ids_tensor(&ids, &shape);
            let name = format!("sparse_softmax_cross_entropy ({n}, {c}) labels {shape:?}");
            gradcheck::check(&name, &[&logits], |x| x[0].sparse_softmax_cross_entropy(&labels))
                .unwrap()
                .assert_within(BOUND);
        }
    }
}

#[test]
fn cross_entropy_known_answers() {
    // Two equal logits: -log(1/2).
    let loss = tensor(&[0.0, 0.0], &[1, 2]).softmax_cross_entropy(&tensor(&[1.0, 0.0], &[1, 2])).unwrap();
    assert_close(&loss.to_vec_f64().unwrap(), &[std::f64::consts::LN_2], 1e-15);
    // Logits (1, 2, 3), class 2: log(e + e^2 + e^3) - 3 = log(e^-2 + e^-1 + 1) = 0.40760596444...
    let logits = tensor(&[1.0, 2.0, 3.0, 1.0, 2.0, 3.0], &[2, 3]);
    let expected = [(1.0 + (-1.0f64).exp() + (-2.0f64).exp()).ln(), (1.0 + 1.0f64.exp() + 2.0f64.exp()).ln()];
    let sparse = logits.sparse_softmax_cross_entropy(&tensor(&[2.0, 0.0], &[2])).unwrap();
    assert_close(&sparse.to_vec_f64().unwrap(), &expected, 1e-15);
    let dense = logits.softmax_cross_entropy(&one_hot(&[2, 0], 3)).unwrap();
    assert_close(&dense.to_vec_f64().unwrap(), &expected, 1e-15);
    // Fused, so huge logits stay finite where softmax alone would underflow to 0 and log to -inf.
    let huge = tensor(&[1000.0, 0.0], &[1, 2]);
    assert_close(
        &huge.sparse_softmax_cross_entropy(&tensor(&[1.0], &[1])).unwrap().to_vec_f64().unwrap(),
        &[1000.0],
        0.0,
    );
    assert_close(
        &huge.softmax_cross_entropy(&tensor(&[0.0, 1.0], &[1, 2])).unwrap().to_vec_f64().unwrap(),
        &[1000.0],
        0.0,
    );
}

#[test]
fn cross_entropy_f32_matches_f64() {
    let logits = rand_in(&[7, 13], -5.0, 5.0, 77);
    let labels = soft_labels(7, 13, 78);
    let ids = ids_tensor(&class_ids(7, 13, 79), &[7]);
    let f32 = |t: &Tensor| t.to_dtype(DType::F32).unwrap();
    let dense64 = logits.softmax_cross_entropy(&labels).unwrap().to_vec_f64().unwrap();
    let dense32 = f32(&logits).softmax_cross_entropy(&f32(&labels)).unwrap().to_vec_f64().unwrap();
    assert_close(&dense32, &dense64, 1e-5);
    let sparse64 = logits.sparse_softmax_cross_entropy(&ids).unwrap().to_vec_f64().unwrap();
    let sparse32 = f32(&logits).sparse_softmax_cross_entropy(&f32(&ids)).unwrap().to_vec_f64().unwrap();
    assert_close(&sparse32, &sparse64, 1e-5);
}

#[test]
fn cross_entropy_labels_get_no_gradient() {
    let tape = Tape::new();
    let logits = tape.watch(&rand(&[3, 7], 1));
    let labels = tape.watch(&soft_labels(3, 7, 2));
    let loss = logits.softmax_cross_entropy(&labels).unwrap().sum_all().unwrap();
    let grads = tape.backward(&loss).unwrap();
    assert!(grads.get(&logits).is_some());
    assert!(grads.get(&labels).is_none());
}

/// Asserts `result` failed with an error whose message contains every one of `needles`.
fn assert_error<T: std::fmt::Debug>(result: tessera::Result<T>, needles: &[&str]) {
    let message = result.expect_err("expected an error").to_string();
    for needle in needles {
        assert!(message.contains(needle), "error {message:?} does not mention {needle:?}");
    }
}

#[test]
fn cross_entropy_errors() {
    let logits = rand(&[3, 4], 3);
    assert_error(
        logits.softmax_cross_entropy(&rand(&[3, 5], 4)),
        &["softmax_cross_entropy", "(3, 4)", "(3, 5)"],
    );
    assert_error(rand(&[4], 5).softmax_cross_entropy(&rand(&[4], 6)), &["(N, C)", "(4,)"]);
    assert_error(rand(&[3, 0], 5).sparse_softmax_cross_entropy(&rand(&[3], 6)), &["C >= 1", "(3, 0)"]);
    assert!(matches!(
        logits.softmax_cross_entropy(&rand(&[3, 4], 4).to_dtype(DType::F32).unwrap()),
        Err(Error::DType { .. })
    ));
    let sparse = "sparse_softmax_cross_entropy";
    assert_error(
        logits.sparse_softmax_cross_entropy(&tensor(&[0.0, 1.0], &[2])),
        &[sparse, "3 class ids", "(2,)"],
    );
    assert_error(logits.sparse_softmax_cross_entropy(&tensor(&[0.0; 6], &[3, 2])), &[sparse, "(3, 2)"]);
    assert_error(
        logits.sparse_softmax_cross_entropy(&tensor(&[0.0, 1.5, 9.0], &[3])),
        &["label 1 is 1.5", "[0, 4)"],
    );
    assert_error(
        logits.sparse_softmax_cross_entropy(&tensor(&[0.0, 1.0, 4.0], &[3])),
        &["label 2 is 4", "[0, 4)"],
    );
    assert_error(logits.sparse_softmax_cross_entropy(&tensor(&[-1.0, 1.0, 2.0], &[3])), &["label 0 is -1"]);
    assert_error(
        logits.sparse_softmax_cross_entropy(&tensor(&[0.0, f64::NAN, 2.0], &[3])),
        &["label 1 is NaN"],
    );
}

/// Rate and seed of the dropout gradient checks.
const RATE: f64 = 0.3;
const SEED: u64 = 1234;

#[test]
fn dropout_gradients() {
    for (i, shape) in [&[1][..], &[3, 7], &[13, 1], &[2, 3, 1, 7]].into_iter().enumerate() {
        let x = rand(shape, 50 + i as u64);
        gradcheck::check(&format!("dropout {shape:?}"), &[&x], |x| x[0].dropout(RATE, SEED))
            .unwrap()
            .assert_within(BOUND);
    }
    let x = rand(&[2, 3, 5, 7], 60);
    let mask = Shape::new([2, 1, 1, 7]);
    gradcheck::check("spatial dropout", &[&x], |x| x[0].dropout_broadcast(RATE, SEED, &mask))
        .unwrap()
        .assert_within(BOUND);
}

#[test]
fn dropout_mask_comes_from_the_counter_rng() {
    let n = 1000;
    let expected: Vec<f64> =
        (0..n as u32).map(|i| if rng::uniform(SEED, i) < RATE { 0.0 } else { 1.0 / (1.0 - RATE) }).collect();
    for dtype in [DType::F64, DType::F32] {
        let ones = Tensor::ones([n], dtype, &Device::Cpu).unwrap();
        let dropped = ones.dropout(RATE, SEED).unwrap().to_vec_f64().unwrap();
        assert_close(&dropped, &expected, 1e-6);
    }
}

#[test]
fn dropout_drops_rate_and_preserves_the_mean() {
    let n = 100_000;
    let x = Tensor::ones([n], DType::F32, &Device::Cpu).unwrap();
    let y = x.dropout(RATE, 99).unwrap().to_vec_f64().unwrap();
    let zeros = y.iter().filter(|&&v| v == 0.0).count() as f64 / n as f64;
    assert!((zeros - RATE).abs() < 0.01, "dropped fraction {zeros}, expected about {RATE}");
    let mean = y.iter().sum::<f64>() / n as f64;
    assert!((mean - 1.0).abs() < 0.02, "mean {mean} after dropout, expected 1 within 2%");
}

#[test]
fn spatial_dropout_drops_whole_feature_maps() {
    let (n, h, w, c) = (3, 4, 5, 6);
    let x = rand_in(&[n, h, w, c], 0.5, 1.5, 7);
    let y = x.dropout_broadcast(0.5, 8, &Shape::new([n, 1, 1, c])).unwrap();
    let (xs, ys) = (x.to_vec_f64().unwrap(), y.to_vec_f64().unwrap());
    for b in 0..n {
        for ch in 0..c {
            let kept = rng::uniform(8, (b * c + ch) as u32) >= 0.5;
            for p in 0..h * w {
                let i = (b * h * w + p) * c + ch;
                let expected = if kept { xs[i] * 2.0 } else { 0.0 };
                assert!(
                    (ys[i] - expected).abs() < 1e-12,
                    "sample {b} channel {ch} position {p}: {} vs {expected}",
                    ys[i]
                );
            }
        }
    }
}

#[test]
fn dropout_rate_zero_is_the_identity_and_bad_arguments_are_errors() {
    let x = rand(&[3, 7], 9);
    assert!(x.dropout(0.0, 1).unwrap().shares_storage(&x));
    for rate in [1.0, 1.5, -0.1, f64::NAN] {
        assert_error(x.dropout(rate, 1), &["dropout", "rate must be in [0, 1)"]);
    }
    assert_error(x.dropout_broadcast(0.5, 1, &Shape::new([2, 7])), &["dropout", "(2, 7)", "(3, 7)"]);
    assert_error(x.dropout_broadcast(0.5, 1, &Shape::new([1, 1, 7])), &["dropout", "(1, 1, 7)", "(3, 7)"]);
}

#[test]
fn batch_norm_train_gradients() {
    for (i, &(shape, axis)) in NORM_CASES.iter().enumerate() {
        let seed = 100 + 10 * i as u64;
        let channels = shape[axis.rem_euclid(shape.len() as isize) as usize];
        let x = rand_in(shape, -2.0, 2.0, seed);
        let gamma = rand_in(&[channels], 0.5, 1.5, seed + 1);
        let beta = rand(&[channels], seed + 2);
        let name = format!("batch_norm_train {shape:?} axis {axis}");
        gradcheck::check(&name, &[&x, &gamma, &beta], |t| {
            Ok(t[0].batch_norm_train(&t[1], &t[2], axis, 1e-3)?.0)
        })
        .unwrap()
        .assert_within(BOUND);
    }
}

#[test]
fn batch_norm_infer_gradients() {
    for (i, &(shape, axis)) in NORM_CASES.iter().enumerate() {
        let seed = 200 + 10 * i as u64;
        let channels = shape[axis.rem_euclid(shape.len() as isize) as usize];
        let x = rand_in(shape, -2.0, 2.0, seed);
        let gamma = rand_in(&[channels], 0.5, 1.5, seed + 1);
        let beta = rand(&[channels], seed + 2);
        let mean = rand(&[channels], seed + 3);
        let var = rand_in(&[channels], 0.5, 2.0, seed + 4);
        let name = format!("batch_norm_infer {shape:?} axis {axis}");
        gradcheck::check(&name, &[&x, &gamma, &beta, &mean, &var], |t| {
            t[0].batch_norm_infer(&t[1], &t[2], &t[3], &t[4], axis, 1e-3)
        })
        .unwrap()
        .assert_within(BOUND);
    }
}

#[test]
fn batch_norm_known_answers() {
    // One channel holding 1, 2, 3, 4: mean 2.5, biased variance (2.25 + 0.25 + 0.25 + 2.25) / 4
    // = 1.25; with gamma 2, beta 1 and epsilon 0: y = 2 * (x - 2.5) / sqrt(1.25) + 1.
    let x = tensor(&[1.0, 2.0, 3.0, 4.0], &[4, 1]);
    let (y, mean, var) = x.batch_norm_train(&tensor(&[2.0], &[1]), &tensor(&[1.0], &[1]), -1, 0.0).unwrap();
    let expected: Vec<f64> =
        [1.0, 2.0, 3.0, 4.0].iter().map(|v| 2.0 * (v - 2.5) / 1.25f64.sqrt() + 1.0).collect();
    assert_close(&y.to_vec_f64().unwrap(), &expected, 1e-15);
    assert_close(&mean.to_vec_f64().unwrap(), &[2.5], 1e-15);
    assert_close(&var.to_vec_f64().unwrap(), &[1.25], 1e-15);

    // Channels on axis 1 of (2, 2, 2): channel 0 holds 1, 2, 5, 6 and channel 1 holds 3, 4, 7, 8.
    let x = tensor(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], &[2, 2, 2]);
    let ones = tensor(&[1.0, 1.0], &[2]);
    let zeros = tensor(&[0.0, 0.0], &[2]);
    let (_, mean, var) = x.batch_norm_train(&ones, &zeros, 1, 1e-3).unwrap();
    assert_close(&mean.to_vec_f64().unwrap(), &[3.5, 5.5], 1e-15);
    // Deviations from the mean: -2.5, -1.5, 1.5, 2.5 in both channels; (6.25 + 2.25) * 2 / 4.
    assert_close(&var.to_vec_f64().unwrap(), &[4.25, 4.25], 1e-15);
}

#[test]
fn batch_norm_train_agrees_with_infer_on_the_batch_statistics() {
    for (i, &(shape, axis)) in NORM_CASES.iter().enumerate() {
        let seed = 300 + 10 * i as u64;
        let channels = shape[axis.rem_euclid(shape.len() as isize) as usize];
        let x = rand_in(shape, -2.0, 2.0, seed);
        let gamma = rand_in(&[channels], 0.5, 1.5, seed + 1);
        let beta = rand(&[channels], seed + 2);
        let (y, mean, var) = x.batch_norm_train(&gamma, &beta, axis, 1e-3).unwrap();
        let z = x.batch_norm_infer(&gamma, &beta, &mean, &var, axis, 1e-3).unwrap();
        assert_close(&y.to_vec_f64().unwrap(), &z.to_vec_f64().unwrap(), 1e-12);
    }
}

#[test]
fn batch_norm_statistics_are_untracked() {
    let tape = Tape::new();
    let x = tape.watch(&rand(&[4, 3], 1));
    let gamma = tape.watch(&rand(&[3], 2));
    let beta = tape.watch(&rand(&[3], 3));
    let (y, mean, var) = x.batch_norm_train(&gamma, &beta, -1, 1e-3).unwrap();
    assert!(y.is_tracked());
    assert!(!mean.is_tracked() && !var.is_tracked());
}

#[test]
fn batch_norm_errors() {
    let x = rand(&[4, 3], 1);
    let (c3, c2) = (rand(&[3], 2), rand(&[2], 3));
    assert_error(x.batch_norm_train(&c2, &c3, -1, 1e-3), &["batch_norm_train", "gamma", "(3,)", "(2,)"]);
    assert_error(x.batch_norm_train(&c3, &c2, -1, 1e-3), &["beta", "(3,)", "(2,)"]);
    assert_error(x.batch_norm_train(&c3, &c3, 2, 1e-3), &["axis 2", "(4, 3)"]);
    assert_error(x.batch_norm_train(&c3, &c3, -1, -1.0), &["epsilon", "-1"]);
    assert_error(rand(&[0, 3], 4).batch_norm_train(&c3, &c3, -1, 1e-3), &["(0, 3)", "no values"]);
    assert!(matches!(
        x.batch_norm_train(&c3.to_dtype(DType::F32).unwrap(), &c3, -1, 1e-3),
        Err(Error::DType { .. })
    ));
    assert_error(
        x.batch_norm_infer(&c3, &c3, &c3, &c2, -1, 1e-3),
        &["batch_norm_infer", "moving_var", "(2,)"],
    );
    assert_error(x.batch_norm_infer(&c3, &c3, &c2, &c3, 0, 1e-3), &["gamma", "(4,)", "(3,)"]);
}
