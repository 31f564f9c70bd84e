//! The `tessera` command line: list adapters, health-check the GPU against the CPU reference,
//! benchmark kernels, and train the reference CNN.

use clap::{Parser, Subcommand};

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
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Devices => devices(),
    }
}

fn devices() -> anyhow::Result<()> {
    let adapters = tessera::tensor_core::gpu::list_adapters();
    if adapters.is_empty() {
        anyhow::bail!(tessera::Error::NoAdapter);
    }
    for (i, adapter) in adapters.iter().enumerate() {
        let marker = if i == 0 { " (default)" } else { "" };
        println!("{i}: {adapter}{marker}\n");
    }
    println!(
        "Choose another with {}=<part of the name, or vulkan/gl/metal/dx12>.",
        tessera::tensor_core::gpu::ADAPTER_ENV
    );
    Ok(())
}
