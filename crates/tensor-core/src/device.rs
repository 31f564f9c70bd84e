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

    /// The GPU when there is one, else the CPU.
    pub fn best() -> Device {
        Device::gpu().unwrap_or(Device::Cpu)
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
