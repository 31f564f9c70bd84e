//! Cases for the ops networks are made of besides layers' arithmetic: softmax and log-softmax,
//! fused softmax cross-entropy (dense and sparse labels), row gathers and scatters, batch
//! normalization and dropout. Shapes include size 1 and sizes that are multiples of neither the
//! 64-invocation row workgroups nor the 256-invocation ones.

use super::{Case, ELEMENTWISE_TOLERANCE, REDUCTION_TOLERANCE, input};
use tensor_core::{Device, Shape, Tensor, rng};

pub(super) fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    softmax(&mut cases);
    cross_entropy(&mut cases);
    gather(&mut cases);
    batch_norm(&mut cases);
    dropout(&mut cases);
    cases
}

fn softmax(cases: &mut Vec<Case>) {
    // The last axis takes the workgroup-per-row kernel, the others the invocation-per-lane one.
    let shapes: &[&[usize]] = &[&[7, 13], &[3, 5, 257], &[1, 1], &[2, 3, 5, 7]];
    for (i, shape) in shapes.iter().enumerate() {
        for (j, axis) in [0isize, 1, -1].into_iter().enumerate() {
            let seed = 800 + 10 * i as u64 + j as u64;
            let x = input(shape, -3.0, 3.0, seed);
            cases.push(Case::new("softmax", REDUCTION_TOLERANCE, vec![x.clone()], move |x| {
                x[0].softmax(axis)
            }));
            cases.push(Case::new("log_softmax", REDUCTION_TOLERANCE, vec![x], move |x| {
                x[0].log_softmax(axis)
            }));
        }
    }
    // Logits far beyond exp's range: both backends shift by the maximum first.
    let large = input(&[5, 70], -300.0, 300.0, 850);
    cases.push(Case::new("softmax", REDUCTION_TOLERANCE, vec![large.clone()], |x| x[0].softmax(-1)));
    cases.push(Case::new("log_softmax", REDUCTION_TOLERANCE, vec![large], |x| x[0].log_softmax(0)));
}

/// `rows` class ids below `classes`, as an f32 (rows,) tensor.
fn class_ids(rows: usize, classes: usize, seed: u64) -> Tensor {
    let ids: Vec<f32> =
        (0..rows as u32).map(|i| (rng::uniform(seed, i) * classes as f64).floor() as f32).collect();
    Tensor::from_vec(ids, [rows], &Device::Cpu).expect("valid class ids")
}

/// The one-hot rows of `class_ids(rows, classes, seed)`.
fn one_hot(rows: usize, classes: usize, seed: u64) -> Tensor {
    let ids = class_ids(rows, classes, seed).to_vec::<f32>().expect("f32 ids");
    let mut data = vec![0.0f32; rows * classes];
    for (r, &id) in ids.iter().enumerate() {
        data[r * classes + id as usize] = 1.0;
    }
    Tensor::from_vec(data, [rows, classes], &Device::Cpu).expect("valid one-hot labels")
}

fn cross_entropy(cases: &mut Vec<Case>) {
    // 300 classes: longer rows than a row workgroup has invocations.
    let sizes = [(1, 2), (1, 10), (1, 13), (7, 2), (7, 10), (7, 13), (65, 2), (65, 10), (65, 13), (3, 300)];
    for (i, &(n, c)) in sizes.iter().enumerate() {
        let seed = 900 + 10 * i as u64;
        let logits = input(&[n, c], -4.0, 4.0, seed);
        // Soft labels (not normalized: the fused gradient handles any total), one-hot for C = 10.
        let dense = if c == 10 { one_hot(n, c, seed + 1) } else { input(&[n, c], 0.0, 1.0, seed + 1) };
        cases.push(Case::new(
            "softmax_cross_entropy",
            REDUCTION_TOLERANCE,
            vec![logits.clone(), dense],
            |x| x[0].softmax_cross_entropy(&x[1]),
        ));
        let ids = class_ids(n, c, seed + 2);
        cases.push(Case::new("sparse_softmax_cross_entropy", REDUCTION_TOLERANCE, vec![logits, ids], |x| {
            x[0].sparse_softmax_cross_entropy(&x[1])
        }));
    }
    // Labels shaped (N, 1), through the path that does not read GPU labels back.
    let ids = class_ids(65, 13, 990).reshape([65, 1]).expect("same count");
    let mut prechecked = Case::new(
        "sparse_softmax_cross_entropy",
        REDUCTION_TOLERANCE,
        vec![input(&[65, 13], -4.0, 4.0, 991), ids],
        |x| x[0].sparse_softmax_cross_entropy_prechecked(&x[1]),
    );
    prechecked.shapes.push_str(" prechecked");
    cases.push(prechecked);
}

fn gather(cases: &mut Vec<Case>) {
    let repeated = [3, 0, 3, 6, 6, 6, 1, 8];
    cases.push(Case::new(
        "gather_rows",
        ELEMENTWISE_TOLERANCE,
        vec![input(&[9, 3, 4], -1.0, 1.0, 1000)],
        move |x| x[0].gather_rows(&repeated),
    ));
    cases.push(Case::new("gather_rows", ELEMENTWISE_TOLERANCE, vec![input(&[1], -1.0, 1.0, 1001)], |x| {
        x[0].gather_rows(&[0, 0, 0])
    }));
    cases.push(Case::new("gather_rows", ELEMENTWISE_TOLERANCE, vec![input(&[4, 5], -1.0, 1.0, 1002)], |x| {
        x[0].gather_rows(&[])
    }));
    // 300 rows of 257: neither count is a multiple of a workgroup.
    let shuffled: Vec<usize> = (0..300).map(|i| (i * 7 + 3) % 300).collect();
    cases.push(Case::new(
        "gather_rows",
        ELEMENTWISE_TOLERANCE,
        vec![input(&[300, 257], -1.0, 1.0, 1003)],
        move |x| x[0].gather_rows(&shuffled),
    ));
    let targets = [2, 0, 2, 9, 2, 5];
    cases.push(Case::new(
        "scatter_add_rows",
        ELEMENTWISE_TOLERANCE,
        vec![input(&[6, 3, 4], -1.0, 1.0, 1004)],
        move |x| x[0].scatter_add_rows(&targets, 10),
    ));
    cases.push(Case::new(
        "scatter_add_rows",
        ELEMENTWISE_TOLERANCE,
        vec![input(&[3], -1.0, 1.0, 1005)],
        |x| x[0].scatter_add_rows(&[0, 0, 0], 1),
    ));
}

fn batch_norm(cases: &mut Vec<Case>) {
    // (N, H, W, C) and (N, C) on the channel axis -1, and a channel axis with values after it.
    let layouts: [(&[usize], isize); 4] =
        [(&[2, 3, 5, 4], -1), (&[13, 6], -1), (&[1, 1], -1), (&[2, 3, 5, 5], 1)];
    for (i, &(shape, axis)) in layouts.iter().enumerate() {
        let seed = 1100 + 10 * i as u64;
        let c = shape[axis.rem_euclid(shape.len() as isize) as usize];
        let x = input(shape, -2.0, 2.0, seed);
        let gamma = input(&[c], 0.5, 1.5, seed + 1);
        let beta = input(&[c], -1.0, 1.0, seed + 2);
        let inputs = vec![x.clone(), gamma.clone(), beta.clone()];
        cases.push(Case::new("batch_norm_train", REDUCTION_TOLERANCE, inputs.clone(), move |x| {
            Ok(x[0].batch_norm_train(&x[1], &x[2], axis, 1e-3)?.0)
        }));
        cases.push(
            Case::new("batch_norm_train stats", REDUCTION_TOLERANCE, inputs, move |x| {
                let (_, mean, var) = x[0].batch_norm_train(&x[1], &x[2], axis, 1e-3)?;
                Tensor::concat(&[&mean, &var], 0)
            })
            .forward_only(),
        );
        let moving_mean = input(&[c], -0.5, 0.5, seed + 3);
        let moving_var = input(&[c], 0.5, 2.0, seed + 4);
        cases.push(Case::new(
            "batch_norm_infer",
            REDUCTION_TOLERANCE,
            vec![x, gamma, beta, moving_mean, moving_var],
            move |x| x[0].batch_norm_infer(&x[1], &x[2], &x[3], &x[4], axis, 1e-3),
        ));
    }
}

fn dropout(cases: &mut Vec<Case>) {
    cases.push(Case::new("dropout", ELEMENTWISE_TOLERANCE, vec![input(&[7, 13], -1.0, 1.0, 1200)], |x| {
        x[0].dropout(0.3, 42)
    }));
    cases.push(Case::new(
        "dropout_broadcast",
        ELEMENTWISE_TOLERANCE,
        vec![input(&[2, 5, 5, 3], -1.0, 1.0, 1201)],
        |x| x[0].dropout_broadcast(0.5, 7, &Shape::new([2, 1, 1, 3])),
    ));
    // The mask itself, which must be identical: zero tolerance.
    cases.push(
        Case::new("dropout mask", 0.0, vec![input(&[257, 3], -1.0, 1.0, 1202)], |x| {
            x[0].ones_like()?.dropout(0.5, 1234)
        })
        .forward_only(),
    );
}
