//! Opening an adapter, and the handle tensors hold to it.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::adapter::{self, ADAPTER_ENV, AdapterSummary};
use super::context::{Context, GpuStats};
use super::gemm::tune::{Mode, Tuner};
use super::pipelines::{Pipelines, default_cache_dir};
use super::profiler::KernelTime;
use super::storage::GpuStorage;
use crate::{Error, Result};

/// The environment variable that turns on per-kernel timing (see [`GpuOptions::profile`]).
pub const PROFILE_ENV: &str = "TESSERA_PROFILE";

static NEXT_DEVICE_ID: AtomicU64 = AtomicU64::new(1);

/// How to open a GPU.
#[derive(Clone, Debug)]
pub struct GpuOptions {
    /// Part of the adapter's name (case-insensitive) or a backend (`vulkan`, `gl`, `metal`,
    /// `dx12`); the best adapter when `None`.
    pub adapter: Option<String>,
    /// Where the driver's compiled pipelines are kept between runs; not kept when `None`.
    pub cache_dir: Option<PathBuf>,
    /// Time every kernel (see [`GpuDevice::profile`]).
    pub profile: bool,
    /// How products choose their schedules (see [`Mode`]).
    pub autotune: Mode,
}

impl Default for GpuOptions {
    /// The best adapter, nothing persisted, no profiling, and products tuned on first use.
    fn default() -> Self {
        GpuOptions { adapter: None, cache_dir: None, profile: false, autotune: Mode::Full }
    }
}

impl GpuOptions {
    /// The options the environment gives: `TESSERA_ADAPTER`, the pipeline cache in
    /// `$TESSERA_CACHE_DIR` (else `$XDG_CACHE_HOME/tessera`, else `~/.cache/tessera`), and
    /// profiling when `TESSERA_PROFILE` is set, and the tuning `TESSERA_AUTOTUNE` asks for.
    pub fn from_env() -> GpuOptions {
        GpuOptions {
            adapter: std::env::var(ADAPTER_ENV).ok().filter(|s| !s.is_empty()),
            cache_dir: default_cache_dir(),
            profile: std::env::var_os(PROFILE_ENV).is_some(),
            autotune: Mode::from_env(),
        }
    }
}

/// A handle to an opened GPU. Cheap to clone; all clones share one device, pool and cache.
#[derive(Clone)]
pub struct GpuDevice {
    pub(crate) ctx: Arc<Context>,
}

impl GpuDevice {
    /// Opens the GPU the environment names, as [`GpuOptions::from_env`] reads it.
    pub fn open() -> Result<GpuDevice> {
        GpuDevice::open_with(&GpuOptions::from_env())
    }

    /// Opens the adapter `selector` names (part of its name, or a backend), or the best one,
    /// with the other options from the environment.
    pub fn open_matching(selector: Option<&str>) -> Result<GpuDevice> {
        GpuDevice::open_with(&GpuOptions { adapter: selector.map(str::to_owned), ..GpuOptions::from_env() })
    }

    /// Opens the adapter `options` names, or the best one.
    pub fn open_with(options: &GpuOptions) -> Result<GpuDevice> {
        let adapter = adapter::choose(options.adapter.as_deref())?;
        let summary = adapter::summarize(&adapter);
        let wanted = wgpu::Features::SHADER_F16
            | wgpu::Features::TIMESTAMP_QUERY
            | wgpu::Features::PIPELINE_CACHE
            | wgpu::Features::IMMEDIATES
            | wgpu::Features::SUBGROUP;
        let features = adapter.features() & wanted;
        // The adapter's real limits, not wgpu's conservative defaults: lavapipe's 128 MiB storage
        // binding and a discrete GPU's multi-GiB ones both matter for chunking.
        let limits = adapter.limits();
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("tessera"),
            required_features: features,
            required_limits: limits.clone(),
            experimental_features: wgpu::ExperimentalFeatures::disabled(),
            memory_hints: wgpu::MemoryHints::Performance,
            trace: wgpu::Trace::Off,
        }))
        .map_err(|e| Error::Gpu(format!("opening {}: {e}", summary.name)))?;
        let pipelines = Pipelines::new(device.clone(), &adapter.get_info(), options.cache_dir.as_deref());
        let identity = format!("{} {} {}", summary.name, summary.backend, summary.driver);
        let info = adapter.get_info();
        // Products that share loads by subgroup broadcasts are written for one subgroup size.
        let subgroup = (features.contains(wgpu::Features::SUBGROUP)
            && info.subgroup_min_size == info.subgroup_max_size)
            .then_some(info.subgroup_min_size);
        let tuner = Tuner::new(options.autotune, options.cache_dir.as_deref(), &identity, subgroup);
        let id = NEXT_DEVICE_ID.fetch_add(1, Ordering::Relaxed);
        let ctx = Context::new(id, summary, device, queue, limits, pipelines, tuner, options.profile);
        Ok(GpuDevice { ctx: Arc::new(ctx) })
    }

    /// The adapter's name, backend, driver, limits and features.
    pub fn summary(&self) -> &AdapterSummary {
        &self.ctx.summary
    }

    pub fn name(&self) -> &str {
        &self.ctx.summary.name
    }

    /// The largest buffer range a kernel may bind, in bytes.
    pub fn max_binding_bytes(&self) -> u64 {
        self.ctx.limits.max_storage_buffer_binding_size
    }

    /// Whether tensors may hold f16 here: the adapter has `SHADER_F16`, which tessera enables
    /// whenever it is offered.
    pub fn has_f16(&self) -> bool {
        self.ctx.device.features().contains(wgpu::Features::SHADER_F16)
    }

    /// Whether compiled pipelines persist on disk between runs.
    pub fn pipelines_persisted(&self) -> bool {
        self.ctx.pipelines.persisted()
    }

    /// Whether kernel parameters travel as immediates (else through a uniform arena).
    pub fn uses_immediates(&self) -> bool {
        self.ctx.pipelines.uses_immediates(4)
    }

    /// Dispatches, submissions, bind groups created and readbacks since the device was opened,
    /// with the buffer pool's counters.
    pub fn stats(&self) -> GpuStats {
        self.ctx.stats()
    }

    /// Whether this device times its kernels (opened with [`GpuOptions::profile`]).
    pub fn profiling(&self) -> bool {
        self.ctx.profiler.is_some()
    }

    /// Time per kernel since the device was opened (or [`GpuDevice::reset_profile`]), slowest
    /// first; empty unless the device was opened with [`GpuOptions::profile`]. Where the
    /// adapter has timestamp queries these are device times read once per submission; elsewhere
    /// each dispatch is timed on the host, waiting for the device.
    pub fn profile(&self) -> Vec<KernelTime> {
        self.ctx.profiler.as_ref().map(|p| p.times()).unwrap_or_default()
    }

    /// Forgets the kernel times collected so far.
    pub fn reset_profile(&self) {
        if let Some(profiler) = &self.ctx.profiler {
            profiler.reset();
        }
    }

    /// The schedules this adapter's matrix products and convolutions may run with (those the
    /// autotuner chooses among), by name.
    pub fn product_schedules(&self) -> Vec<String> {
        self.ctx.tuner.schedules()
    }

    /// Those of [`GpuDevice::product_schedules`] that products of f16 may run with (pinning
    /// another makes an f16 product an error).
    pub fn f16_product_schedules(&self) -> Vec<String> {
        self.ctx.tuner.f16_schedules()
    }

    /// Makes every product run with the schedule `name` (one of
    /// [`GpuDevice::product_schedules`]) until called with `None`: how `tessera check` runs
    /// each kernel variant, whichever the autotuner would pick.
    pub fn pin_product_schedule(&self, name: Option<&str>) -> Result<()> {
        self.ctx.tuner.pin(name)
    }

    /// The names of the schedules products ran with since the last call: which kernel variants
    /// a computation used.
    pub fn take_used_product_schedules(&self) -> Vec<String> {
        self.ctx.tuner.take_used()
    }

    /// Restarts the pool's peak-memory tracking.
    pub fn reset_peak_memory(&self) {
        self.ctx.pool.reset_peak();
    }

    /// Frees the pool's idle buffers.
    pub fn trim_pool(&self) {
        self.ctx.trim();
    }

    /// Measures the adapter's arithmetic ceiling in GFLOP/s: register-only FMA chains, timed
    /// from submission to completion (the best of `repeats` runs).
    pub fn peak_gflops(&self, repeats: usize) -> Result<f64> {
        use super::kernels::peak;
        let (invocations, iterations) = (1 << 20, 128);
        // Warm-up: compiles the pipeline and wakes the device.
        drop(peak::fma_burst(self, invocations, 1)?);
        self.synchronize()?;
        let mut best = f64::INFINITY;
        for _ in 0..repeats.max(1) {
            let start = std::time::Instant::now();
            let out = peak::fma_burst(self, invocations, iterations)?;
            self.synchronize()?;
            best = best.min(start.elapsed().as_secs_f64());
            drop(out);
        }
        Ok(peak::flops(invocations, iterations) / best / 1e9)
    }

    /// Measures the adapter's memory ceiling in GB/s (bytes read plus bytes written): a buffer
    /// copied onto another, timed from submission to completion (the best of `repeats` runs).
    pub fn copy_gbps(&self, repeats: usize) -> Result<f64> {
        let len = 1 << 24;
        let src = GpuStorage::empty(self, len)?;
        let dst = GpuStorage::empty(self, len)?;
        dst.copy_from(&src);
        self.synchronize()?;
        let mut best = f64::INFINITY;
        for _ in 0..repeats.max(1) {
            let start = std::time::Instant::now();
            dst.copy_from(&src);
            self.synchronize()?;
            best = best.min(start.elapsed().as_secs_f64());
        }
        Ok(2.0 * 4.0 * len as f64 / best / 1e9)
    }

    /// Submits pending work and waits for the device to finish it (for timing).
    pub fn synchronize(&self) -> Result<()> {
        self.ctx.flush()?;
        self.ctx.wait()
    }
}

impl PartialEq for GpuDevice {
    fn eq(&self, other: &Self) -> bool {
        self.ctx.id == other.ctx.id
    }
}

impl Eq for GpuDevice {}

impl std::hash::Hash for GpuDevice {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.ctx.id.hash(state);
    }
}

impl fmt::Debug for GpuDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GpuDevice({} on {})", self.ctx.summary.name, self.ctx.summary.backend)
    }
}

impl fmt::Display for GpuDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "gpu:{} ({})", self.ctx.summary.name, self.ctx.summary.backend)
    }
}
