//! The backend-specific memory behind a tensor. Each op matches on it to pick its kernel.

use crate::cpu::CpuStorage;
use crate::{DType, Device};

/// A tensor's data on its device.
#[derive(Debug)]
pub(crate) enum Storage {
    Cpu(CpuStorage),
}

impl Storage {
    pub(crate) fn device(&self) -> Device {
        match self {
            Storage::Cpu(_) => Device::Cpu,
        }
    }

    pub(crate) fn dtype(&self) -> DType {
        match self {
            Storage::Cpu(s) => s.dtype(),
        }
    }
}
