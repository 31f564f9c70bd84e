//! Where a tensor's data lives.

use std::fmt;
use std::sync::OnceLock;

use crate::gpu::GpuDevice;
use crate::{Error, Result};

/// The device a tensor lives on. Every op runs on the device of its operands; operands on
/// different devices are an error, and `Tensor::to` moves data between devices explicitly.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub enum Device {
    /// The reference backend: plain loops on the host, f32 and f64.
    #[default]
    Cpu,
    /// A wgpu adapter: WGSL compute kernels, f32.
    Gpu(GpuDevice),
}

static DEFAULT_GPU: OnceLock<std::result::Result<GpuDevice, Error>> = OnceLock::new();

impl Device {
    /// The process-wide GPU: the best adapter, or the one `TESSERA_ADAPTER` names. Opened on
    /// first use and shared by every later call, so tensors from different calls can meet.
    pub fn gpu() -> Result<Device> {
        DEFAULT_GPU.get_or_init(GpuDevice::open).clone().map(Device::Gpu)
    }

    /// The GPU when there is one, else the CPU. Only the absence of any adapter falls back to
    /// the CPU: a `TESSERA_ADAPTER` that names no adapter, or a GPU that fails to open, is an
    /// error, so a typo never silently trains on the CPU.
    pub fn best() -> Result<Device> {
        match Device::gpu() {
            Err(Error::NoAdapter) => {
                log::info!("no GPU adapter found; using the CPU");
                Ok(Device::Cpu)
            }
            other => other,
        }
    }

    pub fn is_gpu(&self) -> bool {
        matches!(self, Device::Gpu(_))
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Cpu => f.write_str("cpu"),
            Device::Gpu(gpu) => write!(f, "{gpu}"),
        }
    }
}
