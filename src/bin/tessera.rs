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
        /// Check only the ops whose name contains this (e.g. `matmul`, `conv2d`).
        #[arg(long)]
        only: Option<String>,
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
        /// Print one JSON document (stable keys) instead of tables.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
struct TrainArgs {
    /// Directory with the four Fashion-MNIST IDX files (gzip or raw).
    #[arg(long, default_value = tessera::nn::data::FashionMnist::DEFAULT_DIR)]
    data: std::path::PathBuf,
    /// The epoch to train up to, counted from the run's start (a resumed run trains the rest).
    #[arg(long, default_value_t = 3)]
    epochs: usize,
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// Adapter to train on (part of its name, or a backend); the best one by default, or the one
    /// TESSERA_ADAPTER names.
    // Not clap's `env`: an exported TESSERA_ADAPTER would then count as --adapter given and
    // conflict with --cpu. The GPU device reads the variable itself when this is absent.
    #[arg(long)]
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
    /// Fraction of the training images held out for validation.
    #[arg(long, default_value_t = 0.1)]
    validation_split: f64,
    /// Seed of the initial weights and of the shuffling.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// 0 silent, 1 progress bar, 2 one line per epoch.
    #[arg(long, default_value_t = 1)]
    verbose: u8,
    /// Continue an interrupted run from its latest checkpoint in OUT/checkpoints (with the same
    /// --limit, --batch-size, --validation-split and --seed; --epochs may grow).
    #[arg(long)]
    resume: bool,
    /// Start afresh where OUT/checkpoints holds an earlier run's checkpoints, removing them.
    #[arg(long, conflicts_with = "resume")]
    overwrite: bool,
    /// How the layers compute: float32, or mixed_float16 (f16 activations from f32 weights,
    /// with loss scaling; needs a GPU with SHADER_F16, or --cpu).
    #[arg(long, default_value = "float32")]
    dtype_policy: String,
}

fn main() -> ExitCode {
    tessera::logging::init();
    let result = match Cli::parse().command {
        Command::Devices => devices(),
        Command::Check { adapter, only } => check(adapter.as_deref(), only.as_deref()),
        Command::Bench { adapter, quick, repeats, json } => bench(adapter.as_deref(), quick, repeats, json),
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

fn check(adapter: Option<&str>, only: Option<&str>) -> anyhow::Result<ExitCode> {
    let gpu = Device::Gpu(GpuDevice::open_matching(adapter)?);
    println!("Checking {gpu} against the CPU reference\n");
    println!("{}", tessera::check::header());
    let outcomes = tessera::check::run(&gpu, only, |outcome| println!("{outcome}"));
    let failed = outcomes.iter().filter(|o| !o.passed()).count();
    println!("\n{} comparisons, {} passed, {failed} failed", outcomes.len(), outcomes.len() - failed);
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn bench(adapter: Option<&str>, quick: bool, repeats: usize, json: bool) -> anyhow::Result<ExitCode> {
    use tessera::bench;
    let gpu = GpuDevice::open_matching(adapter)?;
    let device = Device::Gpu(gpu.clone());
    let ceilings = bench::Ceilings { fma_gflops: gpu.peak_gflops(3)?, copy_gbps: gpu.copy_gbps(5)? };
    let (cpu_model, load) = bench::host();
    let say = |line: String| {
        if !json {
            println!("{line}");
        }
    };
    say(format!("{device}, driver {}", gpu.summary().driver));
    say(format!(
        "host: {}, load {}",
        cpu_model.as_deref().unwrap_or("unknown CPU"),
        load.as_deref().unwrap_or("-")
    ));
    say(format!(
        "measured ceilings: {:.1} GFLOP/s (register-only FMA chains), {:.1} GB/s (buffer copy)\n",
        ceilings.fma_gflops, ceilings.copy_gbps
    ));
    say(format!(
        "{:<18} {:<30} {:<18} {:>10} {:>10} {:>14} {:>8}",
        "kernel", "shape", "variant", "first run", "time", "throughput", "ceiling"
    ));
    let mut rows = Vec::new();
    for b in bench::benchmarks(quick) {
        match bench::measure(&b, &device, repeats, ceilings) {
            Ok(row) => {
                say(format!(
                    "{:<18} {:<30} {:<18} {:>8.1}ms {:>8.2}ms {:>7.2} {:<6} {:>7.1}%",
                    row.name,
                    row.shape,
                    if row.variant.is_empty() { "-" } else { &row.variant },
                    row.cold_seconds * 1e3,
                    row.seconds * 1e3,
                    row.rate,
                    row.work.unit().0,
                    row.pct_of_ceiling
                ));
                rows.push(row);
            }
            Err(e) => say(format!("{:<18} {:<30} error: {e}", b.name, b.shape)),
        }
    }
    let peak_mib = gpu.stats().pool.peak_bytes as f64 / (1 << 20) as f64;
    say(format!("\npeak pooled device memory: {peak_mib:.1} MiB"));

    let cost = bench::dispatch_cost(&gpu, 2000)?;
    say(format!(
        "\ndispatch cost ({} tiny kernels in a chain): {:.1} µs each to record on the host, {:.1} µs each until \
         the device has run them (parameters as {})",
        cost.dispatches,
        cost.host_us,
        cost.total_us,
        if gpu.uses_immediates() { "immediates" } else { "uniform-arena slots" }
    ));

    let steps = if quick { 16 } else { 32 };
    let step = bench::cnn_training(&device, steps)?;
    let cpu = bench::cnn_training(&Device::Cpu, steps)?;
    say(format!(
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
    ));
    // The per-kernel breakdown, from a second device that times every kernel.
    let options = GpuOptions { adapter: adapter.map(str::to_owned), profile: true, ..GpuOptions::from_env() };
    let profiled = GpuDevice::open_with(&options)?;
    let breakdown = bench::cnn_training(&Device::Gpu(profiled), steps)?;
    if json {
        let kernels: Vec<_> = breakdown
            .profile
            .iter()
            .map(|k| {
                serde_json::json!({
                    "kernel": k.kernel,
                    "dispatches_per_step": k.dispatches as f64 / breakdown.steps.max(1) as f64,
                    "ms_per_step": 1e3 * k.seconds / breakdown.steps.max(1) as f64,
                })
            })
            .collect();
        let rows: Vec<_> = rows
            .iter()
            .map(|r| {
                let rate = r.work.unit().1;
                serde_json::json!({
                    "name": r.name,
                    "shape": r.shape,
                    "variant": r.variant,
                    "first_run_ms": r.cold_seconds * 1e3,
                    "ms": r.seconds * 1e3,
                    rate: r.rate,
                    "pct_of_ceiling": r.pct_of_ceiling,
                })
            })
            .collect();
        let summary = gpu.summary();
        let document = serde_json::json!({
            "adapter": summary.name,
            "backend": summary.backend,
            "device_type": summary.device_type,
            "driver": summary.driver,
            "cpu": cpu_model,
            "load": load,
            "fma_ceiling_gflops": ceilings.fma_gflops,
            "copy_ceiling_gbps": ceilings.copy_gbps,
            "rows": rows,
            "peak_pooled_mib": peak_mib,
            "dispatch": {
                "host_us": cost.host_us,
                "total_us": cost.total_us,
                "immediates": gpu.uses_immediates(),
            },
            "cnn_train": {
                "batch": 64,
                "steps_measured": step.steps,
                "samples_per_s": step.samples_per_s,
                "dispatches_per_step": step.dispatches,
                "submissions_per_step": step.submissions,
                "bind_groups_per_step": step.bind_groups_created,
                "readbacks_per_step": step.readbacks,
                "peak_pooled_mib": step.peak_bytes as f64 / (1 << 20) as f64,
                "cpu_samples_per_s": cpu.samples_per_s,
                "kernels": kernels,
            },
        });
        println!("{}", serde_json::to_string_pretty(&document)?);
    } else {
        print_kernel_times(&breakdown.profile, Some(breakdown.steps));
    }
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
        validation_split: args.validation_split,
        seed: args.seed,
        verbose: args.verbose,
        resume: args.resume,
        overwrite: args.overwrite,
        dtype_policy: args.dtype_policy,
    };
    // Under `mpirun`, every rank trains and rank 0 speaks for them all.
    let world = tessera::nn::distributed::launched_world()?;
    if let Some(world) = world.as_deref().filter(|w| w.rank() != 0) {
        tessera::train::run(&options)?;
        log::debug!("rank {} of {} finished", world.rank(), world.size());
        return Ok(ExitCode::SUCCESS);
    }
    let ranks =
        world.as_deref().map_or(String::new(), |w| format!(", data-parallel over {} ranks", w.size()));
    println!("Training the reference CNN on {} with {}{ranks}", options.data_dir.display(), options.device);
    let (_, result) = tessera::train::run(&options)?;
    let epochs = result.history.len();
    if epochs == 0 {
        println!(
            "\nno epoch trained; test accuracy {:.4}, test loss {:.4}",
            result.test_accuracy, result.test_loss
        );
    } else {
        println!(
            "\ntrained {epochs} epoch{} in {:.1} s ({:.0} samples/s); test accuracy {:.4}, test loss {:.4}",
            if epochs == 1 { "" } else { "s" },
            result.train_seconds,
            result.samples_per_second,
            result.test_accuracy,
            result.test_loss
        );
    }
    if let Some(epoch) = result.resumed_after_epoch {
        println!("resumed from the checkpoint of epoch {epoch}");
    }
    for skipped in &result.skipped_checkpoints {
        println!("passed over a checkpoint: {skipped}");
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
