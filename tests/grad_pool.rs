//! Gradient checks (f64, central differences) for max, average and global average pooling.

mod common;

use common::rand;
use tessera::tensor_core::Padding::{self, Same, Valid};
use tessera::tensor_core::gradcheck;

/// Bound on the max relative error of a gradient check. Pooling is piecewise linear, and random
/// inputs come within STEP = 1e-6 of a tie with negligible probability, so central differences
/// err only by round-off (about 1e-10 absolute); a wrong rule errs by O(1).
const BOUND: f64 = 1e-6;

/// (batch, height, width, channels, pool, strides, padding).
type Case = (usize, usize, usize, usize, (usize, usize), (usize, usize), Padding);

/// Batches of 1 and 2; images 1x1 to 13x13; 1 and 3 channels; square and non-square windows,
/// overlapping (stride < window) and not; strides 1, 2 and (2, 1); both paddings, including
/// `same` windows that hang over two sides.
const CASES: &[Case] = &[
    (1, 1, 1, 1, (1, 1), (1, 1), Valid),
    (2, 1, 1, 3, (2, 2), (2, 2), Same),
    (2, 3, 3, 3, (2, 2), (1, 1), Same),
    (2, 3, 3, 1, (3, 3), (2, 2), Same),
    (1, 7, 5, 1, (3, 3), (2, 2), Same),
    (2, 7, 5, 3, (3, 2), (2, 1), Valid),
    (1, 7, 5, 3, (2, 2), (2, 2), Same),
    (1, 13, 13, 1, (2, 2), (2, 2), Valid),
    (1, 13, 13, 3, (3, 3), (1, 1), Same),
];

fn for_each_case(op: &str, pool: impl Fn(&tessera::Tensor, Case) -> tessera::Result<tessera::Tensor>) {
    for (i, &case) in CASES.iter().enumerate() {
        let (n, h, w, c, window, strides, padding) = case;
        let x = rand(&[n, h, w, c], 50 + i as u64);
        let name = format!("{op} input {:?} pool {window:?} strides {strides:?} {padding:?}", [n, h, w, c]);
        gradcheck::check(&name, &[&x], |t| pool(&t[0], case)).unwrap().assert_within(BOUND);
    }
}

#[test]
fn max_pool2d_gradients() {
    for_each_case("max_pool2d", |x, (.., window, strides, padding)| x.max_pool2d(window, strides, padding));
}

#[test]
fn avg_pool2d_gradients() {
    for_each_case("avg_pool2d", |x, (.., window, strides, padding)| x.avg_pool2d(window, strides, padding));
}

#[test]
fn global_avg_pool2d_gradients() {
    for (i, dims) in [[1, 1, 1, 1], [2, 3, 3, 3], [1, 7, 5, 1], [2, 13, 13, 3]].iter().enumerate() {
        let x = rand(dims, 80 + i as u64);
        gradcheck::check(&format!("global_avg_pool2d {dims:?}"), &[&x], |t| t[0].global_avg_pool2d())
            .unwrap()
            .assert_within(BOUND);
    }
}
