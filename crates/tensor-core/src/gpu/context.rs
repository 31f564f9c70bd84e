//! One opened adapter: device and queue, the buffer pool, the pipelines, and the pending command
//! encoder that ops record into. Work is submitted in batches (when the parameter arena fills,
//! before an upload, and on readback); no op ever waits on the device.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use super::adapter::{self, ADAPTER_ENV, AdapterSummary};
use super::pipelines::{KernelSpec, Pipelines};
use super::pool::{BufferKind, BufferPool, PoolStats, PooledBuffer};
use crate::{Error, Result};

/// Bytes of kernel parameters recorded per submission. Each dispatch takes one slot of the
/// device's uniform offset alignment (256 bytes on most adapters).
const PARAM_ARENA_BYTES: u64 = 64 * 1024;

static NEXT_DEVICE_ID: AtomicU64 = AtomicU64::new(1);

/// A handle to an opened GPU. Cheap to clone; all clones share one device, pool and cache.
#[derive(Clone)]
pub struct GpuDevice {
    pub(crate) ctx: Arc<Context>,
}

pub(crate) struct Context {
    id: u64,
    summary: AdapterSummary,
    pub(crate) device: wgpu::Device,
    queue: wgpu::Queue,
    pub(crate) limits: wgpu::Limits,
    pub(crate) pool: Arc<BufferPool>,
    pipelines: Pipelines,
    params: wgpu::Buffer,
    param_slot: u64,
    pending: Mutex<Pending>,
    stats: Counters,
    /// Per-kernel wall time, kept only when `TESSERA_PROFILE` is set (see [`GpuDevice::profile`]).
    profile: Option<Mutex<Vec<KernelTime>>>,
}

/// Time spent in one kernel, summed over its dispatches.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelTime {
    pub kernel: String,
    pub dispatches: u64,
    pub seconds: f64,
}

#[derive(Default)]
struct Pending {
    encoder: Option<wgpu::CommandEncoder>,
    params: Vec<u8>,
}

#[derive(Default)]
struct Counters {
    dispatches: AtomicU64,
    submissions: AtomicU64,
    readbacks: AtomicU64,
}

/// Traffic between host and device, for tests that prove an op does not synchronise.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GpuStats {
    pub dispatches: u64,
    pub submissions: u64,
    pub readbacks: u64,
    pub pool: PoolStats,
}

/// A range of a buffer bound to one kernel slot.
#[derive(Clone, Copy)]
pub(crate) struct Binding<'a> {
    pub buffer: &'a wgpu::Buffer,
    pub offset: u64,
    pub size: u64,
}

impl GpuDevice {
    /// Opens the best adapter, or the one `TESSERA_ADAPTER` names.
    pub fn open() -> Result<GpuDevice> {
        let selector = std::env::var(ADAPTER_ENV).ok();
        GpuDevice::open_matching(selector.as_deref())
    }

    /// Opens the adapter `selector` names (part of its name, or a backend), or the best one.
    pub fn open_matching(selector: Option<&str>) -> Result<GpuDevice> {
        let adapter = adapter::choose(selector)?;
        let summary = adapter::summarize(&adapter);
        let wanted =
            wgpu::Features::SHADER_F16 | wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::PIPELINE_CACHE;
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
        let param_slot = u64::from(limits.min_uniform_buffer_offset_alignment).max(256);
        let params = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("tessera kernel parameters"),
            size: PARAM_ARENA_BYTES,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let info = adapter.get_info();
        Ok(GpuDevice {
            ctx: Arc::new(Context {
                id: NEXT_DEVICE_ID.fetch_add(1, Ordering::Relaxed),
                pool: BufferPool::new(device.clone()),
                pipelines: Pipelines::new(device.clone(), &info),
                summary,
                device,
                queue,
                limits,
                params,
                param_slot,
                pending: Mutex::new(Pending::default()),
                stats: Counters::default(),
                profile: std::env::var_os("TESSERA_PROFILE").map(|_| Mutex::new(Vec::new())),
            }),
        })
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

    /// Whether compiled pipelines persist on disk between runs.
    pub fn pipelines_persisted(&self) -> bool {
        self.ctx.pipelines.persisted()
    }

    pub fn stats(&self) -> GpuStats {
        let s = &self.ctx.stats;
        GpuStats {
            dispatches: s.dispatches.load(Ordering::Relaxed),
            submissions: s.submissions.load(Ordering::Relaxed),
            readbacks: s.readbacks.load(Ordering::Relaxed),
            pool: self.ctx.pool.stats(),
        }
    }

    /// Time per kernel since the device was opened, slowest first — recorded only when the
    /// environment variable `TESSERA_PROFILE` is set, because it makes every dispatch wait for
    /// the device (which is exactly what batched submission avoids).
    pub fn profile(&self) -> Vec<KernelTime> {
        let mut times = self.ctx.profile.as_ref().map(|p| p.lock().clone()).unwrap_or_default();
        times.sort_by(|a, b| b.seconds.total_cmp(&a.seconds));
        times
    }

    /// Restarts the pool's peak-memory tracking.
    pub fn reset_peak_memory(&self) {
        self.ctx.pool.reset_peak();
    }

    /// Frees the pool's idle buffers.
    pub fn trim_pool(&self) {
        self.ctx.pool.trim();
    }

    /// Measures the adapter's arithmetic ceiling in GFLOP/s: register-only FMA chains, timed
    /// from submission to completion (the best of `repeats` runs).
    pub fn peak_gflops(&self, repeats: usize) -> Result<f64> {
        use super::kernels::peak;
        let (invocations, iterations) = (1 << 20, 2048);
        // Warm-up: compiles the pipeline and wakes the device.
        drop(peak::fma_burst(self, invocations, 16)?);
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

    /// Submits pending work and waits for the device to finish it (for timing).
    pub fn synchronize(&self) -> Result<()> {
        self.ctx.flush();
        self.ctx.wait()
    }
}

impl Context {
    /// Records one dispatch of `spec` with `params` (at most one parameter slot) and `buffers`
    /// bound in order, over `groups` workgroups.
    pub(crate) fn dispatch(
        &self,
        spec: &KernelSpec,
        params: &[u8],
        buffers: &[Binding<'_>],
        groups: [u32; 3],
    ) -> Result<()> {
        debug_assert_eq!(buffers.len(), spec.buffers.len(), "{}: binding count", spec.entry);
        debug_assert!(params.len() as u64 <= self.param_slot);
        let max_binding = self.limits.max_storage_buffer_binding_size;
        if let Some(b) = buffers.iter().find(|b| b.size > max_binding) {
            return Err(Error::Limit(format!(
                "{}: a {} MiB buffer range exceeds this adapter's max_storage_buffer_binding_size of {} MiB",
                spec.entry,
                b.size >> 20,
                max_binding >> 20
            )));
        }
        let max_groups = self.limits.max_compute_workgroups_per_dimension;
        if groups.iter().any(|&g| g > max_groups) {
            return Err(Error::Limit(format!(
                "{}: dispatch of {groups:?} workgroups exceeds the per-dimension limit {max_groups}",
                spec.entry
            )));
        }
        if groups.contains(&0) {
            return Ok(());
        }
        let pipeline = self.pipelines.get(spec)?;
        let mut pending = self.pending.lock();
        if pending.params.len() as u64 + self.param_slot > PARAM_ARENA_BYTES {
            self.submit(&mut pending);
        }
        let offset = pending.params.len();
        pending.params.extend_from_slice(params);
        pending.params.resize(offset + self.param_slot as usize, 0);

        let mut entries = vec![wgpu::BindGroupEntry {
            binding: 0,
            resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                buffer: &self.params,
                offset: 0,
                size: wgpu::BufferSize::new(self.param_slot),
            }),
        }];
        for (i, b) in buffers.iter().enumerate() {
            entries.push(wgpu::BindGroupEntry {
                binding: i as u32 + 1,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: b.buffer,
                    offset: b.offset,
                    size: wgpu::BufferSize::new(b.size.max(4)),
                }),
            });
        }
        let bind_group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(spec.entry),
            layout: &pipeline.layout,
            entries: &entries,
        });
        let encoder = self.encoder(&mut pending);
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some(spec.entry),
                timestamp_writes: None,
            });
            pass.set_pipeline(&pipeline.pipeline);
            pass.set_bind_group(0, &bind_group, &[offset as u32]);
            pass.dispatch_workgroups(groups[0], groups[1], groups[2]);
        }
        self.stats.dispatches.fetch_add(1, Ordering::Relaxed);
        drop(pending);
        if let Some(profile) = &self.profile {
            let start = std::time::Instant::now();
            self.flush();
            self.wait()?;
            let kernel = format!("{}:{}", spec.file, spec.entry);
            let seconds = start.elapsed().as_secs_f64();
            let mut times = profile.lock();
            match times.iter_mut().find(|t| t.kernel == kernel) {
                Some(t) => {
                    t.dispatches += 1;
                    t.seconds += seconds;
                }
                None => times.push(KernelTime { kernel, dispatches: 1, seconds }),
            }
        }
        Ok(())
    }

    /// Records a buffer-to-buffer copy of `bytes` from the start of `src` to the start of `dst`.
    pub(crate) fn copy(&self, src: &wgpu::Buffer, dst: &wgpu::Buffer, bytes: u64) {
        if bytes == 0 {
            return;
        }
        let mut pending = self.pending.lock();
        self.encoder(&mut pending).copy_buffer_to_buffer(src, 0, dst, 0, bytes);
    }

    fn encoder<'p>(&self, pending: &'p mut Pending) -> &'p mut wgpu::CommandEncoder {
        pending.encoder.get_or_insert_with(|| {
            self.device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("tessera batch") })
        })
    }

    /// Submits whatever has been recorded.
    pub(crate) fn flush(&self) {
        let mut pending = self.pending.lock();
        self.submit(&mut pending);
    }

    fn submit(&self, pending: &mut Pending) {
        let Some(encoder) = pending.encoder.take() else { return };
        // Queue writes land before the command buffers of the next submit: the parameters
        // recorded for this batch are in place when its dispatches run.
        self.queue.write_buffer(&self.params, 0, &pending.params);
        pending.params.clear();
        self.queue.submit([encoder.finish()]);
        self.stats.submissions.fetch_add(1, Ordering::Relaxed);
        // Lets wgpu retire finished work without blocking.
        let _ = self.device.poll(wgpu::PollType::Poll);
    }

    fn wait(&self) -> Result<()> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map(|_| ())
            .map_err(|e| Error::Gpu(format!("waiting for the device: {e}")))
    }

    /// A storage buffer holding `bytes`. Pending work is submitted first, because a recycled
    /// buffer may still be read by it and queue writes run ahead of unsubmitted commands.
    pub(crate) fn upload(&self, bytes: &[u8]) -> Result<PooledBuffer> {
        let buffer = self.alloc(bytes.len() as u64)?;
        if !bytes.is_empty() {
            self.flush();
            self.queue.write_buffer(buffer.buffer(), 0, bytes);
        }
        Ok(buffer)
    }

    /// An uninitialised storage buffer of at least `bytes`.
    pub(crate) fn alloc(&self, bytes: u64) -> Result<PooledBuffer> {
        if bytes > self.limits.max_buffer_size {
            return Err(Error::Limit(format!(
                "a tensor of {} MiB exceeds this adapter's max_buffer_size of {} MiB",
                bytes >> 20,
                self.limits.max_buffer_size >> 20
            )));
        }
        Ok(self.pool.take(BufferKind::Storage, bytes))
    }

    /// Copies `bytes` from the start of `buffer` to the host, submitting pending work and
    /// waiting for it: the one place the host waits on the device.
    pub(crate) fn read(&self, buffer: &wgpu::Buffer, bytes: u64) -> Result<Vec<u8>> {
        if bytes == 0 {
            return Ok(Vec::new());
        }
        let staging = self.pool.take(BufferKind::Readback, bytes);
        {
            let mut pending = self.pending.lock();
            self.encoder(&mut pending).copy_buffer_to_buffer(buffer, 0, staging.buffer(), 0, bytes);
            self.submit(&mut pending);
        }
        let slice = staging.buffer().slice(0..bytes);
        let outcome = Arc::new(Mutex::new(None));
        let sink = Arc::clone(&outcome);
        slice.map_async(wgpu::MapMode::Read, move |r| *sink.lock() = Some(r));
        self.wait()?;
        match outcome.lock().take() {
            Some(Ok(())) => {}
            Some(Err(e)) => return Err(Error::Gpu(format!("reading back {bytes} bytes: {e}"))),
            None => return Err(Error::Gpu("reading back: the device never mapped the buffer".into())),
        }
        let data = slice
            .get_mapped_range()
            .map_err(|e| Error::Gpu(format!("reading back {bytes} bytes: {e}")))?
            .to_vec();
        staging.buffer().unmap();
        self.stats.readbacks.fetch_add(1, Ordering::Relaxed);
        Ok(data)
    }

    /// Workgroup counts covering `threads` invocations in groups of `size`, spread over x and y
    /// when x alone would exceed the per-dimension limit. Shaders rebuild the linear index as
    /// `id.x + id.y * num_workgroups.x * size`.
    pub(crate) fn linear_groups(&self, threads: usize, size: u32) -> [u32; 3] {
        let groups = threads.div_ceil(size as usize) as u64;
        let max = u64::from(self.limits.max_compute_workgroups_per_dimension);
        if groups <= max {
            [groups as u32, 1, 1]
        } else {
            let y = groups.div_ceil(max);
            [groups.div_ceil(y) as u32, y as u32, 1]
        }
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
