//! Cases for elementwise ops, broadcasting and reductions.

use super::{Case, ELEMENTWISE_TOLERANCE, REDUCTION_TOLERANCE, input};
use tensor_core::{Shape, Tensor};

/// Shapes that are not multiples of any workgroup size, and a size-1 edge.
const SHAPES: &[&[usize]] = &[&[1], &[7, 13], &[3, 1, 257], &[2, 3, 5, 7]];

pub(super) fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    type Unary = fn(&Tensor) -> tensor_core::Result<Tensor>;
    let unary: &[(&'static str, f64, f64, Unary)] = &[
        ("neg", -1.0, 1.0, |x| x.neg()),
        ("exp", -2.0, 2.0, |x| x.exp()),
        ("log", 0.2, 3.0, |x| x.log()),
        ("sqrt", 0.2, 3.0, |x| x.sqrt()),
        ("abs", -1.0, 1.0, |x| x.abs()),
        ("square", -1.0, 1.0, |x| x.square()),
        ("powf", 0.2, 3.0, |x| x.powf(2.7)),
        ("add_scalar", -1.0, 1.0, |x| x.add_scalar(0.3)),
        ("mul_scalar", -1.0, 1.0, |x| x.mul_scalar(-1.7)),
        ("clip", -1.0, 1.0, |x| x.clip(-0.5, 0.4)),
        ("relu", -1.0, 1.0, |x| x.relu()),
        ("leaky_relu", -1.0, 1.0, |x| x.leaky_relu(0.2)),
        ("sigmoid", -4.0, 4.0, |x| x.sigmoid()),
        ("tanh", -2.0, 2.0, |x| x.tanh()),
        ("step", -1.0, 1.0, |x| x.step(0.1)),
    ];
    for (i, &(op, low, high, f)) in unary.iter().enumerate() {
        let shape = SHAPES[i % SHAPES.len()];
        cases.push(Case::new(op, ELEMENTWISE_TOLERANCE, vec![input(shape, low, high, i as u64)], move |x| {
            f(&x[0])
        }));
    }
    type Binary = fn(&Tensor, &Tensor) -> tensor_core::Result<Tensor>;
    let binary: &[(&'static str, Binary)] = &[
        ("add", |a, b| a.add(b)),
        ("sub", |a, b| a.sub(b)),
        ("mul", |a, b| a.mul(b)),
        ("div", |a, b| a.div(b)),
    ];
    // Equal shapes, general broadcasts, and operands repeating along the leading axes (a bias),
    // in whole vectors (the wrapping kernel, either side) and not (13 elements).
    let pairs: &[(&[usize], &[usize])] = &[
        (&[7, 13], &[7, 13]),
        (&[3, 1, 257], &[5, 1]),
        (&[1], &[2, 3, 5, 7]),
        (&[5, 3, 12], &[12]),
        (&[1, 4, 8], &[6, 4, 8]),
        (&[7, 13], &[13]),
    ];
    for (i, &(op, f)) in binary.iter().enumerate() {
        for (j, &(a, b)) in pairs.iter().enumerate() {
            let seed = 100 + 10 * i as u64 + j as u64;
            // Divisors bounded away from zero keep the comparison about the kernel, not the conditioning.
            let inputs = vec![input(a, -1.0, 1.0, seed), input(b, 0.5, 2.0, seed + 5)];
            cases.push(Case::new(op, ELEMENTWISE_TOLERANCE, inputs, move |x| f(&x[0], &x[1])));
        }
    }
    cases.push(
        Case::new("eq", ELEMENTWISE_TOLERANCE, vec![input(&[7, 13], 0.0, 1.0, 300)], |x| {
            x[0].eq(&x[0].max(&[1], true)?)
        })
        .forward_only(),
    );
    cases.push(Case::new("broadcast_to", ELEMENTWISE_TOLERANCE, vec![input(&[5, 1], -1.0, 1.0, 301)], |x| {
        x[0].broadcast_to(&Shape::new([3, 5, 257]))
    }));
    for (i, shape) in [&[1usize][..], &[7, 13], &[3, 1, 257], &[2, 3, 5, 7], &[4099]].iter().enumerate() {
        let x = input(shape, -1.0, 1.0, 400 + i as u64);
        let last = shape.len() as isize - 1;
        cases.push(Case::new("sum", REDUCTION_TOLERANCE, vec![x.clone()], move |x| x[0].sum(&[last], false)));
        cases.push(Case::new("sum", REDUCTION_TOLERANCE, vec![x.clone()], |x| x[0].sum(&[0], true)));
        cases.push(Case::new("mean", REDUCTION_TOLERANCE, vec![x.clone()], |x| x[0].mean_all()));
        cases.push(Case::new("max", REDUCTION_TOLERANCE, vec![x], move |x| x[0].max(&[last], true)));
    }
    // Many outputs, each short: one invocation per output instead of a workgroup.
    let x = input(&[5, 300], -1.0, 1.0, 410);
    cases.push(Case::new("sum per output", REDUCTION_TOLERANCE, vec![x.clone()], |x| x[0].sum(&[0], false)));
    cases.push(Case::new("max per output", REDUCTION_TOLERANCE, vec![x], |x| x[0].max(&[0], false)));
    cases
}
