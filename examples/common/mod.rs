//! What every example's command line shares: the fast mode that CI runs, and the device.
// Each example is its own crate and uses only part of this module.
#![allow(dead_code)]

use tessera::Device;

/// `--fast` and `--cpu`, flattened into each example's options.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct RunMode {
    /// A small slice of the data and a few epochs: a quick check.
    #[arg(long)]
    pub fast: bool,
    /// Run on the CPU even when a GPU is available.
    #[arg(long)]
    pub cpu: bool,
}

impl RunMode {
    /// The fast mode on the CPU: what the examples' tests run.
    pub const CHECK: RunMode = RunMode { fast: true, cpu: true };

    /// The CPU when asked for, else the best GPU (or the CPU when there is none); a GPU that
    /// is there but cannot be opened, or a `TESSERA_ADAPTER` naming none, is an error.
    pub fn device(&self) -> tessera::Result<Device> {
        if self.cpu { Ok(Device::Cpu) } else { Device::best() }
    }

    /// `fast` in the fast mode, `full` otherwise.
    pub fn pick<T>(&self, fast: T, full: T) -> T {
        if self.fast { fast } else { full }
    }
}
