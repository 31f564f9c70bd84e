//! Work long enough that one invocation looping over all of it would pass the bound every GPU
//! kernel keeps to (16,384 loop iterations per invocation; Mesa's llvmpipe silently stops a
//! shader at 65,535): long reductions, long inner products, wide softmax and cross-entropy rows,
//! long batch-norm channels, long argmax rows and rows gathered many times. Each must agree with
//! the CPU reference, which accumulates in f64: relative L2 error at most 1e-4 (a cut-short
//! loop is off by tens of percent), or exactly where no arithmetic is involved.

mod common;

use std::sync::Mutex;

use tessera::{DType, Device, Tape, Tensor};

/// The tests take turns: each binds tens of MiB on the shared device and runs the CPU
/// reference on the same few cores.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn turn() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

const TOLERANCE: f64 = 1e-4;

/// Uniform f32 values in [low, high) on the CPU.
fn uniform(shape: &[usize], low: f64, high: f64, seed: u64) -> Tensor {
    Tensor::uniform(shape.to_vec(), low, high, seed, DType::F32, &Device::Cpu).unwrap()
}

fn host(t: &Tensor) -> Vec<f64> {
    t.to_vec_f64().unwrap()
}

/// Asserts that the relative L2 error of `actual` against `expected` is at most [`TOLERANCE`].
fn assert_close(what: &str, actual: &Tensor, expected: &Tensor) {
    let (actual, expected) = (host(actual), host(expected));
    assert_eq!(actual.len(), expected.len(), "{what}: lengths differ");
    let diff: f64 = actual.iter().zip(&expected).map(|(a, e)| (a - e) * (a - e)).sum();
    let norm: f64 = expected.iter().map(|e| e * e).sum();
    let error = (diff / norm).sqrt();
    println!("{what}: relative L2 error {error:.2e} over {} values", expected.len());
    assert!(error <= TOLERANCE, "{what}: relative L2 error {error:.2e} exceeds {TOLERANCE:.0e}");
}

#[test]
fn reductions_of_millions_of_elements_per_output() {
    let _turn = turn();
    let Some(gpu) = common::gpu() else { return };
    let x = uniform(&[6_000_000], 0.0, 1.0, 1);
    let xg = x.to(&gpu).unwrap();
    assert_close("sum of 6M", &xg.sum(&[0], false).unwrap(), &x.sum(&[0], false).unwrap());
    assert_close("mean of 6M", &xg.mean(&[0], false).unwrap(), &x.mean(&[0], false).unwrap());
    assert_close("max of 6M", &xg.max(&[0], false).unwrap(), &x.max(&[0], false).unwrap());
    // A strided reduction: down the rows of a (2.1M, 3) matrix.
    let tall = uniform(&[2_100_000, 3], 0.0, 1.0, 2);
    let tall_g = tall.to(&gpu).unwrap();
    assert_close(
        "column sums of 2.1M rows",
        &tall_g.sum(&[0], false).unwrap(),
        &tall.sum(&[0], false).unwrap(),
    );
}

#[test]
fn max_over_an_empty_axis_is_minus_infinity_on_both() {
    let _turn = turn();
    let Some(gpu) = common::gpu() else { return };
    let x = Tensor::zeros([3, 0], DType::F32, &Device::Cpu).unwrap();
    let cpu = host(&x.max(&[1], false).unwrap());
    let on_gpu = host(&x.to(&gpu).unwrap().max(&[1], false).unwrap());
    assert_eq!(cpu, vec![f64::NEG_INFINITY; 3]);
    assert_eq!(on_gpu, cpu);
}

/// A flattened 224 x 224 x 3 image through a Dense kernel is an inner product of 150,528: with
/// every product schedule the adapter has pinned in turn, since the autotuner's pick may be one
/// whose invocations happen to loop few times.
#[test]
fn products_with_an_inner_dimension_of_150k() {
    let _turn = turn();
    let Some(gpu) = common::gpu() else { return };
    let Device::Gpu(device) = &gpu else { unreachable!("common::gpu gives a GPU") };
    let (a, b) = (uniform(&[3, 150_528], 0.0, 1.0, 3), uniform(&[150_528, 5], 0.0, 1.0, 4));
    let expected = a.matmul(&b).unwrap();
    let (ag, bg) = (a.to(&gpu).unwrap(), b.to(&gpu).unwrap());
    for schedule in device.product_schedules() {
        device.pin_product_schedule(Some(&schedule)).unwrap();
        assert_close(&format!("(3 x 150528) (150528 x 5), {schedule}"), &ag.matmul(&bg).unwrap(), &expected);
    }
    device.pin_product_schedule(None).unwrap();
}

#[test]
fn softmax_over_rows_and_lanes_longer_than_one_pass() {
    let _turn = turn();
    let Some(gpu) = common::gpu() else { return };
    // A contiguous row of 8M (a workgroup per row), then an axis with elements after it (an
    // invocation per lane).
    for (shape, axis) in [(vec![1, 8_000_000], 1isize), (vec![30_000, 3], 0)] {
        let x = uniform(&shape, -5.0, 5.0, 5);
        let xg = x.to(&gpu).unwrap();
        let what = format!("softmax of {shape:?} along {axis}");
        let y = xg.softmax(axis).unwrap();
        assert_close(&what, &y, &x.softmax(axis).unwrap());
        let sums = host(&y.sum(&[axis], false).unwrap());
        assert!(sums.iter().all(|s| (s - 1.0).abs() < 1e-3), "{what}: sums {sums:?}");
        assert_close(&format!("log_{what}"), &xg.log_softmax(axis).unwrap(), &x.log_softmax(axis).unwrap());
    }
}

#[test]
fn cross_entropy_over_8m_classes() {
    let _turn = turn();
    let Some(gpu) = common::gpu() else { return };
    let classes = 8_000_000;
    let logits = uniform(&[2, classes], -5.0, 5.0, 6);
    let ids = Tensor::from_vec(vec![5.0f32, (classes - 1) as f32], [2], &Device::Cpu).unwrap();
    let soft = uniform(&[2, classes], 0.0, 1.0, 7);
    let soft = soft.div(&soft.sum(&[1], true).unwrap()).unwrap();
    for (what, labels, sparse) in [("sparse", &ids, true), ("dense", &soft, false)] {
        let run = |device: &Device| {
            let tape = Tape::new();
            let z = tape.watch(&logits.to(device).unwrap());
            let labels = labels.to(device).unwrap();
            let loss = if sparse {
                z.sparse_softmax_cross_entropy(&labels).unwrap()
            } else {
                z.softmax_cross_entropy(&labels).unwrap()
            };
            let grads = tape.backward(&loss.sum(&[0], false).unwrap()).unwrap();
            (loss, grads.get(&z).unwrap().clone())
        };
        let ((loss, grad), (loss_cpu, grad_cpu)) = (run(&gpu), run(&Device::Cpu));
        assert_close(&format!("{what} cross-entropy loss"), &loss, &loss_cpu);
        assert_close(&format!("{what} cross-entropy gradient"), &grad, &grad_cpu);
    }
}

#[test]
fn batch_norm_over_channels_of_millions_of_values() {
    let _turn = turn();
    let Some(gpu) = common::gpu() else { return };
    let x = uniform(&[6_500_000, 2], -1.0, 3.0, 8);
    let upstream = uniform(&[6_500_000, 2], -1.0, 1.0, 9);
    let (gamma, beta) = (uniform(&[2], 0.5, 1.5, 10), uniform(&[2], -1.0, 1.0, 11));
    let run = |device: &Device| {
        let tape = Tape::new();
        let x = tape.watch(&x.to(device).unwrap());
        let gamma = tape.watch(&gamma.to(device).unwrap());
        let beta = tape.watch(&beta.to(device).unwrap());
        let (y, mean, variance) = x.batch_norm_train(&gamma, &beta, -1, 1e-3).unwrap();
        let loss = y.mul(&upstream.to(device).unwrap()).unwrap().sum_all().unwrap();
        let grads = tape.backward(&loss).unwrap();
        let grad = |t: &Tensor| grads.get(t).unwrap().clone();
        [y, mean, variance, grad(&x), grad(&gamma), grad(&beta)]
    };
    let (on_gpu, cpu) = (run(&gpu), run(&Device::Cpu));
    for (what, (g, c)) in
        ["output", "mean", "variance", "dx", "dgamma", "dbeta"].iter().zip(on_gpu.iter().zip(&cpu))
    {
        assert_close(&format!("batch norm {what}"), g, c);
    }
}

#[test]
fn argmax_of_rows_longer_than_one_pass() {
    let _turn = turn();
    let Some(gpu) = common::gpu() else { return };
    let n = 5_000_000;
    let mut values = vec![0.5f32; 2 * n];
    // The maxima sit in late segments of each row; the second row's repeats, the first wins.
    values[n - 1] = 2.0;
    values[n + 4_500_000] = 3.0;
    values[n + 4_900_000] = 3.0;
    let x = Tensor::from_vec(values, [2, n], &Device::Cpu).unwrap();
    assert_eq!(host(&x.to(&gpu).unwrap().argmax(1).unwrap()), vec![(n - 1) as f64, 4_500_000.0]);
    assert_eq!(host(&x.argmax(1).unwrap()), vec![(n - 1) as f64, 4_500_000.0]);
}

/// Rows gathered 70,000 times each: their gradient sums more sources than one invocation may
/// loop over.
#[test]
fn scatter_add_of_a_row_named_70k_times() {
    let _turn = turn();
    let Some(gpu) = common::gpu() else { return };
    let indices: Vec<usize> = (0..140_003).map(|i| if i % 2 == 0 { 1 } else { 3 }).collect();
    let src = uniform(&[indices.len(), 3], 0.0, 1.0, 12);
    let on_gpu = src.to(&gpu).unwrap().scatter_add_rows(&indices, 5).unwrap();
    assert_close("scatter_add of 140,003 rows into 2", &on_gpu, &src.scatter_add_rows(&indices, 5).unwrap());
}

#[test]
fn a_pooling_window_too_large_for_one_invocation_is_an_error() {
    let _turn = turn();
    let Some(gpu) = common::gpu() else { return };
    let x = uniform(&[1, 200, 200, 1], 0.0, 1.0, 13).to(&gpu).unwrap();
    let message =
        x.max_pool2d((200, 200), (1, 1), tessera::tensor_core::Padding::Valid).unwrap_err().to_string();
    assert!(message.contains("window") && message.contains("200x200"), "{message}");
}
