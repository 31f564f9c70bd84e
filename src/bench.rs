//! Benchmarks shared by `tessera bench`, the criterion benches and the tests that count
//! dispatches: each kernel at the shapes that matter (square matmuls, the reference CNN's
//! layers) as throughput, the cost of one dispatch, and a steady training step of the reference
//! CNN with its per-step counters.

use std::time::Instant;

use tensor_core::gpu::{GpuDevice, GpuStats};
use tensor_core::{Activation, DType, Device, Error, Padding, Result, Tape, Tensor};

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

/// Inputs of the given shapes, uniform in [-1, 1].
fn inputs_of(shapes: Vec<Vec<usize>>) -> MakeInputs {
    Box::new(move |d| shapes.iter().zip(1..).map(|(shape, seed)| random(shape, seed, d)).collect())
}

fn matmul(n: usize) -> Benchmark {
    Benchmark {
        name: "matmul",
        shape: format!("{n}x{n}x{n}"),
        work: Work::Flops(2.0 * (n as f64).powi(3)),
        inputs: inputs_of(vec![vec![n, n], vec![n, n]]),
        run: |x| x[0].matmul(&x[1]),
    }
}

/// One of the reference CNN's 3x3 `same` convolutions with its bias and ReLU, on a batch of 64:
/// the forward pass, and forward and backward (both gradients) in one run.
fn conv_layer(layer: &'static str, size: usize, channels: usize, filters: usize) -> [Benchmark; 2] {
    let flops = 2.0 * (64 * size * size * 9 * channels * filters) as f64;
    let shapes = vec![vec![64, size, size, channels], vec![3, 3, channels, filters], vec![filters]];
    let shape = format!("{layer}: 64x{size}x{size}x{channels} -> {filters}");
    [
        Benchmark {
            name: "conv2d forward",
            shape: shape.clone(),
            work: Work::Flops(flops),
            inputs: inputs_of(shapes.clone()),
            run: |x| x[0].conv2d_affine(&x[1], Some(&x[2]), Activation::Relu, (1, 1), Padding::Same),
        },
        Benchmark {
            name: "conv2d fwd+bwd",
            shape,
            work: Work::Flops(3.0 * flops),
            inputs: inputs_of(shapes),
            run: |x| {
                let tape = Tape::new();
                let (images, kernel, bias) = (tape.watch(&x[0]), tape.watch(&x[1]), tape.watch(&x[2]));
                let y =
                    images.conv2d_affine(&kernel, Some(&bias), Activation::Relu, (1, 1), Padding::Same)?;
                let mut gradients = tape.backward(&y)?;
                gradients.remove(&kernel).ok_or_else(|| Error::Autodiff("the kernel has no gradient".into()))
            },
        },
    ]
}

/// One of the reference CNN's Dense layers on a batch of 64: forward (with bias and ReLU), and
/// the products of its two gradients (inputs: dY Wᵀ; kernel: Xᵀ dY).
fn dense_layer(layer: &'static str, inputs: usize, units: usize) -> [Benchmark; 3] {
    let flops = Work::Flops(2.0 * (64 * inputs * units) as f64);
    let shape = format!("{layer}: 64x{inputs} -> {units}");
    [
        Benchmark {
            name: "dense forward",
            shape: shape.clone(),
            work: flops,
            inputs: inputs_of(vec![vec![64, inputs], vec![inputs, units], vec![units]]),
            run: |x| x[0].affine(&x[1], Some(&x[2]), Activation::Relu),
        },
        Benchmark {
            name: "dense input grad",
            shape: shape.clone(),
            work: flops,
            inputs: inputs_of(vec![vec![64, units], vec![inputs, units]]),
            run: |x| x[0].matmul_t(&x[1], false, true),
        },
        Benchmark {
            name: "dense kernel grad",
            shape,
            work: flops,
            inputs: inputs_of(vec![vec![64, inputs], vec![64, units]]),
            run: |x| x[0].matmul_t(&x[1], true, false),
        },
    ]
}

/// The benchmarks: square matmuls, the reference CNN's products, then the memory-bound kernels;
/// `quick` leaves out the largest matmuls (seconds each on a software driver).
pub fn benchmarks(quick: bool) -> Vec<Benchmark> {
    let elements = 1 << 24;
    let mut all = vec![matmul(256), matmul(512), matmul(1024)];
    if !quick {
        all.extend([matmul(2048), matmul(4096)]);
    }
    all.extend(conv_layer("conv1", 28, 1, 32));
    all.extend(conv_layer("conv2", 14, 32, 64));
    all.extend(dense_layer("dense1", 3136, 128));
    all.extend(dense_layer("dense2", 128, 10));
    all.extend([
        Benchmark {
            name: "max_pool2d 2x2",
            shape: "64x28x28x32".into(),
            work: Work::Bytes(4.0 * (64 * 28 * 28 * 32) as f64 * 1.25),
            inputs: inputs_of(vec![vec![64, 28, 28, 32]]),
            run: |x| x[0].max_pool2d((2, 2), (2, 2), Padding::Valid),
        },
        Benchmark {
            name: "add",
            shape: format!("{elements}"),
            work: Work::Bytes(12.0 * elements as f64),
            inputs: inputs_of(vec![vec![elements], vec![elements]]),
            run: |x| x[0].add(&x[1]),
        },
        Benchmark {
            name: "add broadcast",
            shape: format!("{}x128 + 128", elements / 128),
            work: Work::Bytes(8.0 * elements as f64),
            inputs: inputs_of(vec![vec![elements / 128, 128], vec![128]]),
            run: |x| x[0].add(&x[1]),
        },
        Benchmark {
            name: "relu",
            shape: format!("{elements}"),
            work: Work::Bytes(8.0 * elements as f64),
            inputs: inputs_of(vec![vec![elements]]),
            run: |x| x[0].relu(),
        },
        Benchmark {
            name: "sum rows",
            shape: "4096x4096".into(),
            work: Work::Bytes(4.0 * (4096 * 4096) as f64),
            inputs: inputs_of(vec![vec![4096, 4096]]),
            run: |x| x[0].sum(&[1], false),
        },
    ]);
    all
}

/// What the machine under a benchmark is: its CPU and its load average, where the system says
/// (Linux); `None` elsewhere.
pub fn host() -> (Option<String>, Option<String>) {
    let cpu = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|info| {
        let model =
            info.lines().find_map(|l| l.strip_prefix("model name")?.split(':').nth(1).map(str::trim))?;
        let cores = info.lines().filter(|l| l.starts_with("processor")).count();
        Some(format!("{model} ({cores} threads)"))
    });
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "));
    (cpu, load)
}

/// The ceilings rows are compared with.
#[derive(Clone, Copy, Debug)]
pub struct Ceilings {
    /// Register-only FMA chains, GFLOP/s.
    pub fma_gflops: f64,
    /// A buffer-to-buffer copy, GB/s.
    pub copy_gbps: f64,
}

/// One benchmark's result.
#[derive(Clone, Debug)]
pub struct Row {
    pub name: &'static str,
    pub shape: String,
    /// The product schedules the run used (empty for kernels without variants).
    pub variant: String,
    /// Seconds of the first run: compiling pipelines and tuning included.
    pub cold_seconds: f64,
    /// Median seconds of the timed runs.
    pub seconds: f64,
    /// GFLOP/s or GB/s, as `work` counts.
    pub rate: f64,
    pub work: Work,
    /// The rate as a percentage of the matching ceiling.
    pub pct_of_ceiling: f64,
}

/// Runs `bench` on `device` and compares it with its ceiling.
pub fn measure(bench: &Benchmark, device: &Device, repeats: usize, ceilings: Ceilings) -> Result<Row> {
    let gpu = match device {
        Device::Gpu(gpu) => Some(gpu),
        Device::Cpu => None,
    };
    if let Some(gpu) = gpu {
        // Forget the schedules earlier work used: the row names only its own.
        gpu.take_used_product_schedules();
    }
    let (cold_seconds, seconds) = time(bench, device, repeats)?;
    let rate = throughput(bench.work, seconds);
    let ceiling = match bench.work {
        Work::Flops(_) => ceilings.fma_gflops,
        Work::Bytes(_) => ceilings.copy_gbps,
    };
    Ok(Row {
        name: bench.name,
        shape: bench.shape.clone(),
        variant: gpu.map(|g| g.take_used_product_schedules().join(", ")).unwrap_or_default(),
        cold_seconds,
        seconds,
        rate,
        work: bench.work,
        pct_of_ceiling: 100.0 * rate / ceiling,
    })
}

/// Waits until `device` has finished everything recorded so far.
pub fn synchronize(device: &Device) -> Result<()> {
    match device {
        Device::Gpu(gpu) => gpu.synchronize(),
        Device::Cpu => Ok(()),
    }
}

/// Seconds of a first run of `bench` on `device` (which compiles pipelines, tunes products and
/// fills the buffer pool), and the median over `repeats` timed runs after it.
pub fn time(bench: &Benchmark, device: &Device, repeats: usize) -> Result<(f64, f64)> {
    let inputs = (bench.inputs)(device)?;
    synchronize(device)?;
    let cold = Instant::now();
    drop((bench.run)(&inputs)?);
    synchronize(device)?;
    let cold = cold.elapsed().as_secs_f64();
    let mut samples = Vec::with_capacity(repeats);
    for _ in 0..repeats.max(1) {
        let start = Instant::now();
        let out = (bench.run)(&inputs)?;
        synchronize(device)?;
        samples.push(start.elapsed().as_secs_f64());
        drop(out);
    }
    samples.sort_by(f64::total_cmp);
    Ok((cold, samples[samples.len() / 2]))
}

impl Work {
    /// The unit a rate of this work is given in, and its key in `tessera bench --json`.
    pub fn unit(self) -> (&'static str, &'static str) {
        match self {
            Work::Flops(_) => ("GFLOP/s", "gflops"),
            Work::Bytes(_) => ("GB/s", "gbps"),
        }
    }
}

/// Throughput in GFLOP/s or GB/s for one run taking `seconds`.
pub fn throughput(work: Work, seconds: f64) -> f64 {
    let (Work::Flops(amount) | Work::Bytes(amount)) = work;
    amount / seconds / 1e9
}

/// What one dispatch costs: a chain of tiny kernels (an add on 256 elements), timed on the host
/// while it is recorded, and until the device has run it all.
#[derive(Clone, Copy, Debug)]
pub struct DispatchCost {
    pub dispatches: u64,
    /// Microseconds per dispatch spent recording it.
    pub host_us: f64,
    /// Microseconds per dispatch from the first recording to the device's last result.
    pub total_us: f64,
}

/// Times a chain of `chain` tiny dispatches on `gpu` (the best of three).
pub fn dispatch_cost(gpu: &GpuDevice, chain: usize) -> Result<DispatchCost> {
    let device = Device::Gpu(gpu.clone());
    let mut x = Tensor::ones([256], DType::F32, &device)?.add_scalar(1.0)?;
    gpu.synchronize()?;
    let mut best: Option<DispatchCost> = None;
    for _ in 0..3 {
        let before = gpu.stats().dispatches;
        let start = Instant::now();
        for _ in 0..chain {
            x = x.add_scalar(1.0)?;
        }
        let host = start.elapsed().as_secs_f64();
        gpu.synchronize()?;
        let total = start.elapsed().as_secs_f64();
        let dispatches = gpu.stats().dispatches - before;
        let per = |s: f64| s / dispatches.max(1) as f64 * 1e6;
        let cost = DispatchCost { dispatches, host_us: per(host), total_us: per(total) };
        if best.is_none_or(|b| cost.total_us < b.total_us) {
            best = Some(cost);
        }
    }
    Ok(best.expect("three runs"))
}

/// One steady-state training step of the reference CNN (batch 64, Adam): counted over the
/// second half of an epoch, after the first half has compiled the pipelines and filled the
/// buffer pool and the bind-group cache, and before the epoch's end reads its logs. The
/// counters are per step; on the CPU they are zero.
#[derive(Clone, Debug, Default)]
pub struct TrainingStep {
    /// Steps measured.
    pub steps: usize,
    pub samples_per_s: f64,
    pub dispatches: f64,
    pub submissions: f64,
    pub bind_groups_created: f64,
    pub readbacks: f64,
    /// Pooled device memory at its peak during the measured steps, in bytes.
    pub peak_bytes: u64,
    /// Time per kernel over the measured steps, when the device profiles.
    pub profile: Vec<tensor_core::gpu::KernelTime>,
}

/// Snapshots the clock and the device's counters at the end of two training batches.
struct Window {
    gpu: Option<GpuDevice>,
    from: usize,
    to: usize,
    start: Option<(Instant, GpuStats)>,
    end: Option<(Instant, GpuStats)>,
}

impl Window {
    /// The counters, and the time once the device has finished what was recorded. The
    /// submission that waiting takes happens after the counters are read at the window's end
    /// and before they are read at its start, so it counts in neither.
    fn snapshot(&self, at_start: bool) -> anyhow::Result<(Instant, GpuStats)> {
        let Some(gpu) = &self.gpu else { return Ok((Instant::now(), GpuStats::default())) };
        if at_start {
            gpu.synchronize()?;
            Ok((Instant::now(), gpu.stats()))
        } else {
            let stats = gpu.stats();
            gpu.synchronize()?;
            Ok((Instant::now(), stats))
        }
    }
}

impl nn::Callback for Window {
    fn on_train_batch_end(
        &mut self,
        batch: usize,
        _logs: &nn::callbacks::BatchLogs<'_>,
        _ctx: &mut nn::CallbackContext<'_>,
    ) -> nn::Result<()> {
        let now = |at_start| self.snapshot(at_start).map_err(|e| nn::NnError::Usage(e.to_string()));
        if batch == self.from {
            // After the snapshot's wait: until then the first half's dispatches are pending, and
            // their times would land in the profile.
            self.start = Some(now(true)?);
            if let Some(gpu) = &self.gpu {
                gpu.reset_peak_memory();
                gpu.reset_profile();
            }
        } else if batch == self.to {
            self.end = Some(now(false)?);
        }
        Ok(())
    }
}

/// Trains the reference CNN for one epoch of `steps` batches of 64 random images on `device`
/// and measures its second half (`steps` at least 4).
pub fn cnn_training(device: &Device, steps: usize) -> anyhow::Result<TrainingStep> {
    const BATCH: usize = 64;
    let steps = steps.max(4);
    let samples = steps * BATCH;
    let x = Tensor::uniform([samples, 28, 28, 1], 0.0, 1.0, 1, DType::F32, device)?;
    let labels: Vec<f32> = (0..samples).map(|i| (i * 7 % 10) as f32).collect();
    let y = Tensor::from_vec(labels, [samples], device)?;
    let mut model = crate::train::reference_cnn()?;
    model.to_device(device)?;
    let gpu = match device {
        Device::Gpu(gpu) => Some(gpu.clone()),
        Device::Cpu => None,
    };
    let mut window = Window { gpu: gpu.clone(), from: steps / 2 - 1, to: steps - 1, start: None, end: None };
    model.fit(
        &x,
        &y,
        nn::FitOptions::default().batch_size(BATCH).epochs(1).verbose(0).seed(3).callback(&mut window),
    )?;
    let (Some((t0, before)), Some((t1, after))) = (window.start, window.end) else {
        anyhow::bail!("the training epoch ended before its second half was measured");
    };
    let measured = window.to - window.from;
    let per_step = |a: u64, b: u64| (a - b) as f64 / measured as f64;
    Ok(TrainingStep {
        steps: measured,
        samples_per_s: (measured * BATCH) as f64 / (t1 - t0).as_secs_f64(),
        dispatches: per_step(after.dispatches, before.dispatches),
        submissions: per_step(after.submissions, before.submissions),
        bind_groups_created: per_step(after.bind_groups_created, before.bind_groups_created),
        readbacks: per_step(after.readbacks, before.readbacks),
        peak_bytes: after.pool.peak_bytes,
        profile: gpu.map(|g| g.profile()).unwrap_or_default(),
    })
}
