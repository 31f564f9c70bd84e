//! The fused recurrent cell steps, `lstm_cell` and `gru_cell`: gradient checks in f64 (central
//! differences) for every pairing of the activations the layers use, known answers worked by
//! hand, and the errors shapes give.

mod common;

use common::{assert_close, rand, rand_in, tensor};
use tessera::tensor_core::{Activation, gradcheck};

/// Bound on the max relative error. The cells are smooth where checked (sigmoid, tanh, linear,
/// and relu away from its kink: inputs are drawn away from 0 for it), so only round-off remains:
/// ~1e-14 over 2 * STEP per output, ~1e-9 absolute, under 1e-6 against the 1e-3 floor of
/// small gradients. A wrong rule errs by O(1).
const BOUND: f64 = 1e-6;

/// (rows, units): a single unit, rows and units of odd sizes, more rows than units and fewer.
const SIZES: &[(usize, usize)] = &[(1, 1), (3, 5), (7, 2), (2, 9)];

/// (activation, recurrent_activation) pairs: Keras's default, then others a layer may ask for.
const PAIRS: &[(Activation, Activation)] = &[
    (Activation::Tanh, Activation::Sigmoid),
    (Activation::Identity, Activation::Tanh),
    (Activation::Sigmoid, Activation::Sigmoid),
    (Activation::Tanh, Activation::Relu),
];

/// Pre-activations for `shape`, kept 0.1 away from 0 so that relu's kink is never straddled.
fn away_from_zero(shape: &[usize], seed: u64) -> tessera::Tensor {
    let x = rand_in(shape, 0.1, 1.5, seed);
    let sign = rand(shape, seed + 1).sign().unwrap();
    x.mul(&sign).unwrap()
}

#[test]
fn lstm_cell_gradients() {
    for (k, &(rows, units)) in SIZES.iter().enumerate() {
        for &(activation, recurrent) in PAIRS {
            let seed = 10 * k as u64;
            let gates = away_from_zero(&[rows, 4 * units], seed);
            let c_prev = rand(&[rows, units], seed + 3);
            let name = format!("lstm_cell ({rows}, {units}) {activation:?}/{recurrent:?}");
            gradcheck::check(&name, &[&gates, &c_prev], |x| x[0].lstm_cell(&x[1], activation, recurrent))
                .unwrap()
                .assert_within(BOUND);
        }
    }
}

#[test]
fn gru_cell_gradients() {
    for (k, &(rows, units)) in SIZES.iter().enumerate() {
        for &(activation, recurrent) in PAIRS {
            let seed = 10 * k as u64 + 5;
            // x and inner are summed before the gates: draw their sums away from zero too.
            let x = away_from_zero(&[rows, 3 * units], seed);
            let inner = rand_in(&[rows, 3 * units], 0.0, 0.05, seed + 2).mul(&x.sign().unwrap()).unwrap();
            let h_prev = rand(&[rows, units], seed + 3);
            for reset_after in [true, false] {
                let name = format!(
                    "gru_cell ({rows}, {units}) {activation:?}/{recurrent:?} reset_after {reset_after}"
                );
                gradcheck::check(&name, &[&x, &inner, &h_prev], |v| {
                    v[0].gru_cell(&v[1], &v[2], activation, recurrent, reset_after)
                })
                .unwrap()
                .assert_within(BOUND);
            }
        }
    }
}

/// One row, one unit, worked by hand. LSTM with every pre-activation 0 and c_prev = 1: every
/// gate is sigmoid(0) = 0.5 and the candidate tanh(0) = 0, so c = 0.5 * 1 + 0.5 * 0 = 0.5 and
/// h = 0.5 * tanh(0.5) = 0.23105857863000487. With pre-activations (ln 3, -ln 3, 0.5, 0) and
/// c_prev = 2: i = 0.75, f = 0.25, c = 0.25 * 2 + 0.75 * tanh(0.5) = 0.8465878679450073,
/// h = 0.5 * tanh(c) = 0.3446413436372657.
#[test]
fn lstm_cell_known_answers() {
    let zeros = tensor(&[0.0; 4], &[1, 4]);
    let out = zeros.lstm_cell(&tensor(&[1.0], &[1, 1]), Activation::Tanh, Activation::Sigmoid).unwrap();
    assert_close(&out.to_vec_f64().unwrap(), &[0.23105857863000487, 0.5], 1e-15);
    let ln3 = 3f64.ln();
    let gates = tensor(&[ln3, -ln3, 0.5, 0.0], &[1, 4]);
    let out = gates.lstm_cell(&tensor(&[2.0], &[1, 1]), Activation::Tanh, Activation::Sigmoid).unwrap();
    assert_close(&out.to_vec_f64().unwrap(), &[0.3446413436372657, 0.8465878679450073], 1e-12);
}

/// GRU by hand: x = (ln 3, 0, 0.2), inner = (0, ln 3, 0.4), h_prev = -1. z = sigmoid(ln 3) =
/// 0.75, r = 0.75, candidate = tanh(0.2 + 0.75 * 0.4) = tanh(0.5) = 0.46211715726000974, and
/// h = 0.75 * -1 + 0.25 * 0.46211715726000974 = -0.6344707106849976. Without `reset_after` the
/// candidate is tanh(0.2 + 0.4) = tanh(0.6) = 0.5370495669980353 and
/// h = -0.75 + 0.25 * 0.5370495669980353 = -0.6157376082504912.
#[test]
fn gru_cell_known_answer() {
    let ln3 = 3f64.ln();
    let x = tensor(&[ln3, 0.0, 0.2], &[1, 3]);
    let inner = tensor(&[0.0, ln3, 0.4], &[1, 3]);
    let h_prev = tensor(&[-1.0], &[1, 1]);
    let out = x.gru_cell(&inner, &h_prev, Activation::Tanh, Activation::Sigmoid, true).unwrap();
    assert_close(&out.to_vec_f64().unwrap(), &[-0.6344707106849976], 1e-12);
    let out = x.gru_cell(&inner, &h_prev, Activation::Tanh, Activation::Sigmoid, false).unwrap();
    assert_close(&out.to_vec_f64().unwrap(), &[-0.6157376082504912], 1e-12);
}

#[test]
fn mismatched_shapes_are_errors_naming_the_op_and_the_shapes() {
    let error =
        rand(&[2, 7], 1).lstm_cell(&rand(&[2, 2], 2), Activation::Tanh, Activation::Sigmoid).unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("lstm_cell") && message.contains("(2, 7)") && message.contains("4 * units"),
        "{message}"
    );
    let error = rand(&[3, 6], 1)
        .gru_cell(&rand(&[3, 6], 2), &rand(&[2, 2], 3), Activation::Tanh, Activation::Sigmoid, true)
        .unwrap_err();
    let message = error.to_string();
    assert!(message.contains("gru_cell") && message.contains("3 * units"), "{message}");
    let error = rand(&[3, 6], 1)
        .gru_cell(&rand(&[3, 3], 2), &rand(&[3, 2], 3), Activation::Tanh, Activation::Sigmoid, true)
        .unwrap_err();
    let message = error.to_string();
    assert!(message.contains("gru_cell") && message.contains("state's projection"), "{message}");
}
