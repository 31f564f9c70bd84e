//! Work larger than one storage binding (`max_storage_buffer_binding_size`, 128 MiB on
//! lavapipe): ops split it into chunks that fit, and must still agree with the CPU reference
//! (relative L2 error at most 1e-4; elementwise ops exactly). The CPU takes a while at these
//! sizes, so the convolution is compared on two of its images and on sampled kernel-gradient
//! entries.
//!
//! On lavapipe with 2 CPU cores the file takes 1.5 to 2.5 minutes (the cores were shared when
//! it took longer), nearly all of it the convolution's 24 matrix products of 50,176 x 576 x 64 on
//! the GPU; every other test takes seconds.

mod common;

use std::sync::Mutex;
use std::time::Instant;

use tessera::tensor_core::{Conv2dGeometry, Padding};
use tessera::{DType, Device, Tape, Tensor};

/// The tests take turns: each needs hundreds of MiB of the shared device (and pool figures of its
/// own), and lavapipe runs on the same few cores as the CPU reference.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn turn() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Uniform f32 values in [low, high) on the CPU.
fn uniform(shape: &[usize], low: f64, high: f64, seed: u64) -> Tensor {
    Tensor::uniform(shape.to_vec(), low, high, seed, DType::F32, &Device::Cpu).unwrap()
}

fn host(t: &Tensor) -> Vec<f64> {
    t.to_vec_f64().unwrap()
}

/// Asserts that the relative L2 error of `actual` against `expected` is at most `tolerance`.
fn assert_close(what: &str, actual: &[f64], expected: &[f64], tolerance: f64) {
    assert_eq!(actual.len(), expected.len(), "{what}: lengths differ");
    let diff: f64 = actual.iter().zip(expected).map(|(a, e)| (a - e) * (a - e)).sum();
    let norm: f64 = expected.iter().map(|e| e * e).sum();
    let error = (diff / norm).sqrt();
    println!("{what}: relative L2 error {error:.2e} over {} values", expected.len());
    assert!(error <= tolerance, "{what}: relative L2 error {error:.2e} exceeds {tolerance:.0e}");
}

/// The images `images` of an NHWC batch, as one batch (on the CPU).
fn pick(t: &Tensor, images: &[usize]) -> Tensor {
    let parts: Vec<Tensor> = images.iter().map(|&i| t.slice(0, i, i + 1).unwrap()).collect();
    Tensor::concat(&parts.iter().collect::<Vec<_>>(), 0).unwrap()
}

/// VGG16's first convolution (3x3, 64 channels to 64 filters, `same`) at batch 8, forward and
/// backward. The batch's im2col matrix (224 * 224 * 8 rows of 3 * 3 * 64) would be 882 MiB; the
/// products address the images in place, so the pool never holds anything that large.
#[test]
fn vgg16_block1_convolution_never_builds_its_im2col_matrix() {
    let _turn = turn();
    let Some(gpu) = common::gpu() else { return };
    let Device::Gpu(device) = &gpu else { unreachable!("common::gpu gives a GPU") };
    let dims = [8, 224, 224, 64];
    let x = uniform(&dims, -1.0, 1.0, 1);
    let kernel = uniform(&[3, 3, 64, 64], -0.1, 0.1, 2);
    // The output gradient: the loss is sum(y * weights).
    let weights = uniform(&dims, -1.0, 1.0, 3);

    let start = Instant::now();
    device.reset_peak_memory();
    let tape = Tape::new();
    let (xg, kg) = (tape.watch(&x.to(&gpu).unwrap()), tape.watch(&kernel.to(&gpu).unwrap()));
    let y = xg.conv2d(&kg, (1, 1), Padding::Same).unwrap();
    let loss = y.mul(&weights.to(&gpu).unwrap()).unwrap().sum_all().unwrap();
    let grads = tape.backward(&loss).unwrap();
    let (y, dx, dw) = (host(&y), host(grads.get(&xg).unwrap()), host(grads.get(&kg).unwrap()));
    let peak = device.stats().pool.peak_bytes;
    println!("GPU forward and backward: {:.1?}, peak pool memory {} MiB", start.elapsed(), peak >> 20);
    let batch_im2col_bytes = 8 * 224 * 224 * (3 * 3 * 64) * 4;
    assert!(peak < batch_im2col_bytes, "peak pool memory {} MiB: an im2col matrix was built", peak >> 20);

    // The first and the last pass, on the CPU.
    let start = Instant::now();
    let images = [0, 7];
    let tape = Tape::new();
    let (xc, kc) = (tape.watch(&pick(&x, &images)), tape.watch(&kernel));
    let yc = xc.conv2d(&kc, (1, 1), Padding::Same).unwrap();
    let grads_c = tape.backward(&yc.mul(&pick(&weights, &images)).unwrap().sum_all().unwrap()).unwrap();
    println!("CPU forward and backward of {} images: {:.1?}", images.len(), start.elapsed());
    let image_len = 224 * 224 * 64;
    let of_images = |v: &[f64]| -> Vec<f64> {
        images.iter().flat_map(|&i| v[i * image_len..][..image_len].to_vec()).collect()
    };
    assert_close("forward, images 0 and 7", &of_images(&y), &host(&yc), 1e-4);
    assert_close("input gradient, images 0 and 7", &of_images(&dx), &host(grads_c.get(&xc).unwrap()), 1e-4);

    // Kernel-gradient entries summed over the whole batch, in f64: dW[ky, kx, c, f] is the sum
    // over images and output pixels of x[n, oy + ky - 1, ox + kx - 1, c] * dY[n, oy, ox, f].
    let (xs, ws) = (host(&x), host(&weights));
    let at = |n: usize, y: usize, x: usize, c: usize| ((n * 224 + y) * 224 + x) * 64 + c;
    let (mut expected, mut actual) = (Vec::new(), Vec::new());
    for (ky, kx) in (0..3).flat_map(|ky| (0..3).map(move |kx| (ky, kx))) {
        for (c, f) in [(0, 0), (5, 63), (63, 17), (31, 40)] {
            let mut sum = 0.0;
            for n in 0..8 {
                // The output pixels whose tap (ky, kx) lands inside the image.
                for oy in 1usize.saturating_sub(ky)..(225 - ky).min(224) {
                    for ox in 1usize.saturating_sub(kx)..(225 - kx).min(224) {
                        sum += xs[at(n, oy + ky - 1, ox + kx - 1, c)] * ws[at(n, oy, ox, f)];
                    }
                }
            }
            expected.push(sum);
            actual.push(dw[((ky * 3 + kx) * 64 + c) * 64 + f]);
        }
    }
    assert_close("kernel gradient, 36 entries", &actual, &expected, 1e-4);
}

/// Elementwise ops on a 136 MB tensor: the output and any operand as large are bound chunk by
/// chunk; a broadcast operand is bound whole.
#[test]
fn elementwise_ops_split_large_tensors() {
    let _turn = turn();
    let Some(gpu) = common::gpu() else { return };
    let (x, bias) = (uniform(&[2_000_000, 17], -1.0, 1.0, 10), uniform(&[17], -1.0, 1.0, 11));
    let (xg, bg) = (x.to(&gpu).unwrap(), bias.to(&gpu).unwrap());
    let start = Instant::now();
    let relu = host(&xg.relu().unwrap());
    let sum = host(&xg.add(&bg).unwrap());
    println!("GPU relu and broadcast add of {} values: {:.1?}", x.numel(), start.elapsed());
    assert!(relu == host(&x.relu().unwrap()), "relu differs from the CPU");
    assert!(sum == host(&x.add(&bias).unwrap()), "broadcast add differs from the CPU");
}

/// A product whose left operand (300,000 x 120, 144 MB) exceeds one binding runs in row blocks.
#[test]
fn matmul_splits_a_large_left_operand() {
    let _turn = turn();
    let Some(gpu) = common::gpu() else { return };
    let (a, b) = (uniform(&[300_000, 120], -1.0, 1.0, 20), uniform(&[120, 10], -1.0, 1.0, 21));
    let start = Instant::now();
    let product = host(&a.to(&gpu).unwrap().matmul(&b.to(&gpu).unwrap()).unwrap());
    println!("GPU matmul: {:.1?}", start.elapsed());
    assert_close("matmul", &product, &host(&a.matmul(&b).unwrap()), 1e-4);
}

/// Pooling a 138 MB batch, forward and backward: two images per pass, then one.
#[test]
fn pooling_splits_a_large_batch() {
    let _turn = turn();
    let Some(gpu) = common::gpu() else { return };
    let dims = [3, 301, 299, 128];
    let x = uniform(&dims, -1.0, 1.0, 30);
    let (xg, window, strides) = (x.to(&gpu).unwrap(), (3, 3), (2, 2));
    type Pool = fn(&Tensor, (usize, usize), (usize, usize), Padding) -> tessera::Result<Tensor>;
    let pools: [(&str, Pool); 2] = [("max_pool2d", Tensor::max_pool2d), ("avg_pool2d", Tensor::avg_pool2d)];
    for (name, pool) in pools {
        let run = |x: &Tensor| {
            let tape = Tape::new();
            let watched = tape.watch(x);
            let y = pool(&watched, window, strides, Padding::Same).unwrap();
            let weights = uniform(y.dims(), -1.0, 1.0, 31).to(x.device()).unwrap();
            let grads = tape.backward(&y.mul(&weights).unwrap().sum_all().unwrap()).unwrap();
            (host(&y), host(grads.get(&watched).unwrap()))
        };
        let start = Instant::now();
        let (y, dx) = run(&xg);
        println!("GPU {name} forward and backward: {:.1?}", start.elapsed());
        let (yc, dxc) = run(&x);
        assert_close(&format!("{name} forward"), &y, &yc, 1e-4);
        assert_close(&format!("{name} input gradient"), &dx, &dxc, 1e-4);
    }
}

/// im2col and col2im as ops of their own on a batch whose matrix (151 MB) exceeds one binding:
/// three images per dispatch, then one.
#[test]
fn im2col_and_col2im_split_a_large_batch() {
    let _turn = turn();
    let Some(gpu) = common::gpu() else { return };
    let x = uniform(&[4, 128, 128, 64], -1.0, 1.0, 40);
    let g = Conv2dGeometry::new([128, 128, 64], (3, 3), (1, 1), Padding::Same).unwrap();
    let start = Instant::now();
    let cols = x.to(&gpu).unwrap().im2col(&g).unwrap();
    let (cols_host, images) = (host(&cols), host(&cols.col2im(&g).unwrap()));
    println!("GPU im2col and col2im: {:.1?}", start.elapsed());
    let cols_c = x.im2col(&g).unwrap();
    assert!(cols_host == host(&cols_c), "im2col differs from the CPU");
    assert_close("col2im", &images, &host(&cols_c.col2im(&g).unwrap()), 1e-4);
}

/// A convolution whose single image exceeds one binding cannot be split: it is an error naming
/// the input and the limit, raised before anything is computed. (Its im2col matrix, nine times
/// larger, is never built: the products address the images in place.)
#[test]
fn a_convolution_too_large_for_one_image_per_pass_is_an_error() {
    let _turn = turn();
    let Some(gpu) = common::gpu() else { return };
    let Device::Gpu(device) = &gpu else { unreachable!("common::gpu gives a GPU") };
    // Square images of 64 channels just larger than the limit.
    let limit = device.max_binding_bytes() as usize;
    let side = ((limit / (64 * 4)) as f64).sqrt() as usize + 1;
    let x = Tensor::zeros([1, side, side, 64], DType::F32, &gpu).unwrap();
    let kernel = Tensor::zeros([3, 3, 64, 64], DType::F32, &gpu).unwrap();
    let error = x.conv2d(&kernel, (1, 1), Padding::Same).unwrap_err();
    let message = error.to_string();
    println!("{message}");
    assert!(matches!(error, tessera::Error::Limit(_)), "expected a limit error, got {message}");
    assert!(message.contains("input") && message.contains(&format!("{} MiB", limit >> 20)), "{message}");
}

/// Data movement on a Fashion-MNIST-sized training set (60,000 x 784 f32, 179 MiB): slicing off
/// a validation tail, transposing, padding and concatenating bind only the ranges they touch, in
/// pieces when those are too wide.
#[test]
fn layout_ops_split_large_tensors() {
    let _turn = turn();
    let Some(gpu) = common::gpu() else { return };
    let x = uniform(&[60_000, 784], -1.0, 1.0, 40);
    let xg = x.to(&gpu).unwrap();
    let check = |what: &str, cpu: Tensor, gpu: Tensor| assert_close(what, &host(&gpu), &host(&cpu), 0.0);
    check("slice head", x.slice(0, 0, 54_000).unwrap(), xg.slice(0, 0, 54_000).unwrap());
    check("slice tail", x.slice(0, 54_000, 60_000).unwrap(), xg.slice(0, 54_000, 60_000).unwrap());
    check("slice columns", x.slice(1, 700, 784).unwrap(), xg.slice(1, 700, 784).unwrap());
    check("transpose", x.transpose(0, 1).unwrap(), xg.transpose(0, 1).unwrap());
    check("pad", x.pad_axis(1, 3, 1).unwrap(), xg.pad_axis(1, 3, 1).unwrap());
    let (a, b) = (x.slice(0, 0, 100).unwrap(), xg.slice(0, 0, 100).unwrap());
    check("concat", Tensor::concat(&[&a, &x], 0).unwrap(), Tensor::concat(&[&b, &xg], 0).unwrap());
}
