//! Cases for convolution and pooling: im2col and col2im, conv2d, conv2d_transpose (the same
//! geometries run backwards), depthwise_conv2d and the pooling ops over images
//! of 1x1, 7x5 and 13x13 pixels, `valid` and `same` padding, square and unequal windows and
//! strides, batches of 1 and 3. Matrix sizes are not multiples of the matmul tile.

use super::{Case, ELEMENTWISE_TOLERANCE, REDUCTION_TOLERANCE, input};
use tensor_core::Padding::{Same, Valid};
use tensor_core::{Conv2dGeometry, Device, Padding, Tensor};

/// One convolution: batch, image (height, width), channels, filters, kernel (height, width),
/// strides and padding.
type Conv = (usize, (usize, usize), usize, usize, (usize, usize), (usize, usize), Padding);

const CONVOLUTIONS: &[Conv] = &[
    (1, (1, 1), 3, 2, (1, 1), (1, 1), Valid),
    (1, (1, 1), 1, 5, (3, 3), (1, 1), Same),
    (3, (7, 5), 3, 2, (3, 3), (1, 1), Valid),
    (3, (7, 5), 4, 5, (3, 2), (2, 1), Same),
    (3, (7, 5), 1, 2, (3, 2), (1, 1), Same),
    (1, (7, 5), 3, 5, (1, 1), (2, 2), Same),
    (3, (13, 13), 1, 1, (5, 5), (2, 2), Same),
    (1, (13, 13), 4, 2, (3, 3), (2, 2), Valid),
    (3, (13, 13), 3, 5, (5, 5), (1, 1), Valid),
    (3, (13, 13), 4, 5, (3, 3), (1, 1), Same),
];

/// One depthwise convolution: batch, image (height, width), channels, kernels per channel,
/// kernel (height, width), strides and padding.
const DEPTHWISE: &[Conv] = &[
    (2, (7, 9), 3, 1, (3, 3), (1, 1), Valid),
    (2, (7, 9), 3, 2, (3, 3), (2, 2), Same),
    (1, (13, 5), 5, 2, (3, 2), (1, 1), Same),
    (3, (13, 5), 5, 1, (5, 5), (2, 2), Valid),
    (1, (1, 1), 3, 2, (3, 3), (1, 1), Same),
    (2, (7, 9), 5, 1, (3, 3), (2, 1), Same),
    // Whole vectors of channels under one kernel each (the four-channel kernels).
    (3, (9, 7), 8, 1, (3, 3), (2, 1), Same),
    (2, (13, 5), 4, 1, (3, 2), (1, 1), Valid),
];

/// One pooling: input shape, window, strides and padding.
type Pool = ([usize; 4], (usize, usize), (usize, usize), Padding);

const POOLINGS: &[Pool] = &[
    ([3, 7, 5, 3], (2, 2), (2, 2), Valid),
    ([1, 13, 13, 4], (2, 2), (2, 2), Valid),
    ([3, 7, 5, 3], (3, 3), (1, 1), Same),
    ([1, 13, 13, 4], (3, 3), (1, 1), Same),
    ([3, 1, 1, 2], (3, 3), (1, 1), Same),
    ([3, 7, 5, 3], (3, 2), (2, 1), Same),
    ([1, 13, 13, 1], (3, 2), (2, 1), Same),
    // Whole vectors of channels (the four-channel kernels) over several images.
    ([3, 9, 7, 8], (3, 2), (2, 1), Same),
    // Windows that do not overlap (the gradient scattered from each output): tiling the
    // images exactly, with padding after, and leaving gaps between windows and rows past the last.
    ([3, 8, 6, 8], (2, 2), (2, 2), Valid),
    ([2, 7, 5, 8], (2, 2), (2, 2), Same),
    ([2, 9, 11, 4], (2, 2), (3, 3), Valid),
];

/// `case` with its window arguments after its input shapes in the table.
fn described(mut case: Case, detail: String) -> Case {
    case.shapes = format!("{} {detail}", case.shapes);
    case
}

pub(super) fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for (i, &(batch, (h, w), c, filters, window, strides, padding)) in CONVOLUTIONS.iter().enumerate() {
        let seed = 800 + 10 * i as u64;
        let x = input(&[batch, h, w, c], -1.0, 1.0, seed);
        let kernel = input(&[window.0, window.1, c, filters], -1.0, 1.0, seed + 1);
        let conv = Case::new("conv2d", REDUCTION_TOLERANCE, vec![x.clone(), kernel.clone()], move |x| {
            x[0].conv2d(&x[1], strides, padding)
        });
        cases.push(described(conv, format!("{strides:?} {padding:?}")));
        let (out_h, out_w) = Conv2dGeometry::new([h, w, c], window, strides, padding)
            .expect("valid case geometry")
            .output_size();
        let images = input(&[batch, out_h, out_w, filters], -1.0, 1.0, seed + 3);
        let transposed = Case::new("conv2d_transpose", REDUCTION_TOLERANCE, vec![images, kernel], move |x| {
            x[0].conv2d_transpose(&x[1], strides, padding)
        });
        cases.push(described(transposed, format!("{strides:?} {padding:?}")));
        // im2col and col2im at every other geometry: they are inside every conv2d case too.
        if i % 2 == 0 {
            let g = Conv2dGeometry::new([h, w, c], window, strides, padding).expect("valid case geometry");
            let (out_h, out_w) = g.output_size();
            let cols = input(&[batch * out_h * out_w, window.0 * window.1 * c], -1.0, 1.0, seed + 2);
            let detail = format!("{window:?}/{strides:?} {padding:?}");
            let im2col = Case::new("im2col", REDUCTION_TOLERANCE, vec![x], move |x| x[0].im2col(&g));
            let col2im = Case::new("col2im", REDUCTION_TOLERANCE, vec![cols], move |x| x[0].col2im(&g));
            cases.extend([described(im2col, detail.clone()), described(col2im, detail)]);
        }
    }
    for (i, &(batch, (h, w), c, m, window, strides, padding)) in DEPTHWISE.iter().enumerate() {
        let seed = 860 + 2 * i as u64;
        let inputs = vec![
            input(&[batch, h, w, c], -1.0, 1.0, seed),
            input(&[window.0, window.1, c, m], -1.0, 1.0, seed + 1),
        ];
        let depthwise = Case::new("depthwise_conv2d", REDUCTION_TOLERANCE, inputs, move |x| {
            x[0].depthwise_conv2d(&x[1], strides, padding)
        });
        cases.push(described(depthwise, format!("{strides:?} {padding:?}")));
    }
    for (i, &(dims, window, strides, padding)) in POOLINGS.iter().enumerate() {
        let x = input(&dims, -1.0, 1.0, 900 + i as u64);
        let max = Case::new("max_pool2d", ELEMENTWISE_TOLERANCE, vec![x.clone()], move |x| {
            x[0].max_pool2d(window, strides, padding)
        });
        let avg = Case::new("avg_pool2d", REDUCTION_TOLERANCE, vec![x], move |x| {
            x[0].avg_pool2d(window, strides, padding)
        });
        let detail = format!("{window:?}/{strides:?} {padding:?}");
        cases.extend([described(max, detail.clone()), described(avg, detail)]);
    }
    // Ties go to the first element of the window, and padding never wins even when every pixel
    // is negative; with 2 channels and with whole vectors of them.
    for channels in [2, 8] {
        let ties: Vec<f32> = (0..3 * 7 * 5 * channels).map(|i| (i * 7 % 3) as f32 - 4.0).collect();
        let ties = Tensor::from_vec(ties, [3, 7, 5, channels], &Device::Cpu).expect("valid case input");
        for (window, strides) in [((2, 2), (1, 1)), ((3, 3), (2, 2))] {
            let case = Case::new("max_pool2d ties", ELEMENTWISE_TOLERANCE, vec![ties.clone()], move |x| {
                x[0].max_pool2d(window, strides, Same)
            });
            cases.push(described(case, format!("{window:?}/{strides:?} Same")));
        }
    }
    for dims in [[3, 7, 5, 4], [1, 1, 1, 3], [2, 13, 13, 1]] {
        cases.push(Case::new(
            "global_avg_pool2d",
            REDUCTION_TOLERANCE,
            vec![input(&dims, -1.0, 1.0, 950)],
            |x| x[0].global_avg_pool2d(),
        ));
    }
    cases
}
