//! The single neuron from the notes, by hand: a weighted sum, then ReLU, without and with a bias.

mod common;

use common::{assert_close, tensor};

/// Exact up to the rounding of -0.55 and 0.1 in binary.
const TOLERANCE: f64 = 1e-15;

#[test]
fn weighted_sum_then_relu() {
    // Inputs [1, 2] and weights [-0.55, 0.1]: 1 * -0.55 + 2 * 0.1 = -0.35, and relu(-0.35) = 0.
    let inputs = tensor(&[1.0, 2.0], &[1, 2]);
    let weights = tensor(&[-0.55, 0.1], &[2, 1]);
    let sum = inputs.matmul(&weights).unwrap();
    assert_close(&sum.to_vec_f64().unwrap(), &[-0.35], TOLERANCE);
    assert_close(&sum.relu().unwrap().to_vec_f64().unwrap(), &[0.0], 0.0);

    // A bias of 1 moves the sum to 0.65, which ReLU passes unchanged: the neuron now fires.
    let biased = sum.add(&tensor(&[1.0], &[1])).unwrap();
    assert_close(&biased.to_vec_f64().unwrap(), &[0.65], TOLERANCE);
    assert_close(&biased.relu().unwrap().to_vec_f64().unwrap(), &[0.65], TOLERANCE);
}
