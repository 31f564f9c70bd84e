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
