//! Gradient checks (f64, central differences) for elementwise ops, broadcasting and reductions.

mod common;

use common::{SHAPES, rand, rand_in};
use tessera::tensor_core::gradcheck;

/// Bound on the max relative error (see `gradcheck::check`) for smooth elementwise ops.
const BOUND: f64 = 1e-6;

fn check_unary(
    name: &str,
    low: f64,
    high: f64,
    f: impl Fn(&tessera::Tensor) -> tessera::Result<tessera::Tensor>,
) {
    for (i, shape) in SHAPES.iter().enumerate() {
        let x = rand_in(shape, low, high, i as u64);
        gradcheck::check(name, &[&x], |xs| f(&xs[0])).unwrap().assert_within(BOUND);
    }
}

#[test]
fn unary_arithmetic() {
    check_unary("neg", -1.0, 1.0, |x| x.neg());
    check_unary("exp", -2.0, 2.0, |x| x.exp());
    check_unary("log", 0.2, 3.0, |x| x.log());
    check_unary("sqrt", 0.2, 3.0, |x| x.sqrt());
    check_unary("abs", -1.0, 1.0, |x| x.abs());
    check_unary("square", -1.0, 1.0, |x| x.square());
    check_unary("powf", 0.2, 3.0, |x| x.powf(2.7));
    check_unary("add_scalar", -1.0, 1.0, |x| x.add_scalar(0.3));
    check_unary("mul_scalar", -1.0, 1.0, |x| x.mul_scalar(-1.7));
    check_unary("clip", -1.0, 1.0, |x| x.clip(-0.5, 0.4));
}

#[test]
fn activations() {
    check_unary("relu", -1.0, 1.0, |x| x.relu());
    check_unary("leaky_relu", -1.0, 1.0, |x| x.leaky_relu(0.2));
    check_unary("sigmoid", -4.0, 4.0, |x| x.sigmoid());
    check_unary("tanh", -2.0, 2.0, |x| x.tanh());
}

#[test]
fn binary_with_broadcasting() {
    let pairs: &[(&[usize], &[usize])] = &[
        (&[1], &[1]),
        (&[7, 13], &[7, 13]),
        (&[7, 13], &[13]),
        (&[3, 1, 7], &[13, 1]),
        (&[1], &[2, 3, 7]),
        (&[3, 1], &[1, 13]),
    ];
    for (i, (sa, sb)) in pairs.iter().enumerate() {
        let a = rand(sa, 100 + i as u64);
        let b = rand(sb, 200 + i as u64);
        let positive_b = rand_in(sb, 0.5, 2.0, 300 + i as u64);
        gradcheck::check("add", &[&a, &b], |x| x[0].add(&x[1])).unwrap().assert_within(BOUND);
        gradcheck::check("sub", &[&a, &b], |x| x[0].sub(&x[1])).unwrap().assert_within(BOUND);
        gradcheck::check("mul", &[&a, &b], |x| x[0].mul(&x[1])).unwrap().assert_within(BOUND);
        gradcheck::check("div", &[&a, &positive_b], |x| x[0].div(&x[1])).unwrap().assert_within(BOUND);
        gradcheck::check("broadcast_to", &[&b], |x| {
            let target = a.shape().broadcast("test", b.shape())?;
            x[0].broadcast_to(&target)
        })
        .unwrap()
        .assert_within(BOUND);
    }
}

#[test]
fn same_tensor_on_both_sides() {
    let x = rand(&[3, 7], 5);
    gradcheck::check("x*x", &[&x], |x| x[0].mul(&x[0])).unwrap().assert_within(BOUND);
    gradcheck::check("x/(x+2)", &[&x], |x| x[0].div(&x[0].add_scalar(2.0)?)).unwrap().assert_within(BOUND);
}

#[test]
fn reductions() {
    for (i, shape) in SHAPES.iter().enumerate() {
        let x = rand(shape, 400 + i as u64);
        let rank = shape.len() as isize;
        for axes in [vec![0isize], vec![-1], (0..rank).collect::<Vec<_>>()] {
            for keepdim in [false, true] {
                let name = format!("sum {shape:?} axes {axes:?} keepdim {keepdim}");
                gradcheck::check(&name, &[&x], |x| x[0].sum(&axes, keepdim)).unwrap().assert_within(BOUND);
                gradcheck::check(&name, &[&x], |x| x[0].mean(&axes, keepdim)).unwrap().assert_within(BOUND);
                gradcheck::check(&name, &[&x], |x| x[0].max(&axes, keepdim)).unwrap().assert_within(BOUND);
            }
        }
    }
}

#[test]
fn max_shares_gradient_between_ties() {
    let x = common::tensor(&[1.0, 3.0, 3.0, 2.0], &[4]);
    let tape = tessera::Tape::new();
    let xw = tape.watch(&x);
    let grads = tape.backward(&xw.max(&[0], false).unwrap()).unwrap();
    assert_eq!(grads.get(&xw).unwrap().to_vec::<f64>().unwrap(), vec![0.0, 0.5, 0.5, 0.0]);
}
