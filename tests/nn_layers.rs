//! Layers one at a time: gradient checks in f64 on the CPU through the layer API (weights built
//! in f64, checked by central differences), BatchNormalization and dropout in training and at
//! inference, Dense on N-D input, regularizers, initializers, and clear errors for bad shapes.

mod common;

use common::{assert_close, rand, rand_in, tensor};
use tessera::nn::{
    Activation, ActivationLayer, Add, AveragePooling2D, BatchNormalization, Concatenate, Conv2D,
    Conv2DTranspose, Dense, DepthwiseConv2D, Dropout, Embedding, Flatten, ForwardCtx, GRU,
    GlobalAveragePooling2D, GlobalMaxPooling2D, Initializer, LSTM, Layer, LeakyReLU, MaxPooling2D, NnError,
    PReLU, ReLU, Regularizer, Reshape, SimpleRNN, Softmax, SpatialDropout2D, UpSampling2D, ZeroPadding2D,
};
use tessera::tensor_core::gradcheck::{self, GradCheck};
use tessera::{DType, Device, Tape, Tensor};

/// Bound on the max relative error of a layer's gradient check (see `gradcheck::check`). The
/// layers are smooth where checked (tanh, sigmoid, softmax, linear; pooling and dropout away
/// from ties), so only round-off remains: the objective sums at most a few hundred terms of
/// O(1), ~1e-14 over 2 * STEP, ~1e-8 absolute, up to 1e-5 against the 1e-3 floor of small
/// gradients. A wrong rule, or a weight the layer ignores, errs by O(1).
const BOUND: f64 = 1e-5;

/// Builds `layer` for `inputs` (shapes without the batch axis), then checks the gradients of
/// its forward pass, in training or inference mode, with respect to a random batch of each
/// input and to every trainable weight, which the pass reads through `ForwardCtx::substitute`.
fn check_layer(
    name: &str,
    mut layer: impl Layer,
    inputs: &[&[usize]],
    batch: usize,
    training: bool,
) -> GradCheck {
    let shapes: Vec<Vec<usize>> = inputs.iter().map(|s| s.to_vec()).collect();
    layer.build(&shapes).unwrap();
    let xs: Vec<Tensor> = shapes
        .iter()
        .enumerate()
        .map(|(k, s)| rand(&[[batch].as_slice(), s].concat(), 100 + k as u64))
        .collect();
    let weights: Vec<_> = layer.weights().into_iter().filter(|w| w.trainable()).collect();
    let mut all: Vec<&Tensor> = xs.iter().collect();
    all.extend(weights.iter().map(|w| w.value()));
    gradcheck::check(name, &all, |values| {
        let tape = Tape::new();
        let mut ctx = if training { ForwardCtx::training(&tape, 7) } else { ForwardCtx::inference() };
        for (w, v) in weights.iter().zip(&values[xs.len()..]) {
            ctx.substitute(w, v.clone());
        }
        layer.forward(&values[..xs.len()], &mut ctx).map_err(|e| match e {
            NnError::Tensor(t) => t,
            other => panic!("{other}"),
        })
    })
    .unwrap()
}

#[test]
fn dense_gradients() {
    for (activation, input, batch) in [
        (Activation::Tanh, &[5][..], 3),
        (Activation::Sigmoid, &[2, 3, 7][..], 2),
        (Activation::Softmax, &[4][..], 1),
        (Activation::Linear, &[1][..], 13),
    ] {
        let layer = Dense::new(4).activation(activation).dtype(DType::F64);
        let name = format!("Dense {activation:?} on {input:?}");
        let report = check_layer(&name, layer, &[input], batch, false);
        assert_eq!(report.elements, batch * input.iter().product::<usize>() + input.last().unwrap() * 4 + 4);
        report.assert_within(BOUND);
    }
    check_layer("Dense no bias", Dense::new(3).use_bias(false).dtype(DType::F64), &[&[6]], 2, true)
        .assert_within(BOUND);
}

#[test]
fn conv2d_gradients() {
    for (kernel, strides, padding) in [
        ((3, 3), (1, 1), "valid"),
        ((3, 2), (2, 2), "same"),
        ((1, 1), (1, 1), "same"),
        ((2, 3), (1, 2), "valid"),
    ] {
        let layer =
            Conv2D::new(3, kernel).strides(strides).padding(padding).activation("tanh").dtype(DType::F64);
        let name = format!("Conv2D {kernel:?} {padding}");
        check_layer(&name, layer, &[&[5, 6, 2]], 2, false).assert_within(BOUND);
    }
}

#[test]
fn pooling_flatten_and_activation_gradients() {
    let image: &[usize] = &[5, 7, 3];
    check_layer("MaxPooling2D", MaxPooling2D::new(), &[image], 2, false).assert_within(BOUND);
    check_layer(
        "MaxPooling2D 3x3/2 same",
        MaxPooling2D::new().pool_size(3).strides(2).padding("same"),
        &[image],
        2,
        false,
    )
    .assert_within(BOUND);
    check_layer("AveragePooling2D same", AveragePooling2D::new().padding("same"), &[image], 2, false)
        .assert_within(BOUND);
    check_layer("GlobalAveragePooling2D", GlobalAveragePooling2D::new(), &[image], 2, false)
        .assert_within(BOUND);
    check_layer("GlobalMaxPooling2D", GlobalMaxPooling2D::new(), &[image], 2, false).assert_within(BOUND);
    check_layer("Flatten", Flatten::new(), &[image], 2, false).assert_within(BOUND);
    check_layer("Activation softmax", ActivationLayer::new("softmax"), &[&[3, 4]], 2, false)
        .assert_within(BOUND);
}

#[test]
fn dropout_gradients_follow_the_mask() {
    // In training the mask is fixed by the context's seed, so the pass is a fixed linear map.
    check_layer("Dropout", Dropout::new(0.4), &[&[6, 5]], 3, true).assert_within(BOUND);
    check_layer("SpatialDropout2D", SpatialDropout2D::new(0.5), &[&[3, 4, 5]], 3, true).assert_within(BOUND);
}

#[test]
fn batch_normalization_gradients() {
    for training in [true, false] {
        for (input, axis) in [(&[4][..], -1), (&[3, 4, 2][..], -1), (&[3, 4, 2][..], 1)] {
            let layer = BatchNormalization::new().axis(axis).dtype(DType::F64);
            let name = format!("BatchNormalization {input:?} axis {axis} training {training}");
            check_layer(&name, layer, &[input], 5, training).assert_within(BOUND);
        }
    }
}

#[test]
fn simple_rnn_gradients() {
    for return_sequences in [false, true] {
        let layer = SimpleRNN::new(3).return_sequences(return_sequences).dtype(DType::F64);
        let name = format!("SimpleRNN return_sequences {return_sequences}");
        check_layer(&name, layer, &[&[4, 2]], 2, false).assert_within(BOUND);
    }
    let layer = SimpleRNN::new(2).activation("sigmoid").dtype(DType::F64);
    check_layer("SimpleRNN one step", layer, &[&[1, 3]], 3, false).assert_within(BOUND);
}

#[test]
fn lstm_gradients() {
    for (return_sequences, go_backwards) in [(false, false), (true, false), (true, true)] {
        let layer =
            LSTM::new(3).return_sequences(return_sequences).go_backwards(go_backwards).dtype(DType::F64);
        let name = format!("LSTM return_sequences {return_sequences} go_backwards {go_backwards}");
        check_layer(&name, layer, &[&[4, 2]], 2, false).assert_within(BOUND);
    }
    let layer =
        LSTM::new(2).activation("sigmoid").recurrent_activation("tanh").use_bias(false).dtype(DType::F64);
    check_layer("LSTM sigmoid/tanh no bias, one step", layer, &[&[1, 3]], 3, false).assert_within(BOUND);
}

#[test]
fn gru_gradients() {
    for (return_sequences, go_backwards) in [(false, false), (true, false), (true, true)] {
        let layer = GRU::new(3)
            .return_sequences(return_sequences)
            .go_backwards(go_backwards)
            .bias_initializer("random_normal")
            .dtype(DType::F64);
        let name = format!("GRU return_sequences {return_sequences} go_backwards {go_backwards}");
        check_layer(&name, layer, &[&[4, 2]], 2, false).assert_within(BOUND);
    }
    let layer = GRU::new(2).activation("linear").use_bias(false).dtype(DType::F64);
    check_layer("GRU linear no bias, one step", layer, &[&[1, 3]], 3, false).assert_within(BOUND);
    for return_sequences in [false, true] {
        let layer = GRU::new(3)
            .reset_after(false)
            .return_sequences(return_sequences)
            .bias_initializer("random_normal")
            .dtype(DType::F64);
        let name = format!("GRU reset_after false return_sequences {return_sequences}");
        check_layer(&name, layer, &[&[4, 2]], 2, false).assert_within(BOUND);
    }
}

#[test]
fn conv2d_transpose_gradients() {
    for (kernel, strides, padding) in [
        ((3, 3), (1, 1), "valid"),
        ((3, 2), (2, 2), "same"),
        ((1, 1), (2, 1), "valid"),
        ((2, 3), (1, 2), "same"),
    ] {
        let layer = Conv2DTranspose::new(3, kernel)
            .strides(strides)
            .padding(padding)
            .activation("tanh")
            .bias_initializer("random_normal")
            .dtype(DType::F64);
        let name = format!("Conv2DTranspose {kernel:?} {strides:?} {padding}");
        check_layer(&name, layer, &[&[3, 4, 2]], 2, false).assert_within(BOUND);
    }
}

#[test]
fn conv2d_transpose_output_padding_gradients() {
    for (kernel, strides, output_padding, padding) in [
        ((3, 2), (2, 3), (1, 2), "valid"),
        ((2, 3), (3, 2), (2, 0), "same"),
        ((4, 1), (2, 2), (1, 1), "same"),
        ((1, 1), (3, 3), (2, 1), "valid"),
    ] {
        let layer = Conv2DTranspose::new(3, kernel)
            .strides(strides)
            .padding(padding)
            .output_padding(output_padding)
            .activation("tanh")
            .bias_initializer("random_normal")
            .dtype(DType::F64);
        let name =
            format!("Conv2DTranspose {kernel:?} {strides:?} {padding} output_padding {output_padding:?}");
        check_layer(&name, layer, &[&[3, 2, 2]], 2, false).assert_within(BOUND);
    }
}

/// The transposed convolution by its definition: every input pixel spreads its kernel window
/// over a (size - 1) * stride + kernel canvas, which Keras's window of it is cut from (a crop
/// at the start, zeros past the end). The windows below were checked against Keras 3.15's own
/// Conv2DTranspose (JAX) with these shapes, within 1.2e-6 in float32.
fn transposed_reference(
    x: &Tensor,
    kernel: &Tensor,
    strides: (usize, usize),
    windows: [(usize, usize); 2],
) -> (Vec<f64>, [usize; 4]) {
    let (xd, kd) = (x.dims().to_vec(), kernel.dims().to_vec());
    let (n, h, w, c) = (xd[0], xd[1], xd[2], xd[3]);
    let (kh, kw, f) = (kd[0], kd[1], kd[2]);
    let (xv, kv) = (x.to_vec_f64().unwrap(), kernel.to_vec_f64().unwrap());
    let (ch, cw) = ((h - 1) * strides.0 + kh, (w - 1) * strides.1 + kw);
    let mut canvas = vec![0.0; n * ch * cw * f];
    for b in 0..n {
        for i in 0..h {
            for j in 0..w {
                for (a, e) in (0..kh).flat_map(|a| (0..kw).map(move |e| (a, e))) {
                    for o in 0..f {
                        let sum: f64 = (0..c)
                            .map(|q| xv[((b * h + i) * w + j) * c + q] * kv[((a * kw + e) * f + o) * c + q])
                            .sum();
                        canvas[((b * ch + i * strides.0 + a) * cw + j * strides.1 + e) * f + o] += sum;
                    }
                }
            }
        }
    }
    let [(top, oh), (left, ow)] = windows;
    let mut out = vec![0.0; n * oh * ow * f];
    for b in 0..n {
        for r in 0..oh.min(ch.saturating_sub(top)) {
            for q in 0..ow.min(cw.saturating_sub(left)) {
                for o in 0..f {
                    out[((b * oh + r) * ow + q) * f + o] =
                        canvas[((b * ch + top + r) * cw + left + q) * f + o];
                }
            }
        }
    }
    (out, [n, oh, ow, f])
}

#[test]
fn conv2d_transpose_output_padding_matches_keras() {
    // (kernel, strides, output_padding, input (h, w), padding, Keras's output window of the
    // canvas per axis: (start, length)).
    let cases = [
        ((3, 2), (2, 3), (1, 2), (3, 4), "valid", [(0, 8), (0, 13)]),
        ((2, 3), (3, 2), (2, 0), (2, 5), "valid", [(0, 7), (0, 11)]),
        ((1, 1), (3, 3), (2, 1), (2, 2), "valid", [(0, 6), (0, 5)]),
        ((3, 2), (2, 3), (1, 2), (3, 4), "same", [(0, 6), (0, 11)]),
        ((2, 3), (3, 2), (2, 0), (2, 5), "same", [(0, 5), (1, 9)]),
        ((4, 1), (2, 2), (1, 1), (3, 3), "same", [(1, 5), (0, 6)]),
        ((5, 3), (2, 4), (0, 3), (3, 2), "same", [(2, 5), (0, 8)]),
    ];
    for (k, (kernel, strides, output_padding, (h, w), padding, windows)) in cases.into_iter().enumerate() {
        let mut layer = Conv2DTranspose::new(4, kernel)
            .strides(strides)
            .padding(padding)
            .output_padding(output_padding)
            .use_bias(false)
            .dtype(DType::F64);
        let shape = layer.build(&[vec![h, w, 3]]).unwrap();
        let x = rand(&[2, h, w, 3], 40 + k as u64);
        let y = layer.forward(std::slice::from_ref(&x), &mut ForwardCtx::inference()).unwrap();
        let (expected, dims) = transposed_reference(&x, layer.weights()[0].value(), strides, windows);
        assert_eq!(y.dims(), dims, "case {k}");
        assert_eq!(shape, dims[1..], "case {k}");
        // f64 sums of at most 3 * 5 * 3 products of O(1).
        assert_close(&y.to_vec_f64().unwrap(), &expected, 1e-12);
    }

    // The setting goes through the config, and a padding of a stride or more is refused.
    let layer = Conv2DTranspose::new(2, 3).strides(2).output_padding((1, 0));
    let config = layer.config().unwrap();
    assert_eq!(config["output_padding"], serde_json::json!([1, 0]));
    let mut read = Conv2DTranspose::from_config(&config).unwrap();
    assert_eq!(read.config().unwrap(), config);
    assert_eq!(read.build(&[vec![3, 3, 1]]).unwrap(), [8, 7, 2]);
    assert!(Conv2DTranspose::new(2, 3).config().unwrap()["output_padding"].is_null());
    let err = Conv2DTranspose::new(2, 3).strides(2).output_padding(2).build(&[vec![3, 3, 1]]).unwrap_err();
    assert!(err.to_string().contains("output_padding (2, 2) must be less than the strides (2, 2)"), "{err}");
}

#[test]
fn depthwise_conv2d_gradients() {
    for (kernel, strides, padding, multiplier) in [
        ((3, 3), (1, 1), "valid", 1),
        ((3, 3), (2, 2), "same", 2),
        ((2, 3), (1, 2), "same", 1),
        ((1, 1), (2, 1), "valid", 3),
    ] {
        let layer = DepthwiseConv2D::new(kernel)
            .strides(strides)
            .padding(padding)
            .depth_multiplier(multiplier)
            .activation("tanh")
            .bias_initializer("random_normal")
            .dtype(DType::F64);
        let name = format!("DepthwiseConv2D {kernel:?} {strides:?} {padding} x{multiplier}");
        check_layer(&name, layer, &[&[5, 7, 3]], 2, false).assert_within(BOUND);
    }
}

/// A hand-computed depthwise convolution: 3x3 images of 2 channels, 2x2 kernels, two per
/// channel, `valid`, so 2x2 outputs of 4 channels in Keras's order (channel c's kernel m at
/// c * 2 + m).
#[test]
fn depthwise_conv2d_known_answer() {
    // Channel a: 1..9 row by row; channel b: the identity. Interleaved, channels last.
    let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0];
    let b = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0];
    let x: Vec<f64> = a.iter().zip(&b).flat_map(|(&a, &b)| [a, b]).collect();
    let mut layer = DepthwiseConv2D::new(2).depth_multiplier(2).dtype(DType::F64);
    layer.build(&[vec![3, 3, 2]]).unwrap();
    // Kernels, as (row, column) -> [a m0, a m1, b m0, b m1]: a's m0 is [[1, 2], [3, 4]], a's m1
    // takes minus the bottom-right pixel, b's m0 sums the window, b's m1 is 10 x top-left.
    let kernel = [1.0, 0.0, 1.0, 10.0, 2.0, 0.0, 1.0, 0.0, 3.0, 0.0, 1.0, 0.0, 4.0, -1.0, 1.0, 0.0];
    layer.weights()[0].assign(&tensor(&kernel, &[2, 2, 2, 2])).unwrap();
    layer.weights()[1].assign(&tensor(&[0.5, 0.0, 0.0, -1.0], &[4])).unwrap();
    let y = layer.forward(&[tensor(&x, &[1, 3, 3, 2])], &mut ForwardCtx::inference()).unwrap();
    assert_eq!(y.dims(), [1, 2, 2, 4]);
    // Top-left window: a = [[1, 2], [4, 5]] gives 1 + 4 + 12 + 20 = 37 and -5; b = [[1, 0],
    // [0, 1]] gives 2 and 10; then the bias.
    let expected = [37.5, -5.0, 2.0, 9.0, 47.5, -6.0, 1.0, -1.0, 67.5, -8.0, 1.0, -1.0, 77.5, -9.0, 2.0, 9.0];
    assert_eq!(y.to_vec_f64().unwrap(), expected);
}

/// DepthwiseConv2D is the Conv2D whose kernel joins input channel c only to its own outputs
/// c * M + m: the same answers at odd sizes, strided, under `same` padding.
#[test]
fn depthwise_conv2d_is_a_block_diagonal_conv2d() {
    let (channels, multiplier) = (3, 2);
    let outputs = channels * multiplier;
    for (strides, padding) in [((2, 2), "same"), ((1, 2), "valid"), ((1, 1), "same")] {
        let mut depthwise = DepthwiseConv2D::new((3, 2))
            .strides(strides)
            .padding(padding)
            .depth_multiplier(multiplier)
            .bias_initializer("random_normal")
            .dtype(DType::F64);
        let mut conv = Conv2D::new(outputs, (3, 2)).strides(strides).padding(padding).dtype(DType::F64);
        let shape = vec![7, 9, channels];
        assert_eq!(depthwise.build(std::slice::from_ref(&shape)).unwrap(), conv.build(&[shape]).unwrap());
        let kernel = depthwise.weights()[0].value().to_vec_f64().unwrap();
        let mut full = vec![0.0; 3 * 2 * channels * outputs];
        for (k, &value) in kernel.iter().enumerate() {
            let (position, c, m) = (k / outputs, (k / multiplier) % channels, k % multiplier);
            full[(position * channels + c) * outputs + c * multiplier + m] = value;
        }
        conv.weights()[0].assign(&tensor(&full, &[3, 2, channels, outputs])).unwrap();
        conv.weights()[1].assign(depthwise.weights()[1].value()).unwrap();
        let x = rand(&[2, 7, 9, channels], 31);
        let run = |layer: &dyn Layer| {
            layer
                .forward(std::slice::from_ref(&x), &mut ForwardCtx::inference())
                .unwrap()
                .to_vec_f64()
                .unwrap()
        };
        assert_close(&run(&depthwise), &run(&conv), 1e-12);
    }
}

#[test]
fn depthwise_conv2d_shapes_and_errors() {
    let mut layer = DepthwiseConv2D::new(3).depth_multiplier(4).use_bias(false);
    assert_eq!(layer.build(&[vec![8, 8, 5]]).unwrap(), [6, 6, 20]);
    let shapes: Vec<Vec<usize>> = layer.weights().iter().map(|w| w.value().dims().to_vec()).collect();
    assert_eq!(shapes, [vec![3, 3, 5, 4]]);
    assert_eq!(layer.weights()[0].name(), "kernel");
    let mut layer = DepthwiseConv2D::new(3).depth_multiplier(2).strides(2).padding("same");
    assert_eq!(layer.build(&[vec![7, 9, 3]]).unwrap(), [4, 5, 6]);
    assert_eq!(layer.weights()[1].value().dims(), [6]);
    let err = DepthwiseConv2D::new(3).depth_multiplier(0).build(&[vec![8, 8, 1]]).unwrap_err().to_string();
    assert!(err.contains("depthwise_conv2d") && err.contains("depth_multiplier"), "{err}");
    let err = DepthwiseConv2D::new(3).build(&[vec![8, 8]]).unwrap_err().to_string();
    assert!(err.contains("depthwise_conv2d") && err.contains("(height, width, channels)"), "{err}");
    let err = DepthwiseConv2D::new(5).build(&[vec![3, 8, 1]]).unwrap_err().to_string();
    assert!(err.contains("depthwise_conv2d") && err.contains("(None, 3, 8, 1)"), "{err}");
}

#[test]
fn zero_padding_and_keepdims_pooling() {
    for padding in [((0, 1), (2, 0)), ((1, 1), (1, 1)), ((3, 0), (0, 2))] {
        let layer = ZeroPadding2D::new().padding(padding);
        check_layer(&format!("ZeroPadding2D {padding:?}"), layer, &[&[3, 2, 2]], 2, false)
            .assert_within(BOUND);
    }
    check_layer(
        "GlobalAveragePooling2D keepdims",
        GlobalAveragePooling2D::new().keepdims(true),
        &[&[3, 4, 2]],
        2,
        false,
    )
    .assert_within(BOUND);

    // [[1, 2], [3, 4]] with a row below and two columns left.
    let y = apply(&mut ZeroPadding2D::new().padding(((0, 1), (2, 0))), &[1.0, 2.0, 3.0, 4.0], &[1, 2, 2, 1]);
    assert_eq!(y, [0.0, 0.0, 1.0, 2.0, 0.0, 0.0, 3.0, 4.0, 0.0, 0.0, 0.0, 0.0]);
    assert_eq!(ZeroPadding2D::new().build(&[vec![5, 7, 3]]).unwrap(), [7, 9, 3]);
    assert_eq!(ZeroPadding2D::new().padding((2, 0)).build(&[vec![5, 7, 3]]).unwrap(), [9, 7, 3]);
    let err = ZeroPadding2D::new().build(&[vec![5, 7]]).unwrap_err().to_string();
    assert!(err.contains("zero_padding2d") && err.contains("(height, width, channels)"), "{err}");

    let mut pool = GlobalAveragePooling2D::new().keepdims(true);
    assert_eq!(pool.build(&[vec![2, 2, 1]]).unwrap(), [1, 1, 1]);
    let y =
        pool.forward(&[tensor(&[1.0, 2.0, 3.0, 6.0], &[1, 2, 2, 1])], &mut ForwardCtx::inference()).unwrap();
    assert_eq!((y.dims(), y.to_vec_f64().unwrap()), (&[1, 1, 1, 1][..], vec![3.0]));
    let mut pool = GlobalMaxPooling2D::new().keepdims(true);
    assert_eq!(pool.build(&[vec![2, 2, 1]]).unwrap(), [1, 1, 1]);
    let y =
        pool.forward(&[tensor(&[1.0, 2.0, 3.0, 6.0], &[1, 2, 2, 1])], &mut ForwardCtx::inference()).unwrap();
    assert_eq!(y.to_vec_f64().unwrap(), [6.0]);
}

#[test]
fn merge_gradients() {
    check_layer("Add", Add::new(), &[&[3, 2], &[3, 2], &[3, 2]], 2, false).assert_within(BOUND);
    check_layer("Concatenate", Concatenate::new(), &[&[3, 2], &[3, 1]], 2, false).assert_within(BOUND);
    check_layer("Concatenate axis 1", Concatenate::new().axis(1), &[&[3, 2], &[1, 2]], 2, false)
        .assert_within(BOUND);
}

#[test]
fn regularization_gradients() {
    let mut layer = Dense::new(3)
        .kernel_regularizer(Regularizer::L1L2 { l1: 0.3, l2: 0.2 })
        .bias_regularizer("l2")
        .bias_initializer("random_normal")
        .dtype(DType::F64);
    layer.build(&[vec![4]]).unwrap();
    let weights = layer.weights();
    let values: Vec<&Tensor> = weights.iter().map(|w| w.value()).collect();
    gradcheck::check("Dense penalties", &values, |v| {
        let mut ctx = ForwardCtx::inference();
        ctx.substitute(weights[0], v[0].clone());
        ctx.substitute(weights[1], v[1].clone());
        Ok(layer.regularization_loss(&mut ctx).unwrap().unwrap())
    })
    .unwrap()
    .assert_within(BOUND);
}

#[test]
fn weights_are_read_through_the_context() {
    // A layer that read a weight's stored value instead of `ctx.weight` would escape both
    // gradient-check sides, so check that every trainable weight moves the output.
    let cases: Vec<(Box<dyn Layer>, Vec<usize>, bool)> = vec![
        (Box::new(Dense::new(2).dtype(DType::F64)), vec![3], false),
        (Box::new(Conv2D::new(2, 2).dtype(DType::F64)), vec![3, 3, 2], false),
        (Box::new(BatchNormalization::new().dtype(DType::F64)), vec![3], true),
        (Box::new(BatchNormalization::new().dtype(DType::F64)), vec![3], false),
        (Box::new(SimpleRNN::new(2).dtype(DType::F64)), vec![2, 3], false),
        (Box::new(LSTM::new(2).dtype(DType::F64)), vec![2, 3], false),
        (Box::new(GRU::new(2).dtype(DType::F64)), vec![2, 3], false),
        (Box::new(GRU::new(2).reset_after(false).dtype(DType::F64)), vec![2, 3], false),
        (Box::new(Conv2DTranspose::new(2, 2).strides(2).dtype(DType::F64)), vec![3, 3, 2], false),
    ];
    for (mut layer, shape, training) in cases {
        layer.build(std::slice::from_ref(&shape)).unwrap();
        let x = rand(&[[4].as_slice(), &shape].concat(), 9);
        let run = |shifted: Option<usize>| {
            let tape = Tape::new();
            let mut ctx = if training { ForwardCtx::training(&tape, 1) } else { ForwardCtx::inference() };
            for (k, w) in layer.weights().into_iter().enumerate() {
                let value =
                    if shifted == Some(k) { w.value().add_scalar(0.5).unwrap() } else { w.value().clone() };
                ctx.substitute(w, value);
            }
            layer.forward(std::slice::from_ref(&x), &mut ctx).unwrap().to_vec_f64().unwrap()
        };
        let base = run(None);
        for (k, w) in layer.weights().iter().enumerate().filter(|(_, w)| w.trainable()) {
            let moved = run(Some(k)).iter().zip(&base).any(|(a, b)| (a - b).abs() > 1e-6);
            assert!(moved, "{} ignores the context's {}", layer.name(), w.name());
        }
    }
}

/// The values of `layer`'s weight `index`.
fn weight_values(layer: &dyn Layer, index: usize) -> Vec<f64> {
    layer.weights()[index].value().to_vec_f64().unwrap()
}

#[test]
fn batch_normalization_trains_on_batch_statistics_and_infers_on_moving_ones() {
    // Two channels; per channel the batch mean is (4, 5) and the biased variance (5, 5).
    let x = tensor(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], &[4, 2]);
    let mut bn = BatchNormalization::new().dtype(DType::F64);
    assert_eq!(bn.build(&[vec![2]]).unwrap(), vec![2]);
    let names: Vec<&str> = bn.weights().iter().map(|w| w.name()).collect();
    assert_eq!(names, ["gamma", "beta", "moving_mean", "moving_variance"]);
    assert_eq!(bn.weights().iter().map(|w| w.trainable()).collect::<Vec<_>>(), [true, true, false, false]);

    // Training: normalized with the batch's statistics, epsilon 1e-3 (exact up to round-off).
    let tape = Tape::new();
    let mut ctx = ForwardCtx::training(&tape, 0);
    let y = bn.forward(std::slice::from_ref(&x), &mut ctx).unwrap().to_vec_f64().unwrap();
    let expected: Vec<f64> = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
        .iter()
        .enumerate()
        .map(|(i, v)| (v - [4.0, 5.0][i % 2]) / (5.0f64 + 1e-3).sqrt())
        .collect();
    assert_close(&y, &expected, 1e-12);
    // The pass only records the new moving statistics; committing writes them.
    assert_eq!(weight_values(&bn, 2), [0.0, 0.0]);
    assert_eq!(weight_values(&bn, 3), [1.0, 1.0]);
    assert_eq!(ctx.state_updates().len(), 2);
    ctx.commit_state(&bn.weights()).unwrap();
    // Moving statistics: moving * 0.99 + batch * 0.01 from (0, 1).
    assert_close(&weight_values(&bn, 2), &[0.04, 0.05], 1e-12);
    assert_close(&weight_values(&bn, 3), &[1.04, 1.04], 1e-12);

    // Inference: normalized with the moving statistics, which stay as they are.
    let y = bn.forward(std::slice::from_ref(&x), &mut ForwardCtx::inference()).unwrap().to_vec_f64().unwrap();
    let expected: Vec<f64> = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
        .iter()
        .enumerate()
        .map(|(i, v)| (v - [0.04, 0.05][i % 2]) / (1.04f64 + 1e-3).sqrt())
        .collect();
    assert_close(&y, &expected, 1e-12);
    assert_close(&weight_values(&bn, 2), &[0.04, 0.05], 1e-12);

    // Frozen (Keras 3): inference mode even in a training pass; the statistics do not move, and
    // unfreezing never makes them trainable.
    bn.set_trainable(false);
    assert!(bn.weights().iter().all(|w| !w.trainable()));
    let tape = Tape::new();
    let y = bn
        .forward(std::slice::from_ref(&x), &mut ForwardCtx::training(&tape, 0))
        .unwrap()
        .to_vec_f64()
        .unwrap();
    assert_close(&y, &expected, 1e-12);
    assert_close(&weight_values(&bn, 2), &[0.04, 0.05], 1e-12);
    bn.set_trainable(true);
    assert_eq!(bn.weights().iter().map(|w| w.trainable()).collect::<Vec<_>>(), [true, true, false, false]);
}

#[test]
fn dropout_scales_in_training_and_passes_through_at_inference() {
    let x = rand_in(&[100, 100], 1.0, 2.0, 1);
    let mut dropout = Dropout::new(0.3);
    dropout.build(&[vec![100]]).unwrap();
    let at_inference = dropout.forward(std::slice::from_ref(&x), &mut ForwardCtx::inference()).unwrap();
    assert_eq!(at_inference.to_vec_f64().unwrap(), x.to_vec_f64().unwrap());

    let tape = Tape::new();
    let trained = dropout.forward(std::slice::from_ref(&x), &mut ForwardCtx::training(&tape, 3)).unwrap();
    let (xs, ys) = (x.to_vec_f64().unwrap(), trained.to_vec_f64().unwrap());
    // Every element is dropped or scaled by 1 / 0.7 (to round-off).
    assert!(xs.iter().zip(&ys).all(|(x, y)| *y == 0.0 || (y - x / 0.7).abs() < 1e-12));
    // 10,000 draws: the dropped fraction is within 0.02 of 0.3 (4.4 standard deviations).
    let dropped = ys.iter().filter(|&&y| y == 0.0).count() as f64 / ys.len() as f64;
    assert!((dropped - 0.3).abs() < 0.02, "dropped {dropped}");
}

#[test]
fn spatial_dropout_drops_whole_feature_maps() {
    let x = rand_in(&[8, 3, 4, 16], 1.0, 2.0, 2);
    let mut dropout = SpatialDropout2D::new(0.5);
    dropout.build(&[vec![3, 4, 16]]).unwrap();
    let tape = Tape::new();
    let y = dropout
        .forward(std::slice::from_ref(&x), &mut ForwardCtx::training(&tape, 5))
        .unwrap()
        .to_vec_f64()
        .unwrap();
    let xs = x.to_vec_f64().unwrap();
    let mut kept = 0;
    for n in 0..8 {
        for c in 0..16 {
            let at = |p: usize| n * 192 + p * 16 + c;
            let zeroed = y[at(0)] == 0.0;
            kept += usize::from(!zeroed);
            for p in 0..12 {
                let expected = if zeroed { 0.0 } else { xs[at(p)] * 2.0 };
                assert!((y[at(p)] - expected).abs() < 1e-12, "sample {n} channel {c} pixel {p}");
            }
        }
    }
    assert!((16..=112).contains(&kept), "{kept} of 128 maps kept");
    let unchanged = dropout.forward(std::slice::from_ref(&x), &mut ForwardCtx::inference()).unwrap();
    assert_eq!(unchanged.to_vec_f64().unwrap(), xs);
}

#[test]
fn dense_acts_on_the_last_axis() {
    let mut dense = Dense::new(3).bias_initializer("random_uniform").dtype(DType::F64);
    assert_eq!(dense.build(&[vec![4, 2, 5]]).unwrap(), vec![4, 2, 3]);
    let x = rand(&[2, 4, 2, 5], 3);
    let y = dense.forward(std::slice::from_ref(&x), &mut ForwardCtx::inference()).unwrap();
    assert_eq!(y.dims(), [2, 4, 2, 3]);
    let (k, b) = (weight_values(&dense, 0), weight_values(&dense, 1));
    let xs = x.to_vec_f64().unwrap();
    // Each of the 16 positions maps its 5 features alone: y = x · kernel + bias (round-off only).
    let expected: Vec<f64> = (0..16)
        .flat_map(|p| {
            let row = &xs[p * 5..p * 5 + 5];
            let (k, b) = (&k, &b);
            (0..3).map(move |u| b[u] + (0..5).map(|f| row[f] * k[f * 3 + u]).sum::<f64>())
        })
        .collect();
    assert_close(&y.to_vec_f64().unwrap(), &expected, 1e-12);
}

#[test]
fn step_neuron_computes_and_and_or() {
    // McCulloch–Pitts: weights 1, 1 and threshold 2 (AND) or 1 (OR), set by hand.
    for (threshold, truth) in [(2.0, [0.0, 0.0, 0.0, 1.0]), (1.0, [0.0, 1.0, 1.0, 1.0])] {
        let mut neuron =
            Dense::new(1).activation(Activation::Step(threshold)).use_bias(false).dtype(DType::F64);
        neuron.build(&[vec![2]]).unwrap();
        neuron.weights()[0].assign(&tensor(&[1.0, 1.0], &[2, 1])).unwrap();
        let inputs = tensor(&[0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0], &[4, 2]);
        let out = neuron.forward(&[inputs], &mut ForwardCtx::inference()).unwrap();
        assert_eq!(out.to_vec_f64().unwrap(), truth);
    }
}

#[test]
fn regularizers_add_keras_penalties() {
    let mut dense = Dense::new(2).kernel_regularizer("l2");
    dense.build(&[vec![3]]).unwrap();
    let kernel = weight_values(&dense, 0);
    let penalty = dense.regularization_loss(&mut ForwardCtx::inference()).unwrap().unwrap().item().unwrap();
    // 0.01 * sum(k²), in f32: relative tolerance 1e-6.
    let expected = 0.01 * kernel.iter().map(|k| k * k).sum::<f64>();
    assert!((penalty - expected).abs() <= 1e-6 * expected, "{penalty} vs {expected}");
    let mut plain = Dense::new(2);
    plain.build(&[vec![3]]).unwrap();
    assert!(plain.regularization_loss(&mut ForwardCtx::inference()).unwrap().is_none());
}

#[test]
fn layers_get_distinct_reproducible_weights() {
    let built = |layer: Dense| {
        let mut layer = layer;
        layer.build(&[vec![4]]).unwrap();
        weight_values(&layer, 0)
    };
    assert_ne!(built(Dense::new(3)), built(Dense::new(3)));
    assert_eq!(built(Dense::new(3).seed(11)), built(Dense::new(3).seed(11)));
    tessera::nn::set_random_seed(42);
    let first = (built(Dense::new(3)), built(Dense::new(3)));
    tessera::nn::set_random_seed(42);
    assert_eq!(first, (built(Dense::new(3)), built(Dense::new(3))));
    // Biases start at zero; the kernel is within glorot_uniform's limit sqrt(6 / (4 + 3)).
    let mut dense = Dense::new(3);
    dense.build(&[vec![4]]).unwrap();
    assert_eq!(weight_values(&dense, 1), [0.0; 3]);
    assert!(weight_values(&dense, 0).iter().all(|k| k.abs() <= (6.0f64 / 7.0).sqrt()));
}

/// The message of a layer error, asserting that it is one and names `layer`.
fn layer_error(result: tessera::nn::Result<impl std::fmt::Debug>, layer: &str) -> String {
    match result {
        Err(e @ NnError::Layer { .. }) => {
            let message = e.to_string();
            assert!(message.starts_with(&format!("layer {layer}:")), "{message}");
            message
        }
        other => panic!("expected a layer error from {layer}, got {other:?}"),
    }
}

#[test]
fn bad_shapes_and_settings_are_errors_not_panics() {
    let message = layer_error(Conv2D::new(4, 3).build(&[vec![10, 10]]), "conv2d");
    assert!(message.contains("(height, width, channels)") && message.contains("(None, 10, 10)"), "{message}");
    let message = layer_error(Conv2D::new(4, 5).build(&[vec![3, 3, 1]]), "conv2d");
    assert!(message.contains("(None, 3, 3, 1)") && message.contains("same"), "{message}");
    layer_error(Dense::new(4).build(&[vec![]]), "dense");
    layer_error(Dense::new(4).build(&[vec![2], vec![2]]), "dense");
    let message = layer_error(Dense::new(4).activation("relux").build(&[vec![2]]), "dense");
    assert!(message.contains("\"relux\"") && message.contains("leaky_relu"), "{message}");
    layer_error(Dense::new(4).kernel_initializer("xavier").build(&[vec![2]]), "dense");
    layer_error(Dropout::new(1.5).build(&[vec![2]]), "dropout");
    layer_error(SpatialDropout2D::new(0.1).build(&[vec![4, 4]]), "spatial_dropout2d");
    layer_error(BatchNormalization::new().axis(0).build(&[vec![4]]), "batch_normalization");
    layer_error(SimpleRNN::new(4).build(&[vec![4]]), "simple_rnn");
    layer_error(LSTM::new(4).build(&[vec![4]]), "lstm");
    layer_error(GRU::new(0).build(&[vec![3, 4]]), "gru");
    let message = layer_error(LSTM::new(4).activation("softmax").build(&[vec![3, 4]]), "lstm");
    assert!(message.contains("activation Softmax cannot run in the recurrent cell"), "{message}");
    let message = layer_error(GRU::new(4).recurrent_activation("step").build(&[vec![3, 4]]), "gru");
    assert!(message.contains("recurrent_activation"), "{message}");
    layer_error(Conv2DTranspose::new(4, 3).build(&[vec![4, 4]]), "conv2d_transpose");
    layer_error(Conv2DTranspose::new(0, 3).build(&[vec![4, 4, 1]]), "conv2d_transpose");
    layer_error(GlobalAveragePooling2D::new().build(&[vec![4, 4]]), "global_average_pooling2d");
    layer_error(GlobalMaxPooling2D::new().build(&[vec![4, 4]]), "global_max_pooling2d");
    layer_error(MaxPooling2D::new().padding("full").build(&[vec![4, 4, 1]]), "max_pooling2d");
    let message = layer_error(Add::new().build(&[vec![3], vec![4]]), "add");
    assert!(message.contains("(None, 3), (None, 4)"), "{message}");
    layer_error(Concatenate::new().build(&[vec![3, 2], vec![4, 2]]), "concatenate");
    layer_error(Concatenate::new().axis(0).build(&[vec![3], vec![3]]), "concatenate");

    // At call time: unbuilt, wrong sample shape, wrong dtype, rebuilt for other shapes.
    let mut dense = Dense::new(2).named("head");
    layer_error(dense.forward(&[rand(&[1, 3], 0)], &mut ForwardCtx::inference()), "head");
    dense.build(&[vec![3]]).unwrap();
    let wrong = Tensor::zeros([5, 4], DType::F32, &Device::Cpu).unwrap();
    let message = layer_error(dense.forward(&[wrong], &mut ForwardCtx::inference()), "head");
    assert!(message.contains("(None, 3)") && message.contains("(5, 4)"), "{message}");
    let message = layer_error(dense.forward(&[rand(&[5, 3], 0)], &mut ForwardCtx::inference()), "head");
    assert!(message.contains("f32") && message.contains("f64"), "{message}");
    layer_error(dense.build(&[vec![4]]), "head");
    assert_eq!(dense.build(&[vec![3]]).unwrap(), vec![2]);
}

#[test]
fn activation_layers_gradients() {
    let shape: &[usize] = &[3, 5];
    check_layer("ReLU", ReLU::new(), &[shape], 2, false).assert_within(BOUND);
    let capped = ReLU::new().max_value(0.8).negative_slope(0.1).threshold(0.3);
    check_layer("ReLU capped, leaky, thresholded", capped, &[shape], 2, false).assert_within(BOUND);
    check_layer("LeakyReLU", LeakyReLU::new().negative_slope(0.01), &[shape], 2, false).assert_within(BOUND);
    check_layer("Softmax axis 1", Softmax::new().axis(1), &[shape], 2, false).assert_within(BOUND);
    let prelu = PReLU::new().alpha_initializer(Initializer::random_uniform()).dtype(DType::F64);
    check_layer("PReLU", prelu, &[shape], 2, false).assert_within(BOUND);
    let shared =
        PReLU::new().shared_axes(&[1]).alpha_initializer(Initializer::random_uniform()).dtype(DType::F64);
    check_layer("PReLU shared over axis 1", shared, &[shape], 2, false).assert_within(BOUND);
}

/// The layer applied to `values` (shape `shape`, batch axis included) at inference.
fn apply(layer: &mut dyn Layer, values: &[f64], shape: &[usize]) -> Vec<f64> {
    layer.build(&[shape[1..].to_vec()]).unwrap();
    let x = tensor(values, shape);
    layer.forward(&[x], &mut ForwardCtx::inference()).unwrap().to_vec_f64().unwrap()
}

#[test]
fn activation_layers_known_answers_and_settings() {
    let x = [-2.0, -0.5, 0.0, 0.5, 2.0, 7.0];
    assert_eq!(apply(&mut ReLU::new(), &x, &[1, 6]), [0.0, 0.0, 0.0, 0.5, 2.0, 7.0]);
    // ReLU6.
    assert_eq!(apply(&mut ReLU::new().max_value(6.0), &x, &[1, 6]), [0.0, 0.0, 0.0, 0.5, 2.0, 6.0]);
    // Slope 0.5 below a threshold of 1: there the output is 0.5 * (x - 1).
    let leaky_from_one = apply(&mut ReLU::new().negative_slope(0.5).threshold(1.0), &x, &[1, 6]);
    assert_close(&leaky_from_one, &[-1.5, -0.75, -0.5, -0.25, 2.0, 7.0], 1e-12);
    // LeakyReLU's layer default is Keras's 0.3; the notes' 0.01 is a setting.
    assert_close(&apply(&mut LeakyReLU::new(), &x, &[1, 6]), &[-0.6, -0.15, 0.0, 0.5, 2.0, 7.0], 1e-12);
    assert_close(
        &apply(&mut LeakyReLU::new().negative_slope(0.01), &x, &[1, 6]),
        &[-0.02, -0.005, 0.0, 0.5, 2.0, 7.0],
        1e-12,
    );
    // Softmax over axis 1 of (1, 2, 3): each column of two sums to one.
    let s = apply(&mut Softmax::new().axis(1), &x, &[1, 2, 3]);
    for column in 0..3 {
        assert!((s[column] + s[3 + column] - 1.0).abs() < 1e-12, "{s:?}");
    }
    // PReLU's slopes start at 0 (a relu) and are per element, or shared.
    let mut prelu = PReLU::new().dtype(DType::F64);
    assert_eq!(apply(&mut prelu, &x, &[1, 6]), [0.0, 0.0, 0.0, 0.5, 2.0, 7.0]);
    prelu.weights()[0].assign(&tensor(&[0.1, 0.2, 0.3, 0.4, 0.5, 0.6], &[6])).unwrap();
    let y = prelu.forward(&[tensor(&x, &[1, 6])], &mut ForwardCtx::inference()).unwrap();
    assert_close(&y.to_vec_f64().unwrap(), &[-0.2, -0.1, 0.0, 0.5, 2.0, 7.0], 1e-12);
    // Keras's counts: PReLU on (None, 4) has 4 parameters; on (None, 5, 5, 3) shared over
    // axes [1, 2], 3 (one per channel).
    let mut per_element = PReLU::new();
    per_element.build(&[vec![4]]).unwrap();
    assert_eq!(per_element.weights()[0].numel(), 4);
    let mut per_channel = PReLU::new().shared_axes(&[1, 2]);
    per_channel.build(&[vec![5, 5, 3]]).unwrap();
    assert_eq!(per_channel.weights()[0].value().dims(), [1, 1, 3]);

    // Settings a user can get wrong are errors naming the layer and the value.
    let err = ReLU::new().max_value(-1.0).build(&[vec![3]]).unwrap_err().to_string();
    assert!(err.contains("re_lu") && err.contains("max_value") && err.contains("-1"), "{err}");
    let err = LeakyReLU::new().negative_slope(-0.1).build(&[vec![3]]).unwrap_err().to_string();
    assert!(err.contains("negative_slope") && err.contains("-0.1"), "{err}");
    let err = Softmax::new().axis(3).build(&[vec![3]]).unwrap_err().to_string();
    assert!(err.contains("axis 3") && err.contains("(N, 3)"), "{err}");
    let err = PReLU::new().shared_axes(&[2]).build(&[vec![3]]).unwrap_err().to_string();
    assert!(err.contains("shared axis 2"), "{err}");
}

#[test]
fn reshape_and_upsampling() {
    check_layer("Reshape (-1, 3)", Reshape::new(&[-1, 3]), &[&[2, 3, 2]], 2, false).assert_within(BOUND);
    check_layer("UpSampling2D 2x3", UpSampling2D::new().size((2, 3)), &[&[3, 2, 2]], 2, false)
        .assert_within(BOUND);

    // Reshape infers its -1 and keeps row-major order.
    let mut reshape = Reshape::new(&[3, -1]);
    assert_eq!(reshape.build(&[vec![2, 3]]).unwrap(), [3, 2]);
    let values = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    assert_eq!(apply(&mut Reshape::new(&[3, -1]), &values, &[1, 2, 3]), values);
    for (target, detail) in
        [(&[4, -1][..], "cannot reshape"), (&[-1, -1][..], "at most one -1"), (&[0, 6][..], "positive")]
    {
        let err = Reshape::new(target).build(&[vec![2, 3]]).unwrap_err().to_string();
        assert!(err.contains("reshape") && err.contains(detail), "{target:?}: {err}");
    }

    // UpSampling2D repeats each pixel into a block: [[1, 2], [3, 4]] by (2, 3).
    let mut up = UpSampling2D::new().size((2, 3));
    let y = apply(&mut up, &[1.0, 2.0, 3.0, 4.0], &[1, 2, 2, 1]);
    let row = |a: f64, b: f64| [a, a, a, b, b, b];
    let expected: Vec<f64> = [row(1.0, 2.0), row(1.0, 2.0), row(3.0, 4.0), row(3.0, 4.0)].concat();
    assert_eq!(y, expected);
    assert_eq!(UpSampling2D::new().build(&[vec![5, 7, 3]]).unwrap(), [10, 14, 3]);
    let err = UpSampling2D::new().build(&[vec![5, 7]]).unwrap_err().to_string();
    assert!(err.contains("up_sampling2d") && err.contains("(height, width, channels)"), "{err}");
    let err = UpSampling2D::new().size((0, 2)).build(&[vec![5, 7, 1]]).unwrap_err().to_string();
    assert!(err.contains("size"), "{err}");
}

#[test]
fn embedding_looks_up_rows_and_sums_their_gradients() {
    // Keras's count: Embedding(1000, 64) on sequences of 10 has 64,000 parameters.
    let mut big = Embedding::new(1000, 64);
    assert_eq!(big.build(&[vec![10]]).unwrap(), [10, 64]);
    assert_eq!(big.weights()[0].numel(), 64_000);

    let mut layer = Embedding::new(4, 2).dtype(DType::F64);
    layer.build(&[vec![3]]).unwrap();
    layer.weights()[0].assign(&tensor(&[0.0, 1.0, 10.0, 11.0, 20.0, 21.0, 30.0, 31.0], &[4, 2])).unwrap();
    let ids = tensor(&[3.0, 0.0, 3.0, 1.0, 1.0, 2.0], &[2, 3]);
    let y = layer.forward(std::slice::from_ref(&ids), &mut ForwardCtx::inference()).unwrap();
    assert_eq!(y.dims(), [2, 3, 2]);
    assert_eq!(
        y.to_vec_f64().unwrap(),
        [30.0, 31.0, 0.0, 1.0, 30.0, 31.0, 10.0, 11.0, 10.0, 11.0, 20.0, 21.0]
    );

    // The gradient of the embeddings, by central differences: row 3 and row 1 are each used twice.
    let embeddings = layer.weights()[0].value().clone();
    let report = gradcheck::check("Embedding", &[&embeddings], |values| {
        let tape = Tape::new();
        let mut ctx = ForwardCtx::training(&tape, 0);
        ctx.substitute(layer.weights()[0], values[0].clone());
        layer.forward(std::slice::from_ref(&ids), &mut ctx).unwrap().tanh()
    })
    .unwrap();
    report.assert_within(BOUND);

    for (bad, shown) in [(4.0, "id 4"), (-1.0, "id -1"), (1.5, "id 1.5")] {
        let ids = tensor(&[0.0, bad, 1.0], &[1, 3]);
        let err = layer.forward(&[ids], &mut ForwardCtx::inference()).unwrap_err().to_string();
        assert!(err.contains("embedding") && err.contains(shown) && err.contains("[0, 4)"), "{err}");
    }
}

/// Keras's `unit_forget_bias`: the forget gate's quarter of the bias starts at 1, the rest at
/// the bias initializer's value (exact values, no tolerance).
#[test]
fn lstm_forget_gate_bias_starts_at_one() {
    let mut layer = LSTM::new(3).bias_initializer(Initializer::Constant(0.5));
    layer.build(&[vec![4, 2]]).unwrap();
    let bias = weight_values(&layer, 2);
    assert_eq!(bias, [[0.5; 3], [1.0; 3], [0.5; 3], [0.5; 3]].concat());
    let mut layer = LSTM::new(3).unit_forget_bias(false);
    layer.build(&[vec![4, 2]]).unwrap();
    assert_eq!(weight_values(&layer, 2), [0.0; 12]);
}

/// The weights' shapes in Keras's layouts: LSTM gates i, f, c, o side by side, GRU's bias one
/// row for the input and one for the state, Conv2DTranspose's kernel (KH, KW, filters,
/// channels).
#[test]
fn recurrent_and_transposed_weights_have_keras_shapes() {
    let shapes = |layer: &dyn Layer| -> Vec<Vec<usize>> {
        layer.weights().iter().map(|w| w.value().dims().to_vec()).collect()
    };
    let mut lstm = LSTM::new(5);
    assert_eq!(lstm.build(&[vec![6, 3]]).unwrap(), [5]);
    assert_eq!(shapes(&lstm), [vec![3, 20], vec![5, 20], vec![20]]);
    let mut gru = GRU::new(5).return_sequences(true);
    assert_eq!(gru.build(&[vec![6, 3]]).unwrap(), [6, 5]);
    assert_eq!(shapes(&gru), [vec![3, 15], vec![5, 15], vec![2, 15]]);
    let mut gru = GRU::new(5).reset_after(false);
    assert_eq!(gru.build(&[vec![6, 3]]).unwrap(), [5]);
    assert_eq!(shapes(&gru), [vec![3, 15], vec![5, 15], vec![15]]);
    let mut transposed = Conv2DTranspose::new(4, (3, 2)).strides(2);
    assert_eq!(transposed.build(&[vec![5, 6, 7]]).unwrap(), [11, 12, 4]);
    assert_eq!(shapes(&transposed), [vec![3, 2, 4, 7], vec![4]]);
    let mut same = Conv2DTranspose::new(4, 3).strides((2, 3)).padding("same");
    assert_eq!(same.build(&[vec![5, 6, 7]]).unwrap(), [10, 18, 4]);
}

/// Image layers read Keras's `data_format` as channels_last (or null) and refuse another,
/// naming the layer.
#[test]
fn image_layers_refuse_channels_first() {
    let mut config = ZeroPadding2D::new().padding(1).config().unwrap();
    config.insert("data_format".into(), serde_json::Value::Null);
    assert!(ZeroPadding2D::from_config(&config).is_ok());
    config.insert("data_format".into(), "channels_first".into());
    let err = ZeroPadding2D::from_config(&config).err().unwrap().to_string();
    assert!(err.contains("zero_padding2d") && err.contains("data_format \"channels_first\""), "{err}");
    let mut config = UpSampling2D::new().config().unwrap();
    config.insert("data_format".into(), "channels_first".into());
    let err = UpSampling2D::from_config(&config).err().unwrap().to_string();
    assert!(err.contains("up_sampling2d") && err.contains("expected \"channels_last\""), "{err}");
}
