//! depthwise_conv2d: gradient checks (f64, central differences), agreement with conv2d under a
//! block-diagonal kernel, a known answer by hand, and the errors a wrong kernel gives.

mod common;

use common::{assert_close, rand, tensor};
use tessera::tensor_core::Padding::{self, Same, Valid};
use tessera::tensor_core::{Tensor, gradcheck};

/// Bound on the max relative error of a gradient check. A depthwise convolution is linear in
/// the image and in the kernel, so central differences err only by round-off: the objective
/// sums up to 1,260 outputs, whose rounding (~1e-14) over the 2e-6 of the difference reaches
/// ~1e-8 absolute, 1e-5 against the 1e-3 floor of small gradients (1.3e-6 seen). A wrong rule
/// errs by O(1).
const BOUND: f64 = 1e-5;

/// One depthwise convolution: batch, image (height, width), channels, kernels per channel,
/// kernel (height, width), strides and padding.
type Case = (usize, (usize, usize), usize, usize, (usize, usize), (usize, usize), Padding);

/// Images of 1x1, 7x9 and 13x5 pixels; 1, 3 and 5 channels; 1 and 2 kernels per channel;
/// square and unequal windows, one larger than its image (with `same`); strides 1, 2 and (2, 1).
const CASES: &[Case] = &[
    (1, (1, 1), 1, 1, (1, 1), (1, 1), Valid),
    (2, (1, 1), 3, 2, (3, 3), (1, 1), Same),
    (2, (7, 9), 3, 1, (3, 3), (1, 1), Valid),
    (1, (7, 9), 3, 2, (3, 3), (2, 2), Same),
    (2, (7, 9), 5, 2, (3, 2), (2, 1), Same),
    (1, (13, 5), 5, 1, (3, 3), (2, 2), Valid),
    (2, (13, 5), 3, 2, (5, 3), (1, 1), Same),
    (1, (13, 5), 1, 2, (2, 2), (2, 2), Same),
];

fn name((batch, (h, w), c, m, window, strides, padding): Case) -> String {
    format!(
        "depthwise_conv2d input [{batch}, {h}, {w}, {c}] kernel {window:?}x{c}x{m} strides {strides:?} {padding:?}"
    )
}

fn inputs((batch, (h, w), c, m, window, _, _): Case, seed: u64) -> (Tensor, Tensor) {
    (rand(&[batch, h, w, c], seed), rand(&[window.0, window.1, c, m], seed + 1))
}

#[test]
fn depthwise_conv2d_gradients() {
    for (i, &case) in CASES.iter().enumerate() {
        let (x, kernel) = inputs(case, 2 * i as u64);
        let (strides, padding) = (case.5, case.6);
        gradcheck::check(&name(case), &[&x, &kernel], |t| t[0].depthwise_conv2d(&t[1], strides, padding))
            .unwrap()
            .assert_within(BOUND);
    }
}

#[test]
fn depthwise_conv2d_gradient_of_the_input_alone_and_the_kernel_alone() {
    // Each input's rule must hold when the other one needs no gradient.
    let case = CASES[4];
    let (x, kernel) = inputs(case, 100);
    let (strides, padding) = (case.5, case.6);
    gradcheck::check(&name(case), &[&x], |t| t[0].depthwise_conv2d(&kernel, strides, padding))
        .unwrap()
        .assert_within(BOUND);
    gradcheck::check(&name(case), &[&kernel], |t| x.depthwise_conv2d(&t[0], strides, padding))
        .unwrap()
        .assert_within(BOUND);
}

/// A depthwise convolution is a full convolution whose (KH, KW, C, C * M) kernel is zero but
/// for input channel c's block of outputs c * M..(c + 1) * M: the same sums, added in a
/// different order, so equal within f64 round-off (1e-12 on sums of at most 15 products of O(1)).
#[test]
fn depthwise_conv2d_is_conv2d_with_a_block_diagonal_kernel() {
    for (i, &case) in CASES.iter().enumerate() {
        let (x, kernel) = inputs(case, 200 + 2 * i as u64);
        let (window, c, m) = (case.4, case.2, case.3);
        let values = kernel.to_vec_f64().unwrap();
        let mut full = vec![0.0; window.0 * window.1 * c * c * m];
        for (at, &v) in values.iter().enumerate() {
            let (tap, j) = (at / (c * m), at % (c * m));
            full[(tap * c + j / m) * c * m + j] = v;
        }
        let full = tensor(&full, &[window.0, window.1, c, c * m]);
        let expected = x.conv2d(&full, case.5, case.6).unwrap();
        let out = x.depthwise_conv2d(&kernel, case.5, case.6).unwrap();
        assert_eq!(out.dims(), expected.dims(), "{}", name(case));
        assert_close(&out.to_vec_f64().unwrap(), &expected.to_vec_f64().unwrap(), 1e-12);
    }
}

/// By hand: a 3x3 image of 1..9 in one channel under a 2x2 kernel of ones (m = 0) and of
/// [[1, 0], [0, -1]] (m = 1), `valid`: window sums and diagonal differences, interleaved.
#[test]
fn depthwise_conv2d_known_answer() {
    let x = tensor(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0], &[1, 3, 3, 1]);
    let kernel = tensor(&[1.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0, -1.0], &[2, 2, 1, 2]);
    let out = x.depthwise_conv2d(&kernel, (1, 1), Valid).unwrap();
    assert_eq!(out.dims(), [1, 2, 2, 2]);
    assert_close(&out.to_vec_f64().unwrap(), &[12.0, -4.0, 16.0, -4.0, 24.0, -4.0, 28.0, -4.0], 0.0);
}

#[test]
fn depthwise_conv2d_refuses_a_kernel_that_does_not_fit_and_names_the_shapes() {
    let x = rand(&[2, 7, 9, 3], 300);
    let error = x.depthwise_conv2d(&rand(&[3, 3, 4, 1], 301), (1, 1), Valid).unwrap_err().to_string();
    assert!(
        error.contains("depthwise_conv2d") && error.contains("4 input channels") && error.contains("has 3"),
        "{error}"
    );
    let error = x.depthwise_conv2d(&rand(&[3, 3, 3], 302), (1, 1), Valid).unwrap_err().to_string();
    assert!(error.contains("depthwise_conv2d") && error.contains("(KH, KW, C, M)"), "{error}");
    let error = x.depthwise_conv2d(&rand(&[3, 3, 3, 0], 303), (1, 1), Valid).unwrap_err().to_string();
    assert!(error.contains("depthwise_conv2d") && error.contains("M = 0"), "{error}");
    let error = rand(&[7, 9, 3], 304).depthwise_conv2d(&rand(&[3, 3, 3, 1], 305), (1, 1), Valid);
    assert!(error.unwrap_err().to_string().contains("rank 4"));
    let error = x.depthwise_conv2d(&rand(&[9, 3, 3, 1], 306), (1, 1), Valid).unwrap_err().to_string();
    assert!(error.contains("depthwise_conv2d") && error.contains("valid"), "{error}");
}
