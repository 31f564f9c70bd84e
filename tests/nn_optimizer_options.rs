//! Keras 3's optimizer base-class options: learning-rate schedules (values worked out by hand
//! from keras/src/optimizers/schedules/learning_rate_schedule.py and its docstrings), gradient
//! clipping and decoupled weight decay (keras/src/optimizers/base_optimizer.py `_clip_gradients`,
//! `clip_by_global_norm`, `_apply_weight_decay`), AdamW's default, their errors, and their round
//! trip through a model file.

use tessera::nn::callbacks::ReduceLROnPlateau;
use tessera::nn::io::{load_model, save_model};
use tessera::nn::optimizers::schedules::{
    CosineDecay, ExponentialDecay, InverseTimeDecay, LearningRateSchedule, PiecewiseConstantDecay,
    PolynomialDecay,
};
use tessera::nn::optimizers::{AdamW, Configured, IntoOptimizer, OptimizerOptions, Sgd};
use tessera::nn::{Dense, FitOptions, Model};
use tessera::{Device, Tensor};

/// Schedules are f64 arithmetic on the host.
const RATE_TOLERANCE: f64 = 1e-12;
/// Weights are f32; an update is a few f32 operations on values of order 1.
const F32_TOLERANCE: f64 = 1e-6;

fn assert_near(actual: f64, expected: f64, tolerance: f64) {
    assert!(
        (actual - expected).abs() <= tolerance,
        "got {actual}, expected {expected} (tolerance {tolerance})"
    );
}

fn rate(schedule: impl Into<LearningRateSchedule>, step: u64) -> f64 {
    schedule.into().at(step)
}

#[test]
fn schedules_follow_keras() {
    // 0.1 * 0.5^(5/10); staircase floors 15/10 to 1.
    assert_near(rate(ExponentialDecay::new(0.1, 10, 0.5), 5), 0.1 * 0.5f64.sqrt(), RATE_TOLERANCE);
    let stairs = ExponentialDecay { staircase: true, ..ExponentialDecay::new(0.1, 10, 0.5) };
    assert_near(rate(stairs, 15), 0.05, RATE_TOLERANCE);

    // Keras's docstring: boundaries [100000, 110000], values [1.0, 0.5, 0.1]: 1.0 up to and
    // including step 100000, 0.5 up to 110000, then 0.1.
    let piecewise =
        PiecewiseConstantDecay { boundaries: vec![100_000, 110_000], values: vec![1.0, 0.5, 0.1] };
    for (step, expected) in [(0, 1.0), (100_000, 1.0), (100_001, 0.5), (110_000, 0.5), (110_001, 0.1)] {
        assert_eq!(rate(piecewise.clone(), step), expected, "step {step}");
    }

    // 0.1 / (1 + 0.5 * 2); staircase: floor(5 / 3) = 1 -> 0.1 / 1.5.
    assert_near(rate(InverseTimeDecay::new(0.1, 1, 0.5), 2), 0.05, RATE_TOLERANCE);
    let stairs = InverseTimeDecay { staircase: true, ..InverseTimeDecay::new(0.1, 3, 0.5) };
    assert_near(rate(stairs, 5), 0.1 / 1.5, RATE_TOLERANCE);

    // Keras's docstring example: 0.1 to 0.01 over 10000 steps with power 0.5.
    let poly = PolynomialDecay { end_learning_rate: 0.01, power: 0.5, ..PolynomialDecay::new(0.1, 10_000) };
    assert_near(rate(poly, 2_500), 0.09 * 0.75f64.sqrt() + 0.01, RATE_TOLERANCE);
    assert_near(rate(poly, 20_000), 0.01, RATE_TOLERANCE);
    // Cycling at 15000: the period grows to 20000, so p = 0.75.
    assert_near(rate(PolynomialDecay { cycle: true, ..poly }, 15_000), 0.09 * 0.5 + 0.01, RATE_TOLERANCE);
    assert_near(rate(PolynomialDecay::new(0.1, 100), 0), 0.1, RATE_TOLERANCE);

    // Half way the cosine is at 0.5; alpha floors the end at alpha * rate.
    assert_near(rate(CosineDecay::new(0.1, 100), 50), 0.05, RATE_TOLERANCE);
    assert_near(rate(CosineDecay { alpha: 0.1, ..CosineDecay::new(0.1, 100) }, 500), 0.01, RATE_TOLERANCE);
    // Warm-up from 0 to 0.1 over 10 steps, then cosine from 0.1 over 100.
    let warm = CosineDecay { warmup_target: Some(0.1), warmup_steps: 10, ..CosineDecay::new(0.0, 100) };
    assert_near(rate(warm, 5), 0.05, RATE_TOLERANCE);
    assert_near(rate(warm, 10), 0.1, RATE_TOLERANCE);
    assert_near(rate(warm, 60), 0.05, RATE_TOLERANCE);
    assert_near(rate(warm, 1_000), 0.0, RATE_TOLERANCE);
}

#[test]
fn bad_options_are_refused() {
    let err = |o: Configured| o.into_optimizer().unwrap_err().to_string();
    let e = err(Sgd::default().clipnorm(1.0).clipvalue(0.5));
    assert!(
        e.contains("only one of clipnorm, clipvalue and global_clipnorm")
            && e.contains("clipnorm and clipvalue"),
        "{e}"
    );
    let e = err(Sgd::default().weight_decay(-1.0));
    assert!(e.contains("weight_decay must be finite and not negative, got -1"), "{e}");
    let e = err(Sgd::default()
        .learning_rate_schedule(PiecewiseConstantDecay { boundaries: vec![1], values: vec![0.1] }));
    assert!(e.contains("expected one value more than boundaries, got 1 boundaries and 1 values"), "{e}");
    let e = err(Sgd::default().learning_rate_schedule(ExponentialDecay::new(0.1, 0, 0.5)));
    assert!(e.contains("decay_steps must be at least 1, got 0"), "{e}");
    // Keras's AdamW default.
    assert_eq!(AdamW::default().weight_decay, 0.004);
    assert_eq!("AdamW".into_optimizer().unwrap(), Configured::from(AdamW::default()));
}

/// Dense(2) on 2 inputs with a fixed kernel and bias, compiled with `optimizer` and MSE.
fn linear(optimizer: Configured) -> Model {
    let mut model = Model::sequential(vec![Box::new(Dense::new(2).input_shape(&[2]))]).unwrap();
    model.build(&[vec![2]]).unwrap();
    let kernel = Tensor::from_vec(vec![0.5f32, -1.0, 2.0, 0.25], [2, 2], &Device::Cpu).unwrap();
    let bias = Tensor::from_vec(vec![0.1f32, -0.2], [2], &Device::Cpu).unwrap();
    model.weights()[0].value().assign(&kernel).unwrap();
    model.weights()[1].value().assign(&bias).unwrap();
    model.compile(optimizer, "mse", &[]).unwrap();
    model
}

fn data() -> (Tensor, Tensor) {
    let x = Tensor::from_vec(vec![1.0f32, 2.0, -3.0, 0.5, 2.0, 2.0], [3, 2], &Device::Cpu).unwrap();
    let y = Tensor::from_vec(vec![4.0f32, -4.0, 0.0, 1.0, 3.0, 3.0], [3, 2], &Device::Cpu).unwrap();
    (x, y)
}

/// One SGD step (learning rate `lr`) with `options`, checked against
/// `w - w * weight_decay * lr - lr * clip(gradients)` computed on the host from the model's own
/// gradients by `clip` (which sees every weight's gradient, kernel then bias).
fn check_step(
    optimizer: Configured,
    lr: f64,
    weight_decay: f64,
    clip: impl Fn(&[Vec<f64>]) -> Vec<Vec<f64>>,
) {
    let mut model = linear(optimizer);
    let (x, y) = data();
    let gradients: Vec<Vec<f64>> =
        model.gradients(&x, &y).unwrap().iter().map(|(_, g)| g.to_vec_f64().unwrap()).collect();
    let before: Vec<Vec<f64>> = model.weights().iter().map(|w| w.value().to_vec_f64().unwrap()).collect();
    model.train_on_batch(&x, &y).unwrap();
    let clipped = clip(&gradients);
    for ((weight, w0), g) in model.weights().iter().zip(&before).zip(&clipped) {
        let after = weight.value().to_vec_f64().unwrap();
        for ((a, w), g) in after.iter().zip(w0).zip(g) {
            assert_near(*a, w - w * weight_decay * lr - lr * g, F32_TOLERANCE);
        }
    }
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

#[test]
fn clipping_and_weight_decay_follow_keras() {
    let sgd = Sgd { learning_rate: 0.1, ..Sgd::default() };
    // The kernel's gradient here is large (norm above 2), so every clipping bites.
    check_step(sgd.into(), 0.1, 0.0, |g| g.to_vec());
    // clipnorm: each gradient alone, g * c / max(||g||, c).
    check_step(sgd.clipnorm(1.0), 0.1, 0.0, |g| {
        assert!(g.iter().any(|g| norm(g) > 1.0), "some gradient must be clipped");
        g.iter().map(|g| g.iter().map(|x| x * 1.0 / norm(g).max(1.0)).collect()).collect()
    });
    // global_clipnorm: all together, scaled by c / max(global norm, c).
    check_step(sgd.global_clipnorm(2.0), 0.1, 0.0, |g| {
        let global = g.iter().map(|g| norm(g).powi(2)).sum::<f64>().sqrt();
        assert!(global > 2.0, "the gradients must be clipped");
        g.iter().map(|g| g.iter().map(|x| x * 2.0 / global.max(2.0)).collect()).collect()
    });
    // clipvalue: elementwise.
    check_step(sgd.clipvalue(0.5), 0.1, 0.0, |g| {
        g.iter().map(|g| g.iter().map(|x| x.clamp(-0.5, 0.5)).collect()).collect()
    });
    // Weight decay scales every weight, bias included, by its rate times the learning rate
    // before the update.
    check_step(sgd.weight_decay(0.3), 0.1, 0.3, |g| g.to_vec());
}

#[test]
fn a_schedule_sets_each_step_learning_rate() {
    let schedule = LearningRateSchedule::from(PiecewiseConstantDecay {
        boundaries: vec![0, 1],
        values: vec![0.1, 0.01, 0.001],
    });
    let mut model = linear(Sgd::default().learning_rate_schedule(schedule.clone()));
    let (x, y) = data();
    for step in 0..3u64 {
        // Keras evaluates the schedule at the steps taken so far: 0.1, then 0.01, then 0.001.
        let lr = schedule.at(step);
        assert_eq!(model.learning_rate().unwrap(), lr);
        let g = model.gradients(&x, &y).unwrap()[1].1.to_vec_f64().unwrap();
        let bias = model.weights()[1].value().to_vec_f64().unwrap();
        model.train_on_batch(&x, &y).unwrap();
        let after = model.weights()[1].value().to_vec_f64().unwrap();
        for ((a, b), g) in after.iter().zip(&bias).zip(&g) {
            assert_near(*a, b - lr * g, F32_TOLERANCE);
        }
    }
    let err = model.set_learning_rate(0.5).unwrap_err().to_string();
    assert!(err.contains("follows a PiecewiseConstantDecay schedule and cannot be set"), "{err}");

    // ReduceLROnPlateau meets the same refusal when it reduces (patience 0, a learning rate too
    // small for the loss to improve by its min_delta).
    let mut model = linear(Sgd::default().learning_rate_schedule(ExponentialDecay::new(1e-30, 1, 0.5)));
    let mut reduce = ReduceLROnPlateau::new().monitor("loss").patience(0);
    let err = model
        .fit(&x, &y, FitOptions::default().epochs(3).verbose(0).callback(&mut reduce))
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot be set"), "{err}");
}

/// Saved with a schedule, clipping and weight decay, a model loads with the same optimizer and
/// step count: one more step on each gives the same weights, bit for bit.
#[test]
fn options_round_trip_through_the_model_file() {
    let optimizer = AdamW { weight_decay: 0.01, amsgrad: true, ..AdamW::default() }
        .learning_rate_schedule(CosineDecay {
            warmup_target: Some(0.05),
            warmup_steps: 2,
            ..CosineDecay::new(0.01, 10)
        })
        .global_clipnorm(1.5);
    let mut model = linear(optimizer);
    let (x, y) = data();
    model.fit(&x, &y, FitOptions::default().epochs(3).batch_size(2).shuffle(false).verbose(0)).unwrap();
    let path =
        std::env::temp_dir().join(format!("tessera-optimizer-options-{}.safetensors", std::process::id()));
    save_model(&model, &path).unwrap();
    let mut loaded = load_model(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(loaded.learning_rate().unwrap(), model.learning_rate().unwrap());
    model.train_on_batch(&x, &y).unwrap();
    loaded.train_on_batch(&x, &y).unwrap();
    for (a, b) in model.weights().iter().zip(loaded.weights()) {
        assert_eq!(a.value().to_vec::<f32>().unwrap(), b.value().to_vec::<f32>().unwrap());
    }
    assert!(loaded.set_learning_rate(0.1).is_err(), "the loaded schedule still cannot be set");
}
