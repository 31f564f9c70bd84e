//! The `tessera` command line: list adapters, health-check the GPU against the CPU reference,
//! benchmark kernels, and train the reference CNN.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tessera::Device;
use tessera::tensor_core::gpu::{ADAPTER_ENV, GpuDevice, list_adapters};

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

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Devices => devices(),
        Command::Check { adapter } => check(adapter.as_deref()),
        Command::Bench { adapter, quick, repeats } => bench(adapter.as_deref(), quick, repeats),
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
    Ok(ExitCode::SUCCESS)
}
