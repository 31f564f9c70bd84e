//! Gradient checks (f64, central differences) for conv2d and for im2col / col2im.

mod common;

use common::rand;
use tessera::tensor_core::Padding::{self, Same, Valid};
use tessera::tensor_core::{Conv2dGeometry, gradcheck};

/// Bound on the max relative error of a gradient check. A convolution is linear in the image
/// and in the kernel, so central differences err only by round-off (about 1e-10 absolute, up to
/// ~1e-7 against the 1e-3 floor of small gradients); a wrong rule errs by O(1).
const BOUND: f64 = 1e-6;

/// One convolution to check: an NHWC batch, a (KH, KW, C, F) kernel, strides and padding.
struct Case {
    batch: usize,
    image: (usize, usize),
    channels: usize,
    filters: usize,
    kernel: (usize, usize),
    strides: (usize, usize),
    padding: Padding,
}

impl Case {
    const fn new(
        batch: usize,
        image: (usize, usize),
        channels: usize,
        filters: usize,
        kernel: (usize, usize),
        strides: (usize, usize),
        padding: Padding,
    ) -> Case {
        Case { batch, image, channels, filters, kernel, strides, padding }
    }

    fn input_dims(&self) -> [usize; 4] {
        [self.batch, self.image.0, self.image.1, self.channels]
    }

    fn kernel_dims(&self) -> [usize; 4] {
        [self.kernel.0, self.kernel.1, self.channels, self.filters]
    }

    fn geometry(&self) -> Conv2dGeometry {
        Conv2dGeometry::new(
            [self.image.0, self.image.1, self.channels],
            self.kernel,
            self.strides,
            self.padding,
        )
        .unwrap()
    }

    fn name(&self, op: &str) -> String {
        format!(
            "{op} input {:?} kernel {:?} strides {:?} {:?}",
            self.input_dims(),
            self.kernel_dims(),
            self.strides,
            self.padding
        )
    }
}

/// Batches of 1 and 2; images 1x1 to 13x13, square and not; 1 and 3 channels; 1, 2 and 4
/// filters; square and non-square kernels, one larger than its image (with `same`); strides 1,
/// 2 and (2, 1). Small enough that the file runs in well under a second in release.
const CASES: &[Case] = &[
    Case::new(1, (1, 1), 1, 1, (1, 1), (1, 1), Valid),
    Case::new(2, (1, 1), 3, 2, (3, 3), (1, 1), Same),
    Case::new(2, (3, 3), 3, 2, (2, 2), (1, 1), Same),
    Case::new(1, (3, 3), 1, 4, (3, 3), (2, 2), Valid),
    Case::new(1, (7, 5), 1, 4, (3, 3), (2, 2), Same),
    Case::new(2, (7, 5), 3, 1, (3, 2), (2, 1), Valid),
    Case::new(1, (7, 5), 3, 2, (2, 2), (2, 2), Same),
    Case::new(2, (7, 5), 1, 2, (1, 1), (2, 1), Same),
    Case::new(1, (13, 13), 1, 2, (3, 3), (2, 2), Valid),
    Case::new(1, (13, 13), 3, 1, (3, 2), (1, 1), Same),
];

#[test]
fn conv2d_gradients() {
    for (i, case) in CASES.iter().enumerate() {
        let x = rand(&case.input_dims(), 2 * i as u64);
        let kernel = rand(&case.kernel_dims(), 2 * i as u64 + 1);
        gradcheck::check(&case.name("conv2d"), &[&x, &kernel], |t| {
            t[0].conv2d(&t[1], case.strides, case.padding)
        })
        .unwrap()
        .assert_within(BOUND);
    }
}

#[test]
fn conv2d_gradient_of_the_input_alone_and_the_kernel_alone() {
    // Each input's rule must hold when the other one needs no gradient.
    let case = &CASES[6];
    let x = rand(&case.input_dims(), 100);
    let kernel = rand(&case.kernel_dims(), 101);
    gradcheck::check(&case.name("conv2d dx"), &[&x], |t| t[0].conv2d(&kernel, case.strides, case.padding))
        .unwrap()
        .assert_within(BOUND);
    gradcheck::check(&case.name("conv2d dW"), &[&kernel], |t| x.conv2d(&t[0], case.strides, case.padding))
        .unwrap()
        .assert_within(BOUND);
}

#[test]
fn im2col_and_col2im_gradients() {
    for (i, case) in CASES.iter().enumerate() {
        let g = case.geometry();
        let x = rand(&case.input_dims(), 200 + i as u64);
        gradcheck::check(&case.name("im2col"), &[&x], |t| t[0].im2col(&g)).unwrap().assert_within(BOUND);
        let (oh, ow) = g.output_size();
        let patch = case.kernel.0 * case.kernel.1 * case.channels;
        let cols = rand(&[case.batch * oh * ow, patch], 300 + i as u64);
        gradcheck::check(&case.name("col2im"), &[&cols], |t| t[0].col2im(&g)).unwrap().assert_within(BOUND);
    }
}

/// The transposed convolutions of the cases: each case's output images, its kernel (read as
/// Keras's Conv2DTranspose (KH, KW, F, C) kernel that maps them back to the case's images).
#[test]
fn conv2d_transpose_gradients() {
    for (i, case) in CASES.iter().enumerate() {
        let (oh, ow) = case.geometry().output_size();
        let y = rand(&[case.batch, oh, ow, case.filters], 400 + i as u64);
        let kernel = rand(&case.kernel_dims(), 401 + i as u64);
        gradcheck::check(&case.name("conv2d_transpose"), &[&y, &kernel], |t| {
            t[0].conv2d_transpose(&t[1], case.strides, case.padding)
        })
        .unwrap()
        .assert_within(BOUND);
    }
}

/// The transposed convolution is the adjoint of the convolution with the same kernel:
/// `sum(conv2d(x, K) * y) == sum(x * conv2d_transpose(y, K))` wherever the transposed output
/// has the convolution's input size (Keras's output size; within 1e-12, round-off of sums of
/// at most a few hundred products of O(1)).
#[test]
fn conv2d_transpose_is_the_adjoint_of_conv2d() {
    use tessera::tensor_core::Conv2dGeometry;
    for (i, case) in CASES.iter().enumerate() {
        let (oh, ow) = case.geometry().output_size();
        let g = Conv2dGeometry::transposed([oh, ow], case.channels, case.kernel, case.strides, case.padding)
            .unwrap();
        if g.input_size() != case.image {
            continue;
        }
        let x = rand(&case.input_dims(), 500 + i as u64);
        let y = rand(&[case.batch, oh, ow, case.filters], 501 + i as u64);
        let kernel = rand(&case.kernel_dims(), 502 + i as u64);
        let forward =
            x.conv2d(&kernel, case.strides, case.padding).unwrap().mul(&y).unwrap().sum_all().unwrap();
        let back = y.conv2d_transpose(&kernel, case.strides, case.padding).unwrap();
        assert_eq!(back.dims(), x.dims(), "{}", case.name("conv2d_transpose"));
        let adjoint = back.mul(&x).unwrap().sum_all().unwrap();
        let (a, b) = (forward.item().unwrap(), adjoint.item().unwrap());
        assert!((a - b).abs() <= 1e-12, "{}: {a} vs {b}", case.name("conv2d_transpose"));
    }
}

/// Known answers by hand, and Keras's output sizes (`keras/src/ops/operation_utils.py`,
/// `compute_conv_transpose_output_shape`: `n * stride + max(kernel - stride, 0)` for `valid`,
/// `n * stride` for `same`).
#[test]
fn conv2d_transpose_known_answers() {
    use common::{assert_close, tensor};
    // One pixel of value 2 spreads the 2x2 kernel over a 2x2 output.
    let kernel = tensor(&[1.0, 2.0, 3.0, 4.0], &[2, 2, 1, 1]);
    let out = tensor(&[2.0], &[1, 1, 1, 1]).conv2d_transpose(&kernel, (1, 1), Valid).unwrap();
    assert_eq!(out.dims(), [1, 2, 2, 1]);
    assert_close(&out.to_vec_f64().unwrap(), &[2.0, 4.0, 6.0, 8.0], 0.0);
    // A 1x1 kernel with stride 2 places each pixel at the top left of its 2x2 cell: 2 * 2 + 0.
    let one = tensor(&[3.0], &[1, 1, 1, 1]);
    let out = tensor(&[1.0, 2.0, 3.0, 4.0], &[1, 2, 2, 1]).conv2d_transpose(&one, (2, 2), Valid).unwrap();
    assert_eq!(out.dims(), [1, 4, 4, 1]);
    let expected = [3.0, 0.0, 6.0, 0.0, 0.0, 0.0, 0.0, 0.0, 9.0, 0.0, 12.0, 0.0, 0.0, 0.0, 0.0, 0.0];
    assert_close(&out.to_vec_f64().unwrap(), &expected, 0.0);
    // Overlapping windows add: two pixels of 1 under a 1x3 kernel of ones, 2 columns apart,
    // over 2 * 2 + (3 - 2) = 5 columns.
    let ones = tensor(&[1.0; 3], &[1, 3, 1, 1]);
    let out = tensor(&[1.0, 1.0], &[1, 1, 2, 1]).conv2d_transpose(&ones, (1, 2), Valid).unwrap();
    assert_eq!(out.dims(), [1, 1, 5, 1]);
    assert_close(&out.to_vec_f64().unwrap(), &[1.0, 1.0, 2.0, 1.0, 1.0], 0.0);
    for (n, k, s, padding, expected) in [
        (5, 3, 2, Valid, 11),
        (5, 3, 2, Same, 10),
        (3, 1, 2, Valid, 6),
        (4, 4, 1, Valid, 7),
        (4, 2, 3, Same, 12),
    ] {
        let g = tessera::tensor_core::Conv2dGeometry::transposed([n, 1], 2, (k, 1), (s, 1), padding).unwrap();
        assert_eq!(g.input_size(), (expected, 1), "n {n} kernel {k} stride {s} {padding:?}");
    }
}

#[test]
fn conv2d_transpose_errors_name_the_op_and_the_shapes() {
    let message = rand(&[1, 3, 3, 2], 1)
        .conv2d_transpose(&rand(&[2, 2, 4, 3], 2), (1, 1), Valid)
        .unwrap_err()
        .to_string();
    assert!(message.contains("conv2d_transpose") && message.contains("3 input channels"), "{message}");
    let message =
        rand(&[3, 3, 2], 1).conv2d_transpose(&rand(&[2, 2, 4, 2], 2), (1, 1), Valid).unwrap_err().to_string();
    assert!(message.contains("conv2d_transpose") && message.contains("rank 4"), "{message}");
}
