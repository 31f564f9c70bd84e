//! The wgpu backend: adapters, buffers, pipelines and batched submission. Kernels are the WGSL
//! files in `shaders/`; each op family's dispatch code lives beside its CPU kernel's caller.

mod adapter;
mod context;
pub(crate) mod kernels;
pub(crate) mod pipelines;
mod pool;
pub(crate) mod storage;

pub use adapter::{ADAPTER_ENV, AdapterSummary, list_adapters};
pub use context::{GpuDevice, GpuStats, KernelTime};
pub use pool::PoolStats;
pub(crate) use pool::PooledBuffer;
