//! Layout ops: permute, transpose, slice, pad_axis, concat, gather_rows and scatter_add_rows.
//! Gradient checks (f64, central differences), known answers and errors.

mod common;

use common::{assert_close, rand, tensor};
use tessera::tensor_core::gradcheck;
use tessera::{DType, Device, Tensor};

/// Bound on the max relative error for layout ops. They only move (or add) elements, so the
/// objective is linear and the central difference is exact but for the round-off of summing up to
/// ~550 weighted outputs, ~1e-14 over 2 * STEP: ~1e-8 absolute, up to 1e-5 relative against the
/// 1e-3 floor of small gradients (observed worst: 9e-7). A misplaced element errs by order 1.
const BOUND: f64 = 1e-5;

fn check(name: &str, inputs: &[&Tensor], f: impl Fn(&[Tensor]) -> tessera::Result<Tensor>) {
    gradcheck::check(name, inputs, f).unwrap().assert_within(BOUND);
}

/// Asserts that `result` is an error whose message names `op`.
fn assert_err_names(result: tessera::Result<Tensor>, op: &str) {
    match result {
        Ok(t) => panic!("expected an error from {op}, got {t:?}"),
        Err(e) => assert!(e.to_string().contains(op), "error does not name {op}: {e}"),
    }
}

#[test]
fn permute_gradients() {
    let cases: &[(&[usize], &[usize])] = &[
        (&[7], &[0]),
        (&[3, 7], &[1, 0]),
        (&[13, 1, 3], &[2, 0, 1]),
        (&[13, 1, 3], &[1, 2, 0]),
        // NHWC -> NCHW and back.
        (&[2, 7, 3, 13], &[0, 3, 1, 2]),
        (&[2, 13, 7, 3], &[0, 2, 3, 1]),
        (&[3, 1, 7, 2], &[3, 2, 0, 1]),
    ];
    for (i, (shape, axes)) in cases.iter().enumerate() {
        let x = rand(shape, 10 + i as u64);
        check(&format!("permute {shape:?} {axes:?}"), &[&x], |x| x[0].permute(axes));
    }
}

#[test]
fn transpose_gradients() {
    let cases: &[(&[usize], isize, isize)] =
        &[(&[3, 7], 0, 1), (&[13, 3], -1, -2), (&[2, 3, 1, 7], 0, -1), (&[2, 7, 13], 1, 1)];
    for (i, &(shape, a, b)) in cases.iter().enumerate() {
        let x = rand(shape, 20 + i as u64);
        check(&format!("transpose {shape:?} {a} {b}"), &[&x], |x| x[0].transpose(a, b));
    }
}

#[test]
fn permute_known_answer() {
    let x = tensor(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0], &[2, 3]);
    let t = x.transpose(0, 1).unwrap();
    assert_eq!(t.dims(), &[3, 2]);
    assert_eq!(t.to_vec::<f64>().unwrap(), vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);

    // (N=1, H=2, W=2, C=3) to (N, C, H, W): each channel's plane comes out contiguous.
    let nhwc = Tensor::from_vec((0..12).map(f64::from).collect(), [1, 2, 2, 3], &Device::Cpu).unwrap();
    let nchw = nhwc.permute(&[0, 3, 1, 2]).unwrap();
    assert_eq!(nchw.dims(), &[1, 3, 2, 2]);
    let expected = [0.0, 3.0, 6.0, 9.0, 1.0, 4.0, 7.0, 10.0, 2.0, 5.0, 8.0, 11.0];
    assert_eq!(nchw.to_vec::<f64>().unwrap(), expected);
    let back = nchw.permute(&[0, 2, 3, 1]).unwrap();
    assert_eq!(back.to_vec::<f64>().unwrap(), nhwc.to_vec::<f64>().unwrap());
}

#[test]
fn slice_gradients() {
    let shape = [3, 7, 13];
    let x = rand(&shape, 30);
    let cases: &[(isize, usize, usize)] = &[
        (0, 1, 3),
        (0, 0, 1),
        (1, 2, 5),
        (1, 0, 7),
        (-1, 4, 13),
        (2, 12, 13),
        // An empty range: the gradient is all zeros.
        (1, 3, 3),
    ];
    for &(axis, start, end) in cases {
        check(&format!("slice {shape:?} axis {axis} {start}..{end}"), &[&x], |x| {
            x[0].slice(axis, start, end)
        });
    }
    let column = rand(&[13, 1], 31);
    check("slice (13, 1) rows", &[&column], |x| x[0].slice(0, 6, 13));
}

#[test]
fn pad_axis_gradients() {
    let cases: &[(&[usize], isize, usize, usize)] =
        &[(&[1], 0, 2, 3), (&[3, 7], 0, 0, 1), (&[3, 7], -1, 3, 0), (&[2, 1, 13], 1, 6, 6)];
    for (i, &(shape, axis, before, after)) in cases.iter().enumerate() {
        let x = rand(shape, 40 + i as u64);
        check(&format!("pad_axis {shape:?} axis {axis} {before}+{after}"), &[&x], |x| {
            x[0].pad_axis(axis, before, after)
        });
    }
}

#[test]
fn slice_and_pad_known_answer() {
    let x = tensor(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0], &[2, 3]);
    let s = x.slice(1, 1, 3).unwrap();
    assert_eq!(s.dims(), &[2, 2]);
    assert_eq!(s.to_vec::<f64>().unwrap(), vec![1.0, 2.0, 4.0, 5.0]);
    let p = s.pad_axis(-1, 1, 2).unwrap();
    assert_eq!(p.dims(), &[2, 5]);
    assert_eq!(p.to_vec::<f64>().unwrap(), vec![0.0, 1.0, 2.0, 0.0, 0.0, 0.0, 4.0, 5.0, 0.0, 0.0]);
    assert_eq!(x.slice(0, 1, 1).unwrap().dims(), &[0, 3]);
}

#[test]
fn concat_gradients() {
    let cases: &[(&[&[usize]], isize)] = &[
        (&[&[3, 7], &[1, 7]], 0),
        (&[&[3, 7], &[3, 13]], 1),
        (&[&[1], &[7], &[3]], 0),
        (&[&[2, 1, 3], &[2, 7, 3], &[2, 13, 3]], 1),
        (&[&[13, 1, 3], &[13, 1, 7]], -1),
        (&[&[2, 3, 7], &[1, 3, 7], &[3, 3, 7]], 0),
        (&[&[3, 2, 1, 7], &[3, 2, 3, 7]], 2),
    ];
    for (i, (shapes, axis)) in cases.iter().enumerate() {
        let xs: Vec<Tensor> =
            shapes.iter().enumerate().map(|(k, s)| rand(s, 50 + 10 * i as u64 + k as u64)).collect();
        let inputs: Vec<&Tensor> = xs.iter().collect();
        check(&format!("concat {shapes:?} axis {axis}"), &inputs, |x| {
            Tensor::concat(&x.iter().collect::<Vec<_>>(), *axis)
        });
    }
}

#[test]
fn concat_of_one_tensor_with_itself_accumulates() {
    let x = rand(&[3, 7], 60);
    check("concat [x, x] axis 1", &[&x], |x| Tensor::concat(&[&x[0], &x[0]], 1));
    check("concat [x, 2x, x] axis 0", &[&x], |x| Tensor::concat(&[&x[0], &x[0].mul_scalar(2.0)?, &x[0]], 0));
}

#[test]
fn concat_known_answer() {
    let a = tensor(&[0.0, 1.0, 2.0, 3.0], &[2, 2]);
    let b = tensor(&[4.0, 5.0], &[2, 1]);
    let c = Tensor::concat(&[&a, &b], 1).unwrap();
    assert_eq!(c.dims(), &[2, 3]);
    assert_eq!(c.to_vec::<f64>().unwrap(), vec![0.0, 1.0, 4.0, 2.0, 3.0, 5.0]);
    let r = Tensor::concat(&[&a, &b.reshape([1, 2]).unwrap()], 0).unwrap();
    assert_eq!(r.to_vec::<f64>().unwrap(), vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
}

#[test]
fn gather_rows_gradients() {
    let cases: &[(&[usize], &[usize])] = &[
        (&[1], &[0, 0, 0]),
        (&[7, 3], &[6, 0, 6, 2, 6]),
        (&[7, 3], &[3]),
        (&[13, 1, 3], &[0, 0, 12, 5, 12, 12, 1]),
        (&[3, 2, 7], &[2, 1, 0]),
        (&[3, 2, 7], &[]),
    ];
    for (i, (shape, indices)) in cases.iter().enumerate() {
        let x = rand(shape, 70 + i as u64);
        check(&format!("gather_rows {shape:?} {indices:?}"), &[&x], |x| x[0].gather_rows(indices));
    }
}

#[test]
fn scatter_add_rows_gradients() {
    let cases: &[(&[usize], &[usize], usize)] =
        &[(&[3], &[0, 0, 0], 1), (&[5, 3], &[6, 0, 6, 2, 6], 7), (&[7, 1, 3], &[0, 0, 12, 5, 12, 12, 1], 13)];
    for (i, (shape, indices, rows)) in cases.iter().enumerate() {
        let x = rand(shape, 80 + i as u64);
        check(&format!("scatter_add_rows {shape:?} {indices:?}"), &[&x], |x| {
            x[0].scatter_add_rows(indices, *rows)
        });
    }
}

#[test]
fn gather_and_scatter_known_answer() {
    let x = tensor(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0], &[3, 2]);
    let g = x.gather_rows(&[2, 0, 2]).unwrap();
    assert_eq!(g.dims(), &[3, 2]);
    assert_eq!(g.to_vec::<f64>().unwrap(), vec![4.0, 5.0, 0.0, 1.0, 4.0, 5.0]);
    let s = g.scatter_add_rows(&[2, 0, 2], 4).unwrap();
    assert_eq!(s.dims(), &[4, 2]);
    assert_close(&s.to_vec::<f64>().unwrap(), &[0.0, 1.0, 0.0, 0.0, 8.0, 10.0, 0.0, 0.0], 0.0);
}

#[test]
fn layout_ops_run_in_f32() {
    let x = Tensor::uniform([2, 3, 7], -1.0, 1.0, 90, DType::F32, &Device::Cpu).unwrap();
    let round_trip = x.permute(&[2, 0, 1]).unwrap().permute(&[1, 2, 0]).unwrap();
    assert_eq!(round_trip.to_vec::<f32>().unwrap(), x.to_vec::<f32>().unwrap());
    let halves = [x.slice(2, 0, 3).unwrap(), x.slice(2, 3, 7).unwrap()];
    let joined = Tensor::concat(&[&halves[0], &halves[1]], 2).unwrap();
    assert_eq!(joined.to_vec::<f32>().unwrap(), x.to_vec::<f32>().unwrap());
    assert_eq!(x.gather_rows(&[1]).unwrap().to_vec::<f32>().unwrap(), x.to_vec::<f32>().unwrap()[21..]);
}

#[test]
fn bad_arguments_are_errors_naming_the_op() {
    let x = rand(&[2, 3, 7], 99);
    assert_err_names(x.permute(&[0, 0, 2]), "permute");
    assert_err_names(x.permute(&[0, 1]), "permute");
    assert_err_names(x.permute(&[0, 1, 3]), "permute");
    assert_err_names(x.permute(&[0, 1, 2, 3]), "permute");
    assert_err_names(x.transpose(0, 3), "transpose");
    assert_err_names(x.transpose(-4, 0), "transpose");

    assert_err_names(x.slice(1, 2, 1), "slice");
    assert_err_names(x.slice(1, 0, 4), "slice");
    assert_err_names(x.slice(3, 0, 1), "slice");
    assert_err_names(Tensor::scalar(1.0, DType::F64, &Device::Cpu).unwrap().slice(0, 0, 1), "slice");
    assert_err_names(x.pad_axis(-4, 1, 1), "pad_axis");
    assert_err_names(x.pad_axis(0, usize::MAX, 1), "pad_axis");

    let y = rand(&[2, 4, 7], 98);
    assert_err_names(Tensor::concat(&[], 0), "concat");
    assert_err_names(Tensor::concat(&[&x, &y], 0), "concat");
    assert_err_names(Tensor::concat(&[&x, &rand(&[2, 3], 97)], 0), "concat");
    assert_err_names(Tensor::concat(&[&x, &x], 3), "concat");
    assert_err_names(Tensor::concat(&[&x, &x.to_dtype(DType::F32).unwrap()], 0), "concat");
    let message = Tensor::concat(&[&x, &x, &y], 2).unwrap_err().to_string();
    assert!(
        message.contains("tensor 2") && message.contains("(2, 4, 7)") && message.contains("(2, 3, 7)"),
        "{message}"
    );

    assert_err_names(x.gather_rows(&[0, 2]), "gather_rows");
    let message = x.gather_rows(&[1, 0, 5]).unwrap_err().to_string();
    assert!(message.contains("index 5"), "{message}");
    assert_err_names(Tensor::scalar(1.0, DType::F64, &Device::Cpu).unwrap().gather_rows(&[0]), "gather_rows");
    assert_err_names(x.scatter_add_rows(&[0], 2), "scatter_add_rows");
    assert_err_names(x.scatter_add_rows(&[0, 2], 2), "scatter_add_rows");
}
