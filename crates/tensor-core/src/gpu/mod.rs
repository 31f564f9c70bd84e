//! The wgpu backend: adapters, buffers, pipelines, the submission being recorded, and the
//! kernels. Kernels are the WGSL files in `shaders/`; each op family's launcher lives in
//! `kernels/`, and `backend.rs` maps the backend trait's ops onto them.

mod adapter;
mod backend;
mod bind_groups;
mod context;
mod device;
mod gemm;
mod kernel;
pub(crate) mod kernels;
mod pipelines;
mod pool;
mod profiler;
pub(crate) mod storage;

pub use adapter::{ADAPTER_ENV, AdapterSummary, list_adapters};
pub use context::GpuStats;
pub use device::{GpuDevice, GpuOptions, PROFILE_ENV};
pub use gemm::tune::{AUTOTUNE_ENV, Mode as AutotuneMode};
pub use pool::PoolStats;
pub(crate) use pool::PooledBuffer;
pub use profiler::KernelTime;
