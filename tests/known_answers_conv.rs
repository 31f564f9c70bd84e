//! Known answers for convolution and pooling: hand-computed results, Keras's output-shape and
//! padding arithmetic, a direct convolution as reference, and the errors users can trigger.

mod common;

use common::{assert_close, rand, tensor};
use tessera::tensor_core::Padding::{self, Same, Valid};
use tessera::tensor_core::{Conv2dGeometry, Tape};
use tessera::{DType, Device, Error, Tensor};

/// Hand-computed values are small integers or halves: exact in f64 up to a few roundings.
const EXACT: f64 = 1e-12;

fn values(t: &Tensor) -> Vec<f64> {
    t.to_vec::<f64>().unwrap()
}

/// A single-channel 4x4 image as an NHWC batch of one.
fn image_4x4(rows: [[f64; 4]; 4]) -> Tensor {
    tensor(rows.as_flattened(), &[1, 4, 4, 1])
}

#[test]
fn conv2d_valid_stride_1_known_answer() {
    let x =
        image_4x4([[1.0, 2.0, 1.0, 0.0], [0.0, 1.0, 2.0, 1.0], [1.0, 2.0, 2.0, 2.0], [2.0, 2.0, 1.0, 0.0]]);
    let kernel = tensor(&[1.0, 0.0, 0.0, -1.0], &[2, 2, 1, 1]);
    let y = x.conv2d(&kernel, (1, 1), Valid).unwrap();
    assert_eq!(y.dims(), &[1, 3, 3, 1]);
    assert_close(&values(&y), &[0.0, 0.0, 0.0, -2.0, -1.0, 0.0, -1.0, 1.0, 2.0], EXACT);
}

/// Keras's output size and (before, after) padding along one axis, written out independently
/// of the library as the reference's own arithmetic.
fn keras_axis(input: usize, window: usize, stride: usize, padding: Padding) -> (usize, usize) {
    match padding {
        Valid => ((input - window) / stride + 1, 0),
        Same => {
            let out = input.div_ceil(stride);
            let total = ((out - 1) * stride + window).saturating_sub(input);
            (out, total / 2)
        }
    }
}

/// Convolution by its definition: every output a sum over the kernel's taps inside the image.
fn direct_conv2d(x: &Tensor, kernel: &Tensor, strides: (usize, usize), padding: Padding) -> Vec<f64> {
    let (xv, kv) = (values(x), values(kernel));
    let &[n, h, w, c] = x.dims() else { unreachable!() };
    let &[kh, kw, _, f] = kernel.dims() else { unreachable!() };
    let (oh, top) = keras_axis(h, kh, strides.0, padding);
    let (ow, left) = keras_axis(w, kw, strides.1, padding);
    let mut out = Vec::new();
    for b in 0..n {
        for oy in 0..oh {
            for ox in 0..ow {
                for fo in 0..f {
                    let mut sum = 0.0;
                    for ky in 0..kh {
                        for kx in 0..kw {
                            let iy = (oy * strides.0 + ky) as isize - top as isize;
                            let ix = (ox * strides.1 + kx) as isize - left as isize;
                            if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                continue;
                            }
                            let (iy, ix) = (iy as usize, ix as usize);
                            for ci in 0..c {
                                sum += xv[((b * h + iy) * w + ix) * c + ci]
                                    * kv[((ky * kw + kx) * c + ci) * f + fo];
                            }
                        }
                    }
                    out.push(sum);
                }
            }
        }
    }
    out
}

/// (input NHWC, kernel (KH, KW, C, F), strides, padding).
type ConvCase = ([usize; 4], [usize; 4], (usize, usize), Padding);

#[test]
fn conv2d_matches_a_direct_convolution() {
    // Even and odd kernels and images, so `same` padding is split evenly in some and leaves an
    // extra bottom/right row in others.
    let cases: &[ConvCase] = &[
        ([1, 3, 3, 1], [2, 2, 1, 1], (1, 1), Same),
        ([2, 7, 5, 3], [3, 3, 3, 4], (2, 2), Same),
        ([2, 6, 6, 2], [3, 3, 2, 2], (2, 2), Same),
        ([1, 7, 5, 3], [3, 2, 3, 2], (2, 1), Valid),
        ([1, 13, 13, 1], [2, 2, 1, 4], (2, 2), Same),
        ([2, 2, 3, 1], [5, 4, 1, 1], (1, 1), Same),
    ];
    for (i, &(input, kernel, strides, padding)) in cases.iter().enumerate() {
        let x = rand(&input, 10 + i as u64);
        let k = rand(&kernel, 20 + i as u64);
        let y = x.conv2d(&k, strides, padding).unwrap();
        assert_close(&values(&y), &direct_conv2d(&x, &k, strides, padding), EXACT);
    }
}

/// (input, window, stride, padding) -> (output, pad before, pad after), along one axis.
type AxisRow = (usize, usize, usize, Padding, (usize, usize, usize));

#[test]
fn output_size_and_padding_follow_keras() {
    let table: &[AxisRow] = &[
        (7, 3, 2, Valid, (3, 0, 0)),
        (7, 3, 2, Same, (4, 1, 1)),
        (6, 3, 2, Same, (3, 0, 1)),
        (6, 3, 2, Valid, (2, 0, 0)),
        (5, 2, 1, Same, (5, 0, 1)),
        (5, 3, 1, Same, (5, 1, 1)),
        (13, 3, 2, Valid, (6, 0, 0)),
        (7, 1, 2, Same, (4, 0, 0)),
        (1, 3, 1, Same, (1, 1, 1)),
        (4, 4, 1, Valid, (1, 0, 0)),
    ];
    for &(input, window, stride, padding, (out, before, after)) in table {
        // The same axis as height (with a fixed width) and as width (with a fixed height).
        let tall = Conv2dGeometry::new([input, 3, 2], (window, 1), (stride, 1), padding).unwrap();
        assert_eq!(tall.output_size().0, out, "in {input}, k {window}, s {stride}, {padding:?}");
        assert_eq!(tall.pads().0, (before, after), "in {input}, k {window}, s {stride}, {padding:?}");
        let wide = Conv2dGeometry::new([3, input, 2], (1, window), (1, stride), padding).unwrap();
        assert_eq!(wide.output_size().1, out, "in {input}, k {window}, s {stride}, {padding:?}");
        assert_eq!(wide.pads().1, (before, after), "in {input}, k {window}, s {stride}, {padding:?}");
    }
}

#[test]
fn max_pool_2x2_stride_2_known_answer_and_gradient() {
    let x =
        image_4x4([[1.0, 3.0, 2.0, 4.0], [5.0, 6.0, 1.0, 2.0], [7.0, 2.0, 9.0, 0.0], [3.0, 8.0, 4.0, 1.0]]);
    let tape = Tape::new();
    let xw = tape.watch(&x);
    let y = xw.max_pool2d((2, 2), (2, 2), Valid).unwrap();
    assert_eq!(y.dims(), &[1, 2, 2, 1]);
    assert_eq!(values(&y), vec![6.0, 4.0, 8.0, 9.0]);
    // The gradient of the sum lands on each window's winner only.
    let grads = tape.backward(&y.sum_all().unwrap()).unwrap();
    let expected = [[0.0, 0.0, 0.0, 1.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 0.0]];
    assert_eq!(values(grads.get(&xw).unwrap()), expected.as_flattened());
}

#[test]
fn max_pool_padding_never_wins() {
    // All negative: a zero-padded max would give 0 along the bottom row and right column.
    let x = tensor(&[-1.0, -2.0, -3.0, -4.0, -5.0, -6.0, -7.0, -8.0, -9.0], &[1, 3, 3, 1]);
    let y = x.max_pool2d((2, 2), (1, 1), Same).unwrap();
    assert_eq!(y.dims(), &[1, 3, 3, 1]);
    assert_eq!(values(&y), values(&x));
}

#[test]
fn avg_pool_same_counts_only_real_pixels() {
    let ones = Tensor::ones([1, 3, 3, 1], DType::F64, &Device::Cpu).unwrap();
    let y = ones.avg_pool2d((3, 3), (1, 1), Same).unwrap();
    assert_eq!(y.dims(), &[1, 3, 3, 1]);
    assert_close(&values(&y), &[1.0; 9], EXACT);

    // A 2x2 `same` window pads one row below and one column to the right: the last row and
    // column average two pixels, the corner one.
    let x = tensor(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0], &[1, 3, 3, 1]);
    let y = x.avg_pool2d((2, 2), (1, 1), Same).unwrap();
    assert_close(&values(&y), &[3.0, 4.0, 4.5, 6.0, 7.0, 7.5, 7.5, 8.5, 9.0], EXACT);

    // Its gradient shares each output's gradient between the pixels its window covered.
    let tape = Tape::new();
    let xw = tape.watch(&x);
    let grads = tape.backward(&xw.avg_pool2d((2, 2), (1, 1), Same).unwrap().sum_all().unwrap()).unwrap();
    // Pixel (iy, ix) gets 1/count from each window covering it; windows count 4, 2 or 1 pixels.
    let expected = [0.25, 0.5, 0.75, 0.5, 1.0, 1.5, 0.75, 1.5, 2.25];
    assert_close(&values(grads.get(&xw).unwrap()), &expected, EXACT);
}

#[test]
fn pooling_channels_and_batches_stay_apart() {
    // Two images of two channels: channel 0 counts up, channel 1 down.
    let data: Vec<f64> = (0..16).map(|i| if i % 2 == 0 { i as f64 } else { -(i as f64) }).collect();
    let x = tensor(&data, &[2, 2, 2, 2]);
    assert_eq!(values(&x.max_pool2d((2, 2), (2, 2), Valid).unwrap()), vec![6.0, -1.0, 14.0, -9.0]);
    assert_close(&values(&x.avg_pool2d((2, 2), (2, 2), Valid).unwrap()), &[3.0, -4.0, 11.0, -12.0], EXACT);
    let global = x.global_avg_pool2d().unwrap();
    assert_eq!(global.dims(), &[2, 2]);
    assert_close(&values(&global), &[3.0, -4.0, 11.0, -12.0], EXACT);
}

fn is_shape_error(result: tessera::Result<Tensor>, op: &str) -> String {
    let err = result.unwrap_err();
    assert!(
        matches!(&err, Error::Shape { op: o, .. } if *o == op),
        "expected a shape error from {op}: {err}"
    );
    err.to_string()
}

fn is_argument_error(result: tessera::Result<Tensor>, op: &str) -> String {
    let err = result.unwrap_err();
    assert!(
        matches!(&err, Error::Argument { op: o, .. } if *o == op),
        "expected an argument error from {op}: {err}"
    );
    err.to_string()
}

#[test]
fn convolution_errors() {
    let x = rand(&[2, 5, 5, 3], 1);
    let message = is_shape_error(x.conv2d(&rand(&[3, 3, 2, 4], 2), (1, 1), Same), "conv2d");
    assert!(message.contains("expects 2 input channels") && message.contains("has 3"), "{message}");
    let message = is_shape_error(x.conv2d(&rand(&[6, 3, 3, 4], 2), (1, 1), Valid), "conv2d");
    assert!(message.contains("valid"), "{message}");
    let kernel = rand(&[3, 3, 3, 4], 2);
    is_argument_error(x.conv2d(&kernel, (0, 1), Same), "conv2d");
    is_argument_error(x.conv2d(&kernel, (1, 0), Valid), "conv2d");
    is_shape_error(rand(&[5, 5, 3], 3).conv2d(&kernel, (1, 1), Same), "conv2d");
    is_shape_error(x.conv2d(&rand(&[3, 3, 3], 4), (1, 1), Same), "conv2d");
    is_argument_error(x.conv2d(&rand(&[0, 3, 3, 4], 4), (1, 1), Same), "conv2d");
    let f32_kernel = Tensor::zeros([3, 3, 3, 4], DType::F32, &Device::Cpu).unwrap();
    assert!(matches!(x.conv2d(&f32_kernel, (1, 1), Same), Err(Error::DType { op: "conv2d", .. })));

    let g = Conv2dGeometry::new([5, 5, 3], (3, 3), (2, 2), Same).unwrap();
    is_shape_error(rand(&[2, 5, 4, 3], 5).im2col(&g), "im2col");
    is_shape_error(rand(&[2 * 9, 26], 6).col2im(&g), "col2im");
    is_shape_error(rand(&[2 * 9 + 1, 27], 6).col2im(&g), "col2im");
    assert!(Conv2dGeometry::new([5, 5, 3], (3, 3), (0, 2), Same).is_err());
    assert!(Conv2dGeometry::new([0, 5, 3], (3, 3), (1, 1), Same).is_err());
}

#[test]
fn pooling_errors() {
    let x = rand(&[1, 3, 3, 2], 1);
    is_shape_error(x.max_pool2d((4, 2), (1, 1), Valid), "max_pool2d");
    is_shape_error(x.avg_pool2d((2, 4), (1, 1), Valid), "avg_pool2d");
    is_argument_error(x.max_pool2d((2, 2), (0, 0), Same), "max_pool2d");
    is_argument_error(x.avg_pool2d((2, 2), (2, 0), Same), "avg_pool2d");
    is_argument_error(x.max_pool2d((0, 2), (1, 1), Same), "max_pool2d");
    is_shape_error(rand(&[3, 3, 2], 2).max_pool2d((2, 2), (2, 2), Valid), "max_pool2d");
    is_shape_error(rand(&[3, 2], 2).global_avg_pool2d(), "global_avg_pool2d");
}
