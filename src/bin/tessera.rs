//! The `tessera` command line: list adapters, health-check the GPU against the CPU reference,
//! benchmark kernels, and train the reference CNN.

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use tessera::Device;
use tessera::tensor_core::gpu::{ADAPTER_ENV, GpuDevice, GpuOptions, KernelTime, list_adapters};
use tessera::train::TrainOptions;

#[derive(Parser)]
#[command(
    name = "tessera",
    version,
    about = "A GPU tensor engine: WGSL kernels through wgpu, with a CPU reference"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the GPU adapters wgpu can use, best first, with their limits and features.
    Devices,
    /// Run every op, forward and backward, on the GPU and on the CPU reference, and compare.
    Check {
        /// Adapter to check (part of its name, or a backend: vulkan, gl, metal, dx12).
        #[arg(long, env = ADAPTER_ENV)]
        adapter: Option<String>,
    },
    /// Train the reference CNN on Fashion-MNIST, evaluate it on the test set and save it.
    Train(TrainArgs),
    /// Time every kernel at realistic shapes on the GPU, against the adapter's measured ceiling.
    Bench {
        #[arg(long, env = ADAPTER_ENV)]
        adapter: Option<String>,
        /// Skip the largest shapes (for software drivers).
        #[arg(long)]
        quick: bool,
        /// Timed runs per kernel (the median is reported).
        #[arg(long, default_value_t = 5)]
        repeats: usize,
    },
}

#[derive(Args)]
struct TrainArgs {
    /// Directory with the four Fashion-MNIST IDX files (gzip or raw).
    #[arg(long, default_value = tessera::nn::data::FashionMnist::DEFAULT_DIR)]
    data: std::path::PathBuf,
    #[arg(long, default_value_t = 3)]
    epochs: usize,
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// Adapter to train on (part of its name, or a backend); the best one by default.
    #[arg(long, env = ADAPTER_ENV)]
    adapter: Option<String>,
    /// Train on the CPU reference backend instead of a GPU.
    #[arg(long, conflicts_with = "adapter")]
    cpu: bool,
    /// Where the model, its per-epoch checkpoints and the report go.
    #[arg(long, default_value = "tessera-report")]
    out: std::path::PathBuf,
    /// Train on the first N images only (and evaluate on N/6): a quick look.
    #[arg(long)]
    limit: Option<usize>,
    /// 0 silent, 1 progress bar, 2 one line per epoch.
    #[arg(long, default_value_t = 1)]
    verbose: u8,
    /// Continue an interrupted run from its latest checkpoint in OUT/checkpoints.
    #[arg(long)]
    resume: bool,
}

fn main() -> ExitCode {
    tessera::logging::init();
    let result = match Cli::parse().command {
        Command::Devices => devices(),
        Command::Check { adapter } => check(adapter.as_deref()),
        Command::Bench { adapter, quick, repeats } => bench(adapter.as_deref(), quick, repeats),
        Command::Train(args) => train(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn devices() -> anyhow::Result<ExitCode> {
    let adapters = list_adapters();
    if adapters.is_empty() {
        anyhow::bail!(tessera::Error::NoAdapter);
    }
    for (i, adapter) in adapters.iter().enumerate() {
        let marker = if i == 0 { " (default)" } else { "" };
        println!("[{i}]{marker} {adapter}\n");
    }
    println!("Choose another adapter with {ADAPTER_ENV}=<part of its name, or vulkan/gl/metal/dx12>.");
    Ok(ExitCode::SUCCESS)
}

fn check(adapter: Option<&str>) -> anyhow::Result<ExitCode> {
    let gpu = Device::Gpu(GpuDevice::open_matching(adapter)?);
    println!("Checking {gpu} against the CPU reference\n");
    println!("{}", tessera::check::header());
    let outcomes = tessera::check::run(&gpu, |outcome| println!("{outcome}"));
    let failed = outcomes.iter().filter(|o| !o.passed()).count();
    println!("\n{} comparisons, {} passed, {failed} failed", outcomes.len(), outcomes.len() - failed);
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn bench(adapter: Option<&str>, quick: bool, repeats: usize) -> anyhow::Result<ExitCode> {
    use tessera::bench;
    let gpu = GpuDevice::open_matching(adapter)?;
    let peak = gpu.peak_gflops(3)?;
    let device = Device::Gpu(gpu.clone());
    println!("{device}");
    println!("measured arithmetic ceiling: {peak:.1} GFLOP/s (register-only FMA chains)\n");
    println!("{:<18} {:<24} {:>10} {:>14} {:>10}", "kernel", "shape", "time", "throughput", "of ceiling");
    for b in bench::benchmarks(quick) {
        match bench::time(&b, &device, repeats) {
            Ok(seconds) => {
                let (rate, unit) = bench::throughput(b.work, seconds);
                let share = match b.work {
                    bench::Work::Flops(_) => format!("{:.1}%", 100.0 * rate / peak),
                    bench::Work::Bytes(_) => "-".into(),
                };
                println!(
                    "{:<18} {:<24} {:>8.2}ms {:>8.1} {unit:<7} {share:>8}",
                    b.name,
                    b.shape,
                    seconds * 1e3,
                    rate
                );
            }
            Err(e) => println!("{:<18} {:<24} error: {e}", b.name, b.shape),
        }
    }
    let stats = gpu.stats();
    println!("\npeak pooled device memory: {:.1} MiB", stats.pool.peak_bytes as f64 / (1 << 20) as f64);

    let cost = bench::dispatch_cost(&gpu, 2000)?;
    println!(
        "\ndispatch cost ({} tiny kernels in a chain): {:.1} µs each to record on the host, {:.1} µs each until \
         the device has run them (parameters as {})",
        cost.dispatches,
        cost.host_us,
        cost.total_us,
        if gpu.uses_immediates() { "immediates" } else { "uniform-arena slots" }
    );

    let steps = if quick { 8 } else { 24 };
    let step = bench::cnn_training(&device, steps)?;
    let cpu = bench::cnn_training(&Device::Cpu, steps)?;
    println!(
        "\nreference CNN training step (batch 64, Adam, steady state over {steps} steps): {:.0} samples/s \
         (CPU backend: {:.0}); per step {:.1} dispatches, {:.2} submissions, {:.2} bind groups created, {:.2} \
         readbacks; peak pooled memory {:.1} MiB",
        step.samples_per_s,
        cpu.samples_per_s,
        step.dispatches,
        step.submissions,
        step.bind_groups_created,
        step.readbacks,
        step.peak_bytes as f64 / (1 << 20) as f64
    );
    // The per-kernel breakdown, from a second device that times every kernel.
    let options = GpuOptions { adapter: adapter.map(str::to_owned), profile: true, ..GpuOptions::from_env() };
    let profiled = GpuDevice::open_with(&options)?;
    let breakdown = bench::cnn_training(&Device::Gpu(profiled), steps)?;
    print_kernel_times(&breakdown.profile, Some(steps));
    Ok(ExitCode::SUCCESS)
}

fn train(args: TrainArgs) -> anyhow::Result<ExitCode> {
    let device =
        if args.cpu { Device::Cpu } else { Device::Gpu(GpuDevice::open_matching(args.adapter.as_deref())?) };
    let options = TrainOptions {
        data_dir: args.data,
        epochs: args.epochs,
        batch_size: args.batch_size,
        device,
        out_dir: args.out,
        limit: args.limit,
        verbose: args.verbose,
        resume: args.resume,
        ..TrainOptions::default()
    };
    println!("Training the reference CNN on {} with {}", options.data_dir.display(), options.device);
    let (_, result) = tessera::train::run(&options)?;
    let samples = result.samples_per_second;
    let epochs = result.history.len();
    println!(
        "\ntrained {epochs} epoch{} in {:.1} s ({samples:.0} samples/s); test accuracy {:.4}, test loss {:.4}",
        if epochs == 1 { "" } else { "s" },
        result.train_seconds,
        result.test_accuracy,
        result.test_loss
    );
    if let Some(epoch) = result.resumed_after_epoch {
        println!("resumed from the checkpoint of epoch {epoch}");
    }
    println!("model saved to {}", result.model_path.display());
    if let Some(summary) = result.report.first() {
        println!("report written to {}", summary.display());
    }
    if let Device::Gpu(gpu) = &options.device {
        print_kernel_times(&gpu.profile(), None);
    }
    Ok(ExitCode::SUCCESS)
}

/// A table of kernel times: per kernel, its dispatches (per step when `steps` says over how
/// many they were counted) and its share of the time.
fn print_kernel_times(profile: &[KernelTime], steps: Option<usize>) {
    if profile.is_empty() {
        return;
    }
    let total: f64 = profile.iter().map(|k| k.seconds).sum();
    let (title, column) = match steps {
        Some(n) => (format!("kernel (timed over {n} steps)"), "per step"),
        None => ("kernel (timed over the run)".to_string(), "dispatches"),
    };
    println!("\n{title:<64} {column:>10} {:>10} {:>7}", "seconds", "share");
    for k in profile {
        let dispatches = k.dispatches as f64 / steps.unwrap_or(1).max(1) as f64;
        println!(
            "{:<64} {dispatches:>10.1} {:>10.3} {:>6.1}%",
            k.kernel,
            k.seconds,
            100.0 * k.seconds / total
        );
    }
}
