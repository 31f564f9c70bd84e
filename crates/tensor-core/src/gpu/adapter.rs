//! Finding adapters on every backend wgpu was built with, ranking them, and honouring the user's
//! choice (`TESSERA_ADAPTER`).

use std::fmt;

use crate::{Error, Result};

/// The environment variable that picks an adapter by (part of) its name or by backend.
pub const ADAPTER_ENV: &str = "TESSERA_ADAPTER";

/// What `tessera devices` shows about one adapter.
#[derive(Clone, Debug)]
pub struct AdapterSummary {
    pub name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
    pub limits: wgpu::Limits,
    pub features: wgpu::Features,
}

impl fmt::Display for AdapterSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let l = &self.limits;
        writeln!(f, "{} [{} / {}]", self.name, self.backend, self.device_type)?;
        writeln!(f, "  driver: {}", if self.driver.is_empty() { "unknown" } else { &self.driver })?;
        writeln!(
            f,
            "  limits: storage binding {} MiB, buffer {} MiB, workgroup {} invocations ({}x{}x{}), \
             shared memory {} KiB, {} storage buffers per stage, {} bytes of immediates",
            l.max_storage_buffer_binding_size >> 20,
            l.max_buffer_size >> 20,
            l.max_compute_invocations_per_workgroup,
            l.max_compute_workgroup_size_x,
            l.max_compute_workgroup_size_y,
            l.max_compute_workgroup_size_z,
            l.max_compute_workgroup_storage_size >> 10,
            l.max_storage_buffers_per_shader_stage,
            l.max_immediate_size,
        )?;
        let wanted = [
            (wgpu::Features::SHADER_F16, "SHADER_F16"),
            (wgpu::Features::TIMESTAMP_QUERY, "TIMESTAMP_QUERY"),
            (wgpu::Features::PIPELINE_CACHE, "PIPELINE_CACHE"),
            (wgpu::Features::IMMEDIATES, "IMMEDIATES"),
            (wgpu::Features::SUBGROUP, "SUBGROUP"),
        ];
        let present: Vec<&str> =
            wanted.iter().filter(|(feature, _)| self.features.contains(*feature)).map(|(_, n)| *n).collect();
        write!(
            f,
            "  features: {}",
            if present.is_empty() { "none of interest".into() } else { present.join(", ") }
        )
    }
}

/// An instance over `backends` (narrowed further by wgpu's own WGPU_BACKEND variable).
fn instance(backends: wgpu::Backends) -> wgpu::Instance {
    let mut descriptor = wgpu::InstanceDescriptor::new_without_display_handle();
    descriptor.backends = backends;
    wgpu::Instance::new(descriptor.with_env())
}

/// Discrete GPUs first, then integrated, virtual, software; native APIs before GL.
fn rank(info: &wgpu::AdapterInfo) -> (u8, u8) {
    let kind = match info.device_type {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Cpu => 3,
        wgpu::DeviceType::Other => 4,
    };
    let backend = match info.backend {
        wgpu::Backend::Vulkan | wgpu::Backend::Metal | wgpu::Backend::Dx12 => 0,
        wgpu::Backend::Gl => 1,
        _ => 2,
    };
    (kind, backend)
}

/// Adapters that can run compute shaders, best first.
fn ranked(backends: wgpu::Backends) -> Vec<wgpu::Adapter> {
    let mut adapters: Vec<wgpu::Adapter> =
        pollster::block_on(instance(backends).enumerate_adapters(backends))
            .into_iter()
            .filter(|a| a.get_downlevel_capabilities().flags.contains(wgpu::DownlevelFlags::COMPUTE_SHADERS))
            .collect();
    adapters.sort_by_key(|a| rank(&a.get_info()));
    adapters
}

/// Every usable adapter, best first.
pub fn list_adapters() -> Vec<AdapterSummary> {
    ranked(wgpu::Backends::all()).iter().map(summarize).collect()
}

pub(crate) fn summarize(adapter: &wgpu::Adapter) -> AdapterSummary {
    let info = adapter.get_info();
    AdapterSummary {
        name: info.name.clone(),
        backend: info.backend.to_string(),
        device_type: format!("{:?}", info.device_type),
        driver: [info.driver.as_str(), info.driver_info.as_str()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" "),
        limits: adapter.limits(),
        features: adapter.features(),
    }
}

/// The environment variables by which MPI launchers (OpenMPI, MPICH's hydra, Slurm) give a
/// process its rank among those on its machine.
const LOCAL_RANK_ENV: [&str; 3] = ["OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"];

/// This process's rank among the processes of an MPI job on this machine, if it is one.
fn local_rank() -> Option<usize> {
    LOCAL_RANK_ENV.iter().filter_map(|name| std::env::var(name).ok()).find_map(|v| v.trim().parse().ok())
}

/// The adapter to use: the one `selector` names (a case-insensitive part of its name, or a
/// backend such as `vulkan` or `gl`), else the best one — or, in a process of an MPI job, one
/// of the adapters as good as the best chosen by the process's local rank, so that the ranks
/// on a machine with several GPUs share them out (round robin).
///
/// Without a selector, GL is only opened when no native API (Vulkan, Metal, DX12) has an adapter:
/// it ranks last anyway, and starting EGL is slow and noisy.
pub(crate) fn choose(selector: Option<&str>) -> Result<wgpu::Adapter> {
    let selecting = selector.is_some_and(|s| !s.is_empty());
    let native = if selecting { Vec::new() } else { ranked(wgpu::Backends::PRIMARY) };
    let adapters = if native.is_empty() { ranked(wgpu::Backends::all()) } else { native };
    if adapters.is_empty() {
        return Err(Error::NoAdapter);
    }
    let Some(selector) = selector.map(str::to_lowercase).filter(|s| !s.is_empty()) else {
        let best = rank(&adapters[0].get_info());
        let equals = adapters.iter().take_while(|a| rank(&a.get_info()) == best).count();
        let pick = local_rank().map_or(0, |local| local % equals);
        return adapters.into_iter().nth(pick).ok_or(Error::NoAdapter);
    };
    let names: Vec<String> =
        adapters.iter().map(|a| format!("{} ({})", a.get_info().name, a.get_info().backend)).collect();
    adapters
        .into_iter()
        .find(|a| {
            let info = a.get_info();
            info.name.to_lowercase().contains(&selector)
                || info.backend.to_string().to_lowercase() == selector
        })
        .ok_or_else(|| Error::AdapterNotFound { selector, available: names.join(", ") })
}
