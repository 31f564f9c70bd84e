//! Memory over a run: the process's resident set and, on a GPU, the buffer pool's counters,
//! sampled after every epoch. A steady run holds both flat after its first epoch; growth from
//! epoch to epoch is a leak that a long run would die of.

use nn::callbacks::{Callback, CallbackContext};
use nn::{Logs, Result};
use tensor_core::Device;
use tensor_core::gpu::PoolStats;

/// The memory figures at the end of one epoch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MemorySample {
    /// The epoch (0-based) just ended.
    pub epoch: usize,
    /// The process's resident set, where the system tells it (Linux's /proc).
    pub resident_bytes: Option<u64>,
    /// The GPU buffer pool's counters, when training on a GPU.
    pub pool: Option<PoolStats>,
}

/// The process's resident set size, from /proc/self/status (`VmRSS`, in KiB); `None` where
/// there is no /proc.
pub fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find_map(|line| line.strip_prefix("VmRSS:"))?;
    let kib: u64 = line.trim().strip_suffix("kB")?.trim().parse().ok()?;
    Some(kib * 1024)
}

/// Samples memory after every epoch, logs it (at info level) and keeps the samples.
pub struct MemoryMonitor {
    device: Device,
    samples: Vec<MemorySample>,
}

impl MemoryMonitor {
    /// A monitor of this process and of `device`'s pool, if it is a GPU.
    pub fn new(device: &Device) -> MemoryMonitor {
        MemoryMonitor { device: device.clone(), samples: Vec::new() }
    }

    /// One sample per epoch this process trained, in order.
    pub fn samples(&self) -> &[MemorySample] {
        &self.samples
    }
}

impl Callback for MemoryMonitor {
    fn on_epoch_end(&mut self, epoch: usize, _logs: &mut Logs, _ctx: &mut CallbackContext<'_>) -> Result<()> {
        let pool = match &self.device {
            Device::Gpu(gpu) => Some(gpu.stats().pool),
            Device::Cpu => None,
        };
        let sample = MemorySample { epoch, resident_bytes: resident_bytes(), pool };
        log::info!("epoch {}: {}", epoch + 1, describe(&sample));
        self.samples.push(sample);
        Ok(())
    }
}

/// A sample in words: "resident 412.3 MiB; pool 80.1 MiB live, 96.0 MiB reserved, 210
/// buffers created".
pub fn describe(sample: &MemorySample) -> String {
    let mut text = match sample.resident_bytes {
        Some(bytes) => format!("resident {}", mib(bytes)),
        None => "resident size unknown".to_string(),
    };
    if let Some(pool) = sample.pool {
        text.push_str(&format!(
            "; pool {} live, {} reserved, {} buffers created",
            mib(pool.live_bytes),
            mib(pool.reserved_bytes),
            pool.allocations
        ));
    }
    text
}

/// Bytes in MiB, one decimal.
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
}
