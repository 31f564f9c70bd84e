//! Matrix products: gradient checks (f64, central differences) for every transpose combination
//! and batch layout, the forward against a naive product, and shape errors.

mod common;

use common::{assert_close, rand, tensor};
use tessera::tensor_core::gradcheck;
use tessera::{DType, Device, Error, Tensor};

/// Bound on the max relative error of a gradient check. A product is linear in each operand, so
/// central differences err only by round-off: about 1e-16 * |objective| / STEP = 1e-10 absolute,
/// which against the 1e-3 floor of small gradients reads as up to ~1e-7. A wrong rule errs by O(1).
const BOUND: f64 = 1e-6;

/// Forward results against the naive product: sums of a few products of values in [-1, 1).
const FORWARD_TOLERANCE: f64 = 1e-12;

/// (op(lhs) shape, op(rhs) shape): the operands as the product sees them, transposes undone.
const CASES: &[(&[usize], &[usize])] = &[
    (&[1, 1], &[1, 1]),
    (&[3, 7], &[7, 13]),
    (&[13, 1], &[1, 7]),
    (&[2, 3, 7], &[2, 7, 5]),
    // A batch against one shared matrix, on either side.
    (&[2, 3, 7], &[7, 5]),
    (&[3, 7], &[2, 7, 5]),
    // More than one batch axis.
    (&[2, 3, 3, 7], &[2, 3, 7, 1]),
    (&[2, 1, 13, 3], &[3, 1]),
];

const TRANSPOSES: [(bool, bool); 4] = [(false, false), (true, false), (false, true), (true, true)];

/// The stored shape of an operand that `op` sees as `dims`: its last two axes swapped when it is
/// read transposed.
fn stored(dims: &[usize], transposed: bool) -> Vec<usize> {
    let mut dims = dims.to_vec();
    if transposed {
        let r = dims.len();
        dims.swap(r - 2, r - 1);
    }
    dims
}

/// `op(a) · op(b)` by the definition, one output element at a time.
fn naive(a: &Tensor, b: &Tensor, ta: bool, tb: bool) -> Vec<f64> {
    let (av, bv) = (a.to_vec::<f64>().unwrap(), b.to_vec::<f64>().unwrap());
    let (ad, bd) = (a.dims(), b.dims());
    let (ar, ac) = (ad[ad.len() - 2], ad[ad.len() - 1]);
    let (br, bc) = (bd[bd.len() - 2], bd[bd.len() - 1]);
    let (m, k) = if ta { (ac, ar) } else { (ar, ac) };
    let n = if tb { br } else { bc };
    let a_batch = av.len() / (ar * ac);
    let b_batch = bv.len() / (br * bc);
    let batch = a_batch.max(b_batch);
    let a_at = |e: usize, i: usize, p: usize| {
        let base = if a_batch == 1 { 0 } else { e * ar * ac };
        av[base + if ta { p * ac + i } else { i * ac + p }]
    };
    let b_at = |e: usize, p: usize, j: usize| {
        let base = if b_batch == 1 { 0 } else { e * br * bc };
        bv[base + if tb { j * bc + p } else { p * bc + j }]
    };
    let mut out = Vec::new();
    for e in 0..batch {
        for i in 0..m {
            for j in 0..n {
                out.push((0..k).map(|p| a_at(e, i, p) * b_at(e, p, j)).sum());
            }
        }
    }
    out
}

#[test]
fn gradients_for_every_transpose_and_batch_layout() {
    for (c, (lhs, rhs)) in CASES.iter().enumerate() {
        for (t, &(ta, tb)) in TRANSPOSES.iter().enumerate() {
            let seed = (10 * c + t) as u64;
            let a = rand(&stored(lhs, ta), 2 * seed);
            let b = rand(&stored(rhs, tb), 2 * seed + 1);
            let name = format!("matmul {lhs:?} x {rhs:?} transposes ({ta}, {tb})");
            gradcheck::check(&name, &[&a, &b], |x| x[0].matmul_t(&x[1], ta, tb))
                .unwrap()
                .assert_within(BOUND);
        }
    }
}

#[test]
fn forward_matches_the_naive_product() {
    for (c, (lhs, rhs)) in CASES.iter().enumerate() {
        for (t, &(ta, tb)) in TRANSPOSES.iter().enumerate() {
            let seed = 1000 + (10 * c + t) as u64;
            let a = rand(&stored(lhs, ta), 2 * seed);
            let b = rand(&stored(rhs, tb), 2 * seed + 1);
            let out = a.matmul_t(&b, ta, tb).unwrap();
            let batch = if lhs.len() >= rhs.len() { &lhs[..lhs.len() - 2] } else { &rhs[..rhs.len() - 2] };
            let expected_shape = [batch, &[lhs[lhs.len() - 2], rhs[rhs.len() - 1]]].concat();
            assert_eq!(out.dims(), expected_shape.as_slice(), "{lhs:?} x {rhs:?} ({ta}, {tb})");
            assert_close(&out.to_vec::<f64>().unwrap(), &naive(&a, &b, ta, tb), FORWARD_TOLERANCE);
        }
    }
}

#[test]
fn known_product() {
    let a = tensor(&[1.0, 2.0, 3.0, 4.0], &[2, 2]);
    let b = tensor(&[5.0, 6.0, 7.0, 8.0], &[2, 2]);
    assert_eq!(a.matmul(&b).unwrap().to_vec::<f64>().unwrap(), vec![19.0, 22.0, 43.0, 50.0]);
    // aᵀ·b and a·bᵀ, read transposed in place.
    assert_eq!(a.matmul_t(&b, true, false).unwrap().to_vec::<f64>().unwrap(), vec![26.0, 30.0, 38.0, 44.0]);
    assert_eq!(a.matmul_t(&b, false, true).unwrap().to_vec::<f64>().unwrap(), vec![17.0, 23.0, 39.0, 53.0]);
}

#[test]
fn f32_products_work_too() {
    let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], [1, 3], &Device::Cpu).unwrap();
    let b = Tensor::from_vec(vec![4.0f32, 5.0, 6.0], [3, 1], &Device::Cpu).unwrap();
    assert_eq!(a.matmul(&b).unwrap().to_vec::<f32>().unwrap(), vec![32.0]);
}

#[test]
fn mismatched_operands_are_errors() {
    let shape_error = |a: &[usize], b: &[usize], ta: bool, tb: bool| {
        let err = rand(a, 1).matmul_t(&rand(b, 2), ta, tb).unwrap_err();
        assert!(matches!(err, Error::Shape { op: "matmul", .. }), "{a:?} x {b:?}: {err}");
        err.to_string()
    };
    let message = shape_error(&[3, 7], &[5, 2], false, false);
    assert!(message.contains("(3, 7)") && message.contains("(5, 2)"), "{message}");
    shape_error(&[3, 7], &[3, 7], false, false);
    shape_error(&[7, 3], &[7, 2], false, false);
    shape_error(&[7], &[7, 2], false, false);
    shape_error(&[2, 3, 4], &[3, 4, 5], false, false);
    shape_error(&[2, 3, 4], &[2, 5, 4], false, false);

    let f32_rhs = Tensor::zeros([7, 2], DType::F32, &Device::Cpu).unwrap();
    let err = rand(&[3, 7], 1).matmul(&f32_rhs).unwrap_err();
    assert!(matches!(err, Error::DType { op: "matmul", .. }), "{err}");
}
