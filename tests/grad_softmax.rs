//! Softmax and log-softmax: gradient checks (f64, central differences), known answers, stability
//! for huge inputs, and errors.

mod common;

use common::{assert_close, rand_in, tensor};
use tessera::tensor_core::gradcheck;
use tessera::{DType, Device, Tensor};

/// Bound on the max relative error. The O(STEP^2) truncation error is ~1e-12 for these smooth
/// functions, so round-off dominates: summing up to ~180 weighted outputs costs ~1e-14 over
/// 2 * STEP, ~1e-8 absolute, up to 1e-5 relative against the 1e-3 floor (observed worst: 6e-7).
/// A wrong rule errs by order 1.
const BOUND: f64 = 1e-5;

/// Tolerance of the known-answer tests: the reference values are given to 8 significant digits.
const KNOWN_ANSWER_TOL: f64 = 1e-7;

/// softmax([1, 2, 3]), to 8 significant digits.
const SOFTMAX_123: [f64; 3] = [0.09003057, 0.24472847, 0.66524096];

const SHAPES: &[&[usize]] = &[&[1], &[3, 7], &[13, 1, 3], &[2, 7, 13]];

#[test]
fn gradients_along_every_axis() {
    for (i, shape) in SHAPES.iter().enumerate() {
        let x = rand_in(shape, -3.0, 3.0, 100 + i as u64);
        for axis in [0isize, 1, -1] {
            if axis >= shape.len() as isize {
                continue;
            }
            let name = format!("{shape:?} axis {axis}");
            gradcheck::check(&format!("softmax {name}"), &[&x], |x| x[0].softmax(axis))
                .unwrap()
                .assert_within(BOUND);
            gradcheck::check(&format!("log_softmax {name}"), &[&x], |x| x[0].log_softmax(axis))
                .unwrap()
                .assert_within(BOUND);
        }
    }
}

#[test]
fn gradients_with_large_logits() {
    let x = rand_in(&[3, 7], 50.0, 60.0, 7);
    gradcheck::check("softmax large", &[&x], |x| x[0].softmax(-1)).unwrap().assert_within(BOUND);
    gradcheck::check("log_softmax large", &[&x], |x| x[0].log_softmax(-1)).unwrap().assert_within(BOUND);
}

#[test]
fn softmax_known_answer() {
    let y = tensor(&[1.0, 2.0, 3.0], &[3]).softmax(0).unwrap();
    assert_close(&y.to_vec::<f64>().unwrap(), &SOFTMAX_123, KNOWN_ANSWER_TOL);
    let log = tensor(&[1.0, 2.0, 3.0], &[3]).log_softmax(-1).unwrap();
    let expected: Vec<f64> = SOFTMAX_123.iter().map(|p| p.ln()).collect();
    // ln has slope 1/p there, at most about 11, which scales the reference's rounding.
    assert_close(&log.to_vec::<f64>().unwrap(), &expected, 11.0 * KNOWN_ANSWER_TOL);
}

#[test]
fn huge_inputs_stay_finite() {
    let y = tensor(&[1000.0, 1001.0, 1002.0], &[3]).softmax(0).unwrap().to_vec::<f64>().unwrap();
    assert!(y.iter().all(|v| v.is_finite()), "{y:?}");
    assert_close(&y, &SOFTMAX_123, KNOWN_ANSWER_TOL);

    let log = tensor(&[1000.0, 1001.0, 1002.0], &[3]).log_softmax(0).unwrap().to_vec::<f64>().unwrap();
    let reference = tensor(&[1.0, 2.0, 3.0], &[3]).log_softmax(0).unwrap().to_vec::<f64>().unwrap();
    assert_close(&log, &reference, 1e-12);

    let x32 =
        Tensor::from_vec(vec![1000.0f32, 1001.0, 1002.0, -1e30, 0.0, 1e30], [2, 3], &Device::Cpu).unwrap();
    let y32 = x32.softmax(1).unwrap().to_vec::<f32>().unwrap();
    assert!(y32.iter().all(|v| v.is_finite()), "{y32:?}");
    let y32: Vec<f64> = y32.iter().map(|&v| v as f64).collect();
    assert_close(&y32[..3], &SOFTMAX_123, 1e-6);
    assert_close(&y32[3..], &[0.0, 0.0, 1.0], 0.0);
    let log32 = x32.log_softmax(1).unwrap().to_vec::<f32>().unwrap();
    assert!(log32.iter().all(|v| v.is_finite()), "{log32:?}");
}

#[test]
fn softmax_sums_to_one_along_its_axis_only() {
    let x = rand_in(&[2, 7, 13], -3.0, 3.0, 5);
    for axis in [0isize, 1, 2] {
        let sums = x.softmax(axis).unwrap().sum(&[axis], false).unwrap().to_vec::<f64>().unwrap();
        assert_close(&sums, &vec![1.0; sums.len()], 1e-12);
        let log_sums = x.log_softmax(axis).unwrap().exp().unwrap().sum(&[axis], false).unwrap();
        assert_close(&log_sums.to_vec::<f64>().unwrap(), &vec![1.0; sums.len()], 1e-12);
    }
}

#[test]
fn bad_axis_is_an_error_naming_the_op() {
    let x = rand_in(&[3, 7], -1.0, 1.0, 1);
    let message = x.softmax(2).unwrap_err().to_string();
    assert!(message.contains("softmax"), "{message}");
    let message = x.log_softmax(-3).unwrap_err().to_string();
    assert!(message.contains("log_softmax"), "{message}");
    let scalar = Tensor::scalar(1.0, DType::F64, &Device::Cpu).unwrap();
    assert!(scalar.softmax(0).unwrap_err().to_string().contains("softmax"));
}
