//! Cases for the fused recurrent cell steps, `lstm_cell` and `gru_cell`: rows and units of 1,
//! of odd sizes, and more than a 256-invocation workgroup, with Keras's default activations and
//! others a layer may choose.

use super::{Case, ELEMENTWISE_TOLERANCE, input};
use tensor_core::Activation;

/// (rows, units): one of each, odd sizes (a batch of 3 and 9 units), and 65 x 37 = 2,405
/// invocations over several workgroups.
const SIZES: &[(usize, usize)] = &[(1, 1), (3, 9), (65, 37)];

/// (activation, recurrent_activation): Keras's default, and each kernel branch once more.
const PAIRS: &[(Activation, Activation)] = &[
    (Activation::Tanh, Activation::Sigmoid),
    (Activation::Relu, Activation::Tanh),
    (Activation::LeakyRelu(0.2), Activation::Identity),
];

pub(super) fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for (i, &(rows, units)) in SIZES.iter().enumerate() {
        for (j, &(activation, recurrent)) in PAIRS.iter().enumerate() {
            let seed = 1300 + 10 * i as u64 + 3 * j as u64;
            let detail = format!(" {activation:?}/{recurrent:?}");
            let gates = input(&[rows, 4 * units], -2.0, 2.0, seed);
            let c_prev = input(&[rows, units], -1.0, 1.0, seed + 1);
            let mut lstm = Case::new("lstm_cell", ELEMENTWISE_TOLERANCE, vec![gates, c_prev], move |x| {
                x[0].lstm_cell(&x[1], activation, recurrent)
            });
            lstm.shapes.push_str(&detail);
            cases.push(lstm);
            for reset_after in [true, false] {
                let x = input(&[rows, 3 * units], -2.0, 2.0, seed + 2);
                let inner = input(&[rows, 3 * units], -2.0, 2.0, seed + 3);
                let h_prev = input(&[rows, units], -1.0, 1.0, seed + 4);
                let mut gru =
                    Case::new("gru_cell", ELEMENTWISE_TOLERANCE, vec![x, inner, h_prev], move |x| {
                        x[0].gru_cell(&x[1], &x[2], activation, recurrent, reset_after)
                    });
                gru.shapes.push_str(&format!("{detail} reset_after {reset_after}"));
                cases.push(gru);
            }
        }
    }
    cases
}
