//! Kernel benchmarks shared by `tessera bench` and the criterion benches: each kernel at the
//! shapes that matter (square matmuls, the reference CNN's layers), as throughput.

use std::time::Instant;

use tensor_core::{DType, Device, Padding, Result, Tensor};

/// What a benchmark's throughput is counted in.
#[derive(Clone, Copy, Debug)]
pub enum Work {
    /// Floating-point operations per run.
    Flops(f64),
    /// Bytes read and written per run.
    Bytes(f64),
}

/// Makes a benchmark's inputs on a device.
pub type MakeInputs = Box<dyn Fn(&Device) -> Result<Vec<Tensor>>>;

/// A kernel at one shape: inputs are made once, `run` records the op under test.
pub struct Benchmark {
    pub name: &'static str,
    pub shape: String,
    pub work: Work,
    pub inputs: MakeInputs,
    pub run: fn(&[Tensor]) -> Result<Tensor>,
}

fn random(shape: &[usize], seed: u64, device: &Device) -> Result<Tensor> {
    Tensor::uniform(shape.to_vec(), -1.0, 1.0, seed, DType::F32, device)
}

fn matmul(n: usize) -> Benchmark {
    Benchmark {
        name: "matmul",
        shape: format!("{n}x{n}x{n}"),
        work: Work::Flops(2.0 * (n as f64).powi(3)),
        inputs: Box::new(move |d| Ok(vec![random(&[n, n], 1, d)?, random(&[n, n], 2, d)?])),
        run: |x| x[0].matmul(&x[1]),
    }
}

/// A 3x3 `same` convolution of a (batch, size, size, channels) input to `filters` channels.
fn conv(batch: usize, size: usize, channels: usize, filters: usize) -> Benchmark {
    let flops = 2.0 * (batch * size * size * 9 * channels * filters) as f64;
    Benchmark {
        name: "conv2d 3x3 same",
        shape: format!("{batch}x{size}x{size}x{channels} -> {filters}"),
        work: Work::Flops(flops),
        inputs: Box::new(move |d| {
            Ok(vec![random(&[batch, size, size, channels], 3, d)?, random(&[3, 3, channels, filters], 4, d)?])
        }),
        run: |x| x[0].conv2d(&x[1], (1, 1), Padding::Same),
    }
}

/// The benchmarks, smallest first; `quick` keeps the ones that take seconds on a software driver.
pub fn benchmarks(quick: bool) -> Vec<Benchmark> {
    let elements = 1 << 24;
    let mut all = vec![matmul(256), matmul(512), matmul(1024)];
    if !quick {
        all.extend([matmul(2048), matmul(4096)]);
    }
    all.extend([
        conv(64, 28, 1, 32),
        conv(64, 14, 32, 64),
        Benchmark {
            name: "max_pool2d 2x2",
            shape: "64x28x28x32".into(),
            work: Work::Bytes(4.0 * (64 * 28 * 28 * 32) as f64 * 1.25),
            inputs: Box::new(|d| Ok(vec![random(&[64, 28, 28, 32], 5, d)?])),
            run: |x| x[0].max_pool2d((2, 2), (2, 2), Padding::Valid),
        },
        Benchmark {
            name: "add",
            shape: format!("{elements}"),
            work: Work::Bytes(12.0 * elements as f64),
            inputs: Box::new(move |d| Ok(vec![random(&[elements], 6, d)?, random(&[elements], 7, d)?])),
            run: |x| x[0].add(&x[1]),
        },
        Benchmark {
            name: "relu",
            shape: format!("{elements}"),
            work: Work::Bytes(8.0 * elements as f64),
            inputs: Box::new(move |d| Ok(vec![random(&[elements], 8, d)?])),
            run: |x| x[0].relu(),
        },
        Benchmark {
            name: "sum rows",
            shape: "4096x4096".into(),
            work: Work::Bytes(4.0 * (4096 * 4096) as f64),
            inputs: Box::new(|d| Ok(vec![random(&[4096, 4096], 9, d)?])),
            run: |x| x[0].sum(&[1], false),
        },
    ]);
    all
}

/// Waits until `device` has finished everything recorded so far.
pub fn synchronize(device: &Device) -> Result<()> {
    match device {
        Device::Gpu(gpu) => gpu.synchronize(),
        Device::Cpu => Ok(()),
    }
}

/// Median seconds per run of `bench` on `device` over `repeats` timed runs (after a warm-up
/// run that compiles pipelines and fills the buffer pool).
pub fn time(bench: &Benchmark, device: &Device, repeats: usize) -> Result<f64> {
    let inputs = (bench.inputs)(device)?;
    drop((bench.run)(&inputs)?);
    synchronize(device)?;
    let mut samples = Vec::with_capacity(repeats);
    for _ in 0..repeats.max(1) {
        let start = Instant::now();
        let out = (bench.run)(&inputs)?;
        synchronize(device)?;
        samples.push(start.elapsed().as_secs_f64());
        drop(out);
    }
    samples.sort_by(f64::total_cmp);
    Ok(samples[samples.len() / 2])
}

/// Throughput in GFLOP/s or GB/s for one run taking `seconds`.
pub fn throughput(work: Work, seconds: f64) -> (f64, &'static str) {
    match work {
        Work::Flops(f) => (f / seconds / 1e9, "GFLOP/s"),
        Work::Bytes(b) => (b / seconds / 1e9, "GB/s"),
    }
}
