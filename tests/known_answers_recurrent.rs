//! LSTM and GRU against Keras 3's own outputs for the same weights and inputs.
//!
//! The expected values came from Keras 3.15.1 (JAX backend, float64) by this script, run by
//! hand, not in CI:
//!
//! ```python
//! import os; os.environ["KERAS_BACKEND"] = "jax"
//! import jax; jax.config.update("jax_enable_x64", True)
//! import numpy as np, keras
//! def vals(shape, off):
//!     return (np.sin(np.arange(int(np.prod(shape))) + off) * 0.5).reshape(shape)
//! x = vals((2, 4, 3), 0.0)
//! for layer in [keras.layers.LSTM(2, return_sequences=True, dtype="float64"),
//!               keras.layers.LSTM(2, return_sequences=True, go_backwards=True, dtype="float64"),
//!               keras.layers.GRU(2, return_sequences=True, dtype="float64"),
//!               keras.layers.GRU(2, dtype="float64"),
//!               keras.layers.GRU(2, return_sequences=True, reset_after=False, dtype="float64")]:
//!     layer.build((None, 4, 3))
//!     layer.set_weights([vals(w.shape, 10.0 * (k + 1)) for k, w in enumerate(layer.weights)])
//!     print(np.asarray(layer(x)).reshape(-1).tolist())
//! ```

mod common;

use common::{assert_close, tensor};
use tessera::nn::{ForwardCtx, GRU, LSTM, Layer};
use tessera::{DType, Tensor};

/// Keras's float64 run still rounds somewhere at about f32's precision: its outputs differ by up
/// to 2.5e-8 from a float64 NumPy transcription of the same equations (Keras's
/// `LSTMCell.call` / `GRUCell.call`), which tessera's f64 outputs match to 1e-15. 1e-7 covers
/// that rounding; a wrong gate order, bias row or direction errs by more than 1e-2.
const TOLERANCE: f64 = 1e-7;

/// `sin(i + offset) / 2` for the i-th element of `shape`, row-major: the script's `vals`.
fn vals(shape: &[usize], offset: f64) -> Tensor {
    let n = shape.iter().product::<usize>();
    let values: Vec<f64> = (0..n).map(|i| (i as f64 + offset).sin() * 0.5).collect();
    tensor(&values, shape)
}

/// Builds `layer` for (4, 3) sequences, sets weight k to `vals(shape, 10 * (k + 1))` as the
/// script does, and runs it on the script's batch.
fn run(mut layer: impl Layer) -> Vec<f64> {
    layer.build(&[vec![4, 3]]).unwrap();
    for (k, weight) in layer.weights().into_iter().enumerate() {
        weight.assign(&vals(weight.value().dims(), 10.0 * (k + 1) as f64)).unwrap();
    }
    let x = vals(&[2, 4, 3], 0.0);
    layer.forward(&[x], &mut ForwardCtx::inference()).unwrap().to_vec_f64().unwrap()
}

#[test]
fn lstm_matches_keras() {
    let expected = [
        0.005289221436694796,
        -0.10609979802844202,
        0.06632422612784346,
        -0.0511211106323742,
        0.02817582360530564,
        -0.1683796174525888,
        0.07532168497639931,
        -0.08073803530953952,
        -0.01905834900141606,
        -0.12407307350718398,
        0.05339973168453499,
        -0.056145022106800405,
        0.0065776894083137945,
        -0.1797878721536381,
        0.05931231747076704,
        -0.08800541532851527,
    ];
    let out = run(LSTM::new(2).return_sequences(true).dtype(DType::F64));
    assert_close(&out, &expected, TOLERANCE);
}

#[test]
fn lstm_going_backwards_matches_keras() {
    let expected = [
        0.06883174951069364,
        0.008548757967744909,
        0.03334143016024617,
        -0.11472108780292624,
        0.07922626869510081,
        -0.053049487549979596,
        0.04714958906537069,
        -0.15714723374646736,
        0.06276490441590228,
        0.0010561767923213834,
        0.015988721526989137,
        -0.12436894367265038,
        0.06861212864937061,
        -0.05505966104651333,
        0.023500931600108074,
        -0.18179183531028226,
    ];
    let out = run(LSTM::new(2).return_sequences(true).go_backwards(true).dtype(DType::F64));
    assert_close(&out, &expected, TOLERANCE);
}

#[test]
fn gru_matches_keras() {
    let expected = [
        0.5011273031473549,
        0.08648492853993349,
        0.17688792253155833,
        -0.23550557733963193,
        0.511358209631488,
        -0.011751886302802668,
        0.2629490290518912,
        -0.2758069907553982,
        0.39764584044294404,
        -0.022120394899897197,
        0.3276729587807725,
        -0.25711686811307205,
        0.4132660285879542,
        -0.17018062151628352,
        0.4342447283695559,
        -0.2637622594987909,
    ];
    let out = run(GRU::new(2).return_sequences(true).dtype(DType::F64));
    assert_close(&out, &expected, TOLERANCE);
    // The last state alone is the sequence's last step of each sample.
    let last = run(GRU::new(2).dtype(DType::F64));
    assert_close(
        &last,
        &[0.2629490290518912, -0.2758069907553982, 0.4342447283695559, -0.2637622594987909],
        TOLERANCE,
    );
}

/// The original GRU, `reset_after=False`: the reset gate before the candidate's product, one
/// bias row.
#[test]
fn gru_with_the_reset_gate_first_matches_keras() {
    let expected = [
        0.35470907964066756,
        0.11441807139015431,
        0.047589973006558116,
        -0.15698946072793138,
        0.3442701282214621,
        0.026476442158229984,
        0.11095703178254727,
        -0.20041622717766255,
        0.2408541065917856,
        0.013890576444916841,
        0.15812939360136968,
        -0.1857281110571716,
        0.23998536940622558,
        -0.11997857824414095,
        0.2622991431257464,
        -0.201613998748288,
    ];
    let out = run(GRU::new(2).return_sequences(true).reset_after(false).dtype(DType::F64));
    assert_close(&out, &expected, TOLERANCE);
}
