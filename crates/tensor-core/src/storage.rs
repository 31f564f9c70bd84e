//! The backend-specific memory behind a tensor. Each op matches on it to pick its kernel.

use crate::cpu::CpuStorage;
use crate::gpu::storage::GpuStorage;
use crate::{DType, Device};

/// A tensor's data on its device.
#[derive(Debug)]
pub(crate) enum Storage {
    Cpu(CpuStorage),
    Gpu(GpuStorage),
}

impl Storage {
    pub(crate) fn device(&self) -> Device {
        match self {
            Storage::Cpu(_) => Device::Cpu,
            Storage::Gpu(s) => Device::Gpu(s.device.clone()),
        }
    }

    pub(crate) fn dtype(&self) -> DType {
        match self {
            Storage::Cpu(s) => s.dtype(),
            Storage::Gpu(_) => DType::F32,
        }
    }
}
