//! Cases for data movement: reshape, permute, slice, padding and concat.

use super::{Case, ELEMENTWISE_TOLERANCE, input};
use tensor_core::Tensor;

pub(super) fn cases() -> Vec<Case> {
    let x = input(&[2, 7, 5, 3], -1.0, 1.0, 500);
    vec![
        Case::new("reshape", ELEMENTWISE_TOLERANCE, vec![x.clone()], |x| {
            x[0].reshape([14, 15])?.mul_scalar(2.0)
        }),
        Case::new("permute", ELEMENTWISE_TOLERANCE, vec![x.clone()], |x| x[0].permute(&[0, 3, 1, 2])),
        Case::new("transpose", ELEMENTWISE_TOLERANCE, vec![input(&[13, 7], -1.0, 1.0, 501)], |x| {
            x[0].transpose(0, 1)
        }),
        Case::new("slice", ELEMENTWISE_TOLERANCE, vec![x.clone()], |x| x[0].slice(1, 2, 6)),
        Case::new("slice", ELEMENTWISE_TOLERANCE, vec![x.clone()], |x| x[0].slice(-1, 1, 2)),
        Case::new("pad_axis", ELEMENTWISE_TOLERANCE, vec![x], |x| x[0].pad_axis(2, 1, 3)),
        Case::new(
            "concat",
            ELEMENTWISE_TOLERANCE,
            vec![
                input(&[3, 5], -1.0, 1.0, 502),
                input(&[3, 1], -1.0, 1.0, 503),
                input(&[3, 7], -1.0, 1.0, 504),
            ],
            |x| Tensor::concat(&[&x[0], &x[1], &x[2]], 1),
        ),
    ]
}
