//! Where a tensor's data lives.

use std::fmt;

/// The device a tensor lives on. Every op runs on the device of its operands; operands on
/// different devices are an error, and `Tensor::to` moves data between devices explicitly.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Device {
    /// The reference backend: plain loops on the host, f32 and f64.
    #[default]
    Cpu,
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Cpu => f.write_str("cpu"),
        }
    }
}
