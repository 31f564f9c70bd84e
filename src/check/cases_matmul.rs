//! Cases for matrix products: sizes that are not multiples of the 64x64 tile or the 16-deep
//! k-slice, every transpose combination, batches and a shared right-hand side.

use super::{Case, REDUCTION_TOLERANCE, input};

pub(super) fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for (i, &(m, k, n)) in [(1, 1, 1), (7, 13, 5), (65, 17, 129), (130, 70, 3)].iter().enumerate() {
        for (j, &(ta, tb)) in [(false, false), (true, false), (false, true), (true, true)].iter().enumerate()
        {
            let a = if ta { [k, m] } else { [m, k] };
            let b = if tb { [n, k] } else { [k, n] };
            let seed = 600 + 10 * i as u64 + j as u64;
            let inputs = vec![input(&a, -1.0, 1.0, seed), input(&b, -1.0, 1.0, seed + 5)];
            cases.push(Case::new("matmul", REDUCTION_TOLERANCE, inputs, move |x| {
                x[0].matmul_t(&x[1], ta, tb)
            }));
        }
    }
    // A weight-gradient shape (Aᵀ·B, small output, deep k): split along k, with a remainder slice.
    cases.push(Case::new(
        "matmul split-k",
        REDUCTION_TOLERANCE,
        vec![input(&[5000, 9], -1.0, 1.0, 704), input(&[5000, 32], -1.0, 1.0, 705)],
        |x| x[0].matmul_t(&x[1], true, false),
    ));
    cases.push(Case::new(
        "matmul batched",
        REDUCTION_TOLERANCE,
        vec![input(&[3, 9, 33], -1.0, 1.0, 700), input(&[3, 33, 11], -1.0, 1.0, 701)],
        |x| x[0].matmul(&x[1]),
    ));
    cases.push(Case::new(
        "matmul shared rhs",
        REDUCTION_TOLERANCE,
        vec![input(&[2, 5, 3, 17], -1.0, 1.0, 702), input(&[17, 6], -1.0, 1.0, 703)],
        |x| x[0].matmul(&x[1]),
    ));
    cases
}
