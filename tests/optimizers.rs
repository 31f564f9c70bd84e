//! Optimizer updates against numbers worked out by hand from the Keras 3 formulas
//! (keras/src/optimizers/*.py), in f64 and in f32, and the errors a caller can run into.
//!
//! Every case starts from the parameter w = [1, -2, 3] and applies the gradient g = [0.1, -0.2,
//! 0.3] at each step. Where a formula reduces to the same expression for every element, the
//! comment derives it once in terms of g.

mod common;

use common::{assert_close, tensor};
use tessera::tensor_core::optim::{Adadelta, Adagrad, Adam, Nadam, Optimizer, RmsProp, Sgd};
use tessera::{DType, Device, Tape, Tensor};

const PARAM: [f64; 3] = [1.0, -2.0, 3.0];
const GRAD: [f64; 3] = [0.1, -0.2, 0.3];

/// f64 updates follow the formulas to the last few bits.
const F64_TOLERANCE: f64 = 1e-12;
/// f32 keeps about 7 significant digits of values near 1 to 3.
const F32_TOLERANCE: f64 = 1e-6;

/// The parameter after `steps` steps of `optimizer` with the gradient fixed at GRAD.
fn run(optimizer: Optimizer, steps: u64, dtype: DType) -> Vec<f64> {
    let w = tensor(&PARAM, &[3]).to_dtype(dtype).unwrap();
    let g = tensor(&GRAD, &[3]).to_dtype(dtype).unwrap();
    let mut state = optimizer.state_for(&w).unwrap();
    for t in 1..=steps {
        optimizer.step(&w, &g, &mut state, t).unwrap();
    }
    w.to_vec_f64().unwrap()
}

fn check(optimizer: impl Into<Optimizer>, steps: u64, expected: [f64; 3]) {
    let optimizer = optimizer.into();
    assert_close(&run(optimizer, steps, DType::F64), &expected, F64_TOLERANCE);
    assert_close(&run(optimizer, steps, DType::F32), &expected, F32_TOLERANCE);
}

#[test]
fn sgd() {
    // w -= 0.01 * g
    check(Sgd::default(), 1, [0.999, -1.998, 2.997]);
}

#[test]
fn sgd_momentum() {
    // Step 1: m = 0.9 * 0 - 0.01 g = -0.01 g; w += m  -> w - 0.01 g = [0.999, -1.998, 2.997].
    // Step 2: m = 0.9 * (-0.01 g) - 0.01 g = -0.019 g; w += m -> w - 0.029 g.
    check(Sgd { momentum: 0.9, ..Sgd::default() }, 2, [0.9971, -1.9942, 2.9913]);
}

#[test]
fn sgd_nesterov() {
    // Step 1: m = -0.01 g; w += 0.9 m - 0.01 g = -0.019 g.
    // Step 2: m = 0.9 (-0.01 g) - 0.01 g = -0.019 g; w += 0.9 m - 0.01 g = -0.0271 g.
    // In all: w - 0.0461 g.
    check(Sgd { momentum: 0.9, nesterov: true, ..Sgd::default() }, 2, [0.99539, -1.99078, 2.98617]);
}

#[test]
fn rmsprop() {
    // v = 0.9 * 0 + 0.1 g^2 = [0.001, 0.004, 0.009];
    // w -= 0.001 g / sqrt(v + 1e-7):
    //   0.0001 / sqrt(0.0010001) = 0.00316211956...  -> 0.99683788044...
    //   0.0002 / sqrt(0.0040001) = 0.00316223813...  -> -1.99683776187...
    //   0.0003 / sqrt(0.0090001) = 0.00316226009...  -> 2.99683773991...
    check(RmsProp::default(), 1, [0.9968378804418571, -1.9968377618675612, 2.9968377399078943]);
}

#[test]
fn rmsprop_centered_with_momentum() {
    // Step 1: v = 0.1 g^2, a = 0.1 g, denominator v - a^2 + eps = 0.09 g^2 + 1e-7;
    //   i1 = 0.001 g / sqrt(0.09 g^2 + 1e-7); m = i1; w -= m.
    // Step 2: v = 0.9 * 0.1 g^2 + 0.1 g^2 = 0.19 g^2, a = 0.19 g, denominator
    //   0.19 g^2 - 0.0361 g^2 + 1e-7 = 0.1539 g^2 + 1e-7; i2 = 0.001 g / sqrt(0.1539 g^2 + 1e-7);
    //   m = 0.9 i1 + i2; w -= m. In all w - (1.9 i1 + i2):
    //   g = 0.1: i1 = 0.0001 / sqrt(0.0009001) = 0.00333314816..., i2 = 0.0001 / sqrt(0.0015391)
    //   = 0.00254898090...; w = 1 - 0.00888196241... = 0.99111803759...
    let mut expected = [0.0; 3];
    for (e, (&w, &g)) in expected.iter_mut().zip(PARAM.iter().zip(&GRAD)) {
        let i1 = 0.001 * g / (0.09 * g * g + 1e-7f64).sqrt();
        let i2 = 0.001 * g / (0.1539 * g * g + 1e-7f64).sqrt();
        *e = w - (1.9 * i1 + i2);
    }
    assert_close(&expected[..1], &[0.99111803759], 1e-11);
    check(RmsProp { momentum: 0.9, centered: true, ..RmsProp::default() }, 2, expected);
}

#[test]
fn adagrad() {
    // acc = 0.1 + g^2 = [0.11, 0.14, 0.19]; w -= 0.001 g / sqrt(acc + 1e-7):
    //   0.0001 / sqrt(0.1100001) = 0.000301511207... -> 0.99969848879...
    //   0.0002 / sqrt(0.1400001) = 0.000534522292... -> -1.99946547770...
    //   0.0003 / sqrt(0.1900001) = 0.000688247020... -> 2.99931175297...
    check(Adagrad::default(), 1, [0.9996984887924728, -1.999465477707076, 2.999311752979506]);
}

#[test]
fn adadelta() {
    // Step 1: acc_g = 0.05 g^2; delta1 = -sqrt(0 + 1e-7) g / sqrt(0.05 g^2 + 1e-7);
    //   acc_delta = 0.05 delta1^2; w += 0.001 delta1.
    //   g = 0.1: delta1 = -0.000316227766 * 0.1 / sqrt(0.0005001) = -0.00141407201...
    // Step 2: acc_g = 0.95 * 0.05 g^2 + 0.05 g^2 = 0.0975 g^2;
    //   delta2 = -sqrt(0.05 delta1^2 + 1e-7) g / sqrt(0.0975 g^2 + 1e-7); w += 0.001 delta2.
    //   g = 0.1: sqrt(0.05 * 1.99960e-6 + 1e-7) = 0.000447191..., delta2 = -0.00143208...
    //   w = 1 - 0.001 * (0.00141407 + 0.00143208) = 0.99999715384...
    let mut expected = [0.0; 3];
    for (e, (&w, &g)) in expected.iter_mut().zip(PARAM.iter().zip(&GRAD)) {
        let delta1 = -(1e-7f64).sqrt() * g / (0.05 * g * g + 1e-7f64).sqrt();
        let delta2 = -(0.05 * delta1 * delta1 + 1e-7f64).sqrt() * g / (0.0975 * g * g + 1e-7f64).sqrt();
        *e = w + 0.001 * (delta1 + delta2);
    }
    assert_close(&expected, &[0.9999971538431269, -1.999997153628307, 2.99999715358852], 1e-15);
    check(Adadelta::default(), 2, expected);
}

#[test]
fn adam() {
    // Step 1: m = 0.1 g, v = 0.001 g^2, alpha = 0.001 sqrt(1 - 0.999) / (1 - 0.9)
    //   = 0.01 sqrt(0.001); w -= m alpha / (sqrt(v) + 1e-7)
    //   = 0.001 sign(g) / (1 + 1e-7 / (sqrt(0.001) |g|)).
    //   g = 0.1: 0.001 / (1 + 3.16227766e-5) = 0.000999968378... -> 0.99900003162...
    // Step 2: m = 0.9 * 0.1 g + 0.1 g = 0.19 g, v = 0.999 * 0.001 g^2 + 0.001 g^2 = 0.001999 g^2,
    //   alpha = 0.001 sqrt(1 - 0.998001) / (1 - 0.81) = 0.001 sqrt(0.001999) / 0.19;
    //   w -= 0.001 sign(g) / (1 + 1e-7 / (sqrt(0.001999) |g|)).
    //   g = 0.1: 0.001 / (1 + 2.23662e-5) = 0.000999977634... -> 0.99800005398...
    check(Adam::default(), 2, [0.9980000539875484, -1.9980000269941494, 2.998000017996183]);
}

/// AMSGrad divides by the largest velocity so far. With the gradient g and then 0, the
/// velocity falls from 0.001 g^2 to 0.000999 g^2 at step 2, where AMSGrad keeps 0.001 g^2:
/// step 1 as Adam's; step 2 m = 0.09 g, alpha = 0.001 sqrt(0.001999) / 0.19,
/// w -= m alpha / (sqrt(v_hat) + 1e-7).
#[test]
fn adam_amsgrad() {
    let adam = Optimizer::from(Adam { amsgrad: true, ..Adam::default() });
    let run = |optimizer: &Optimizer, dtype: DType| {
        let w = tensor(&PARAM, &[3]).to_dtype(dtype).unwrap();
        let mut state = optimizer.state_for(&w).unwrap();
        optimizer.step(&w, &tensor(&GRAD, &[3]).to_dtype(dtype).unwrap(), &mut state, 1).unwrap();
        optimizer.step(&w, &tensor(&[0.0; 3], &[3]).to_dtype(dtype).unwrap(), &mut state, 2).unwrap();
        let names: Vec<&str> = state.tensors().iter().map(|(name, _)| *name).collect();
        (w.to_vec_f64().unwrap(), names)
    };
    let mut expected = [0.0; 3];
    for (e, (&w, &g)) in expected.iter_mut().zip(PARAM.iter().zip(&GRAD)) {
        let alpha_1 = 0.001 * 0.001f64.sqrt() / 0.1;
        let alpha_2 = 0.001 * 0.001999f64.sqrt() / 0.19;
        let root = 0.001f64.sqrt() * g.abs() + 1e-7;
        *e = w - 0.1 * g * alpha_1 / root - 0.09 * g * alpha_2 / root;
    }
    let (f64_result, names) = run(&adam, DType::F64);
    assert_eq!(names, ["momentum", "velocity", "velocity_hat"]);
    assert_close(&f64_result, &expected, F64_TOLERANCE);
    assert_close(&run(&adam, DType::F32).0, &expected, F32_TOLERANCE);
    // Plain Adam divides by the smaller velocity: a larger step.
    let plain = run(&Optimizer::from(Adam::default()), DType::F64).0;
    assert!((plain[0] - expected[0]).abs() > 1e-7, "{plain:?} vs {expected:?}");
}

#[test]
fn nadam() {
    // u_t = 0.9 (1 - 0.5 * 0.96^t): u_1 = 0.468, u_2 = 0.48528, u_3 = 0.5018688.
    // Step 1: u_product = u_1 = 0.468, next = 0.468 * 0.48528 = 0.22711104;
    //   m = 0.1 g, v = 0.001 g^2; m_hat = 0.48528 * 0.1 g / (1 - 0.22711104) + (1 - 0.468) g /
    //   (1 - 0.468) = 1.06278780... g; v_hat = 0.001 g^2 / (1 - 0.999) = g^2;
    //   w -= 0.001 m_hat / (|g| + 1e-7).
    // Step 2: u_product = 0.22711104, next = 0.22711104 * 0.5018688 = 0.11397994511...;
    //   m = 0.19 g, v = 0.001999 g^2; m_hat = (0.5018688 * 0.19 / 0.88602005... + 0.51472 /
    //   0.77288896) g = 0.77359068... g; v_hat = 0.001999 g^2 / (1 - 0.998001) = g^2;
    //   w -= 0.001 m_hat / (|g| + 1e-7).
    //   g = 0.1: w = 1 - 0.001 (1.0627878 + 0.7735907) * 0.1 / 0.1000001 = 0.99816362...
    check(Nadam::default(), 2, [0.9981636233479607, -1.998163622429773, 2.9981636221237102]);
}

#[test]
fn learning_rate_is_readable_and_settable_between_steps() {
    let mut sgd = Optimizer::from(Sgd::default());
    assert_eq!(sgd.learning_rate(), 0.01);
    let w = tensor(&PARAM, &[3]);
    let g = tensor(&GRAD, &[3]);
    let mut state = sgd.state_for(&w).unwrap();
    sgd.step(&w, &g, &mut state, 1).unwrap();
    sgd.set_learning_rate(0.1).unwrap();
    assert_eq!(sgd.learning_rate(), 0.1);
    sgd.step(&w, &g, &mut state, 2).unwrap();
    // w - 0.01 g - 0.1 g
    assert_close(&w.to_vec_f64().unwrap(), &[0.989, -1.978, 2.967], F64_TOLERANCE);
    assert!(sgd.set_learning_rate(-1.0).is_err());
    assert!(sgd.set_learning_rate(f64::NAN).is_err());
    assert_eq!(sgd.learning_rate(), 0.1);
}

#[test]
fn state_tensors_carry_keras_names() {
    let w = tensor(&PARAM, &[3]);
    let names = |o: Optimizer| -> Vec<&'static str> {
        o.state_for(&w).unwrap().tensors().into_iter().map(|(name, _)| name).collect()
    };
    assert!(names(Sgd::default().into()).is_empty());
    assert_eq!(names(Sgd { momentum: 0.5, ..Sgd::default() }.into()), ["momentum"]);
    assert_eq!(names(RmsProp::default().into()), ["velocity"]);
    assert_eq!(
        names(RmsProp { momentum: 0.5, centered: true, ..RmsProp::default() }.into()),
        ["velocity", "momentum", "average_gradient"]
    );
    assert_eq!(names(Adagrad::default().into()), ["accumulator"]);
    assert_eq!(names(Adadelta::default().into()), ["accumulated_grad", "accumulated_delta_var"]);
    assert_eq!(names(Adam::default().into()), ["momentum", "velocity"]);
    assert_eq!(names(Nadam::default().into()), ["momentum", "velocity"]);
    let adagrad = Optimizer::from(Adagrad::default()).state_for(&w).unwrap();
    assert_close(&adagrad.tensors()[0].1.to_vec_f64().unwrap(), &[0.1; 3], 0.0);
}

#[test]
fn updates_are_not_recorded() {
    let tape = Tape::new();
    let w = tape.watch(&tensor(&PARAM, &[3]));
    let loss = w.square().unwrap().sum_all().unwrap();
    let records = tape.len();
    let adam = Optimizer::from(Adam::default());
    let mut state = adam.state_for(&w).unwrap();
    adam.step(&w, &tensor(&GRAD, &[3]), &mut state, 1).unwrap();
    assert_eq!(tape.len(), records);
    assert!(tape.backward(&loss).is_ok());
}

/// Asserts `result` failed with an error whose message contains every one of `needles`.
fn assert_error(result: tessera::Result<()>, needles: &[&str]) {
    let message = result.expect_err("expected an error").to_string();
    for needle in needles {
        assert!(message.contains(needle), "error {message:?} does not mention {needle:?}");
    }
}

#[test]
fn mismatched_operands_are_errors() {
    let adam = Optimizer::from(Adam::default());
    let w = tensor(&PARAM, &[3]);
    let g = tensor(&GRAD, &[3]);
    let mut state = adam.state_for(&w).unwrap();
    assert_error(adam.step(&w, &tensor(&[0.1, 0.2], &[2]), &mut state, 1), &["adam", "(3,)", "(2,)"]);
    assert_error(adam.step(&w, &g.to_dtype(DType::F32).unwrap(), &mut state, 1), &["adam", "f64", "f32"]);
    // A state made for another parameter.
    let other = tensor(&[1.0; 4], &[2, 2]);
    assert_error(adam.step(&other, &tensor(&[0.0; 4], &[2, 2]), &mut state, 1), &["state", "(3,)", "(2, 2)"]);
    let w32 = w.to_dtype(DType::F32).unwrap();
    assert_error(adam.step(&w32, &g.to_dtype(DType::F32).unwrap(), &mut state, 1), &["state", "f64", "f32"]);
    // A state made by another optimizer, or with other settings.
    let sgd = Optimizer::from(Sgd { momentum: 0.9, ..Sgd::default() });
    assert_error(sgd.step(&w, &g, &mut state, 1), &["sgd", "made by adam"]);
    let mut plain_state = Optimizer::from(Sgd::default()).state_for(&w).unwrap();
    assert_error(
        sgd.step(&w, &g, &mut plain_state, 1),
        &["sgd", "slots []", "momentum 0.9", "[\"momentum\"]", "state_for"],
    );
    let rmsprop = Optimizer::from(RmsProp { centered: true, ..RmsProp::default() });
    let mut rms_state = Optimizer::from(RmsProp::default()).state_for(&w).unwrap();
    assert_error(
        rmsprop.step(&w, &g, &mut rms_state, 1),
        &["rmsprop", "centered true", "average_gradient", "state_for"],
    );
    assert_error(adam.step(&w, &g, &mut state, 0), &["iteration", "from 1"]);
    // The parameter is unchanged by every refused step.
    assert_eq!(w.to_vec_f64().unwrap(), PARAM);
}

#[test]
fn aliasing_is_refused_rather_than_deadlocking() {
    let adam = Optimizer::from(Adam::default());
    let w = tensor(&PARAM, &[3]);
    let mut state = adam.state_for(&w).unwrap();
    assert_error(adam.step(&w, &w, &mut state, 1), &["adam", "share storage"]);
    let momentum = state.tensors()[0].1.clone();
    assert_error(adam.step(&momentum, &tensor(&GRAD, &[3]), &mut state, 1), &["share storage"]);
    assert_error(adam.step(&w, &momentum.reshape([3]).unwrap(), &mut state, 1), &["share storage"]);
}

#[test]
fn hyper_parameters_out_of_range_are_errors() {
    let w = tensor(&PARAM, &[3]);
    let bad: [(Optimizer, &str); 8] = [
        (Sgd { learning_rate: -0.1, ..Sgd::default() }.into(), "learning_rate"),
        (Sgd { momentum: 1.5, ..Sgd::default() }.into(), "momentum"),
        (RmsProp { rho: f64::NAN, ..RmsProp::default() }.into(), "rho"),
        (
            Adagrad { initial_accumulator_value: -1.0, ..Adagrad::default() }.into(),
            "initial_accumulator_value",
        ),
        (Adadelta { epsilon: -1e-7, ..Adadelta::default() }.into(), "epsilon"),
        (Adam { beta_1: 1.0, ..Adam::default() }.into(), "beta_1"),
        (Adam { learning_rate: f64::INFINITY, ..Adam::default() }.into(), "learning_rate"),
        (Nadam { beta_2: -0.5, ..Nadam::default() }.into(), "beta_2"),
    ];
    for (optimizer, name) in bad {
        assert_error(optimizer.state_for(&w).map(|_| ()), &[optimizer.name(), name]);
    }
}

#[test]
fn f32_state_lives_with_an_f32_parameter() {
    let w = Tensor::from_vec(vec![1.0f32, -2.0, 3.0], [3], &Device::Cpu).unwrap();
    let state = Optimizer::from(Nadam::default()).state_for(&w).unwrap();
    for (name, t) in state.tensors() {
        assert_eq!((t.dtype(), t.dims()), (DType::F32, &[3][..]), "slot {name}");
    }
}
