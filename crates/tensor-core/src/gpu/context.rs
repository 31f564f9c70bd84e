//! One opened adapter's execution state: device and queue, the buffer pool, the pipelines, and
//! the submission being recorded. Ops record their dispatches into one command encoder and,
//! between copies, one compute pass; bind groups come from a cache, and kernel parameters go in
//! immediates where the adapter has them (else in a uniform arena written once per submission).
//! Work is submitted only on readback, when an arena fills, or before a large upload: no op
//! ever waits on the device.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::adapter::AdapterSummary;
use super::bind_groups::{ArenaBinding, BindGroupCache};
use super::gemm::tune::Tuner;
use super::kernel::{Access, KernelParams, KernelSpec};
use super::pipelines::{Constants, Pipelines};
use super::pool::{BufferKind, BufferPool, PooledBuffer};
use super::profiler::{Profiler, TIMED_PER_SUBMISSION};
use crate::{Error, Result};

/// Bytes of kernel parameters recorded per submission by kernels that cannot take immediates.
/// Each dispatch takes one slot of the device's uniform offset alignment (256 bytes mostly).
const PARAM_ARENA_BYTES: u64 = 64 * 1024;

/// Bytes of small uploads (index lists, little tensors) staged per submission; larger uploads
/// submit the pending work and are written directly.
const UPLOAD_ARENA_BYTES: u64 = 4 << 20;

/// How long a readback waits for its mapping's callback once the device is idle.
const MAP_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) struct Context {
    pub(crate) id: u64,
    pub(crate) summary: AdapterSummary,
    pub(crate) device: wgpu::Device,
    queue: wgpu::Queue,
    pub(crate) limits: wgpu::Limits,
    pub(crate) pool: Arc<BufferPool>,
    pub(crate) pipelines: Pipelines,
    /// Each product's schedule, chosen by measuring on this adapter.
    pub(crate) tuner: Tuner,
    params: wgpu::Buffer,
    param_slot: u64,
    uploads: wgpu::Buffer,
    /// Bound where a kernel declares a buffer this dispatch does not use: one for read-only
    /// bindings, one for read-write ones (a dispatch may not use one buffer both ways).
    placeholders: [PooledBuffer; 2],
    recorder: Mutex<Recorder>,
    counters: Counters,
    pub(crate) profiler: Option<Profiler>,
}

/// The submission being recorded.
#[derive(Default)]
struct Recorder {
    encoder: Option<wgpu::CommandEncoder>,
    /// The open compute pass; ended before anything else goes in the encoder.
    pass: Option<wgpu::ComputePass<'static>>,
    /// This submission's arena parameter blocks, one slot each.
    params: Vec<u8>,
    /// This submission's small uploads, copied out of the upload arena in recording order.
    uploads: Vec<u8>,
    bind_groups: BindGroupCache,
    /// The profile labels of this submission's timed dispatches, in query order.
    timed: Vec<String>,
}

/// What the device has done since it was opened.
#[derive(Default)]
struct Counters {
    dispatches: AtomicU64,
    submissions: AtomicU64,
    bind_groups: AtomicU64,
    readbacks: AtomicU64,
}

/// Traffic between host and device: what tests and benchmarks count to show that a training
/// step dispatches little, creates nothing and never waits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GpuStats {
    pub dispatches: u64,
    pub submissions: u64,
    /// Bind groups created (the rest came from the cache).
    pub bind_groups_created: u64,
    pub readbacks: u64,
    pub pool: super::PoolStats,
}

/// A range of a buffer bound to one kernel slot.
#[derive(Clone, Copy)]
pub(crate) struct Binding<'a> {
    pub buffer: &'a PooledBuffer,
    pub offset: u64,
    pub size: u64,
}

impl Binding<'_> {
    /// The size actually bound: bindings cannot be empty, and every pooled buffer has room.
    pub(crate) fn bound_size(&self) -> u64 {
        self.size.max(4)
    }
}

impl Recorder {
    fn encoder(&mut self, device: &wgpu::Device) -> &mut wgpu::CommandEncoder {
        // A pass holds the encoder until it ends.
        self.pass = None;
        self.encoder.get_or_insert_with(|| {
            device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("tessera batch") })
        })
    }

    /// The open compute pass, begun if there is none.
    fn pass(&mut self, device: &wgpu::Device) -> &mut wgpu::ComputePass<'static> {
        if self.pass.is_none() {
            let pass = self
                .encoder(device)
                .begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("tessera"),
                    timestamp_writes: None,
                })
                .forget_lifetime();
            self.pass = Some(pass);
        }
        self.pass.as_mut().expect("begun above")
    }
}

impl Context {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        id: u64,
        summary: AdapterSummary,
        device: wgpu::Device,
        queue: wgpu::Queue,
        limits: wgpu::Limits,
        pipelines: Pipelines,
        tuner: Tuner,
        profile: bool,
    ) -> Context {
        let param_slot = u64::from(limits.min_uniform_buffer_offset_alignment).max(256);
        let params = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("tessera kernel parameters"),
            size: PARAM_ARENA_BYTES,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let uploads = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("tessera uploads"),
            size: UPLOAD_ARENA_BYTES,
            usage: wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let pool = BufferPool::new(device.clone());
        Context {
            id,
            summary,
            placeholders: [pool.take(BufferKind::Storage, 4), pool.take(BufferKind::Storage, 4)],
            pool,
            pipelines,
            tuner,
            profiler: profile.then(|| Profiler::new(&device, &queue)),
            device,
            queue,
            limits,
            params,
            param_slot,
            uploads,
            recorder: Mutex::new(Recorder::default()),
            counters: Counters::default(),
        }
    }

    pub(crate) fn stats(&self) -> GpuStats {
        let c = &self.counters;
        GpuStats {
            dispatches: c.dispatches.load(Ordering::Relaxed),
            submissions: c.submissions.load(Ordering::Relaxed),
            bind_groups_created: c.bind_groups.load(Ordering::Relaxed),
            readbacks: c.readbacks.load(Ordering::Relaxed),
            pool: self.pool.stats(),
        }
    }

    /// A one-element binding for a buffer a kernel declares with `access` but this dispatch
    /// does not use.
    pub(crate) fn placeholder(&self, access: Access) -> Binding<'_> {
        let buffer = &self.placeholders[usize::from(access == Access::ReadWrite)];
        Binding { buffer, offset: 0, size: 4 }
    }

    /// The storage offset alignment, in elements.
    pub(crate) fn offset_alignment(&self) -> usize {
        (self.limits.min_storage_buffer_offset_alignment as usize / 4).max(1)
    }

    /// Records one dispatch of `spec`, specialised with `constants`, with its parameter block
    /// `params` and `buffers` bound in order, over `groups` workgroups.
    pub(crate) fn dispatch<P: KernelParams>(
        &self,
        spec: &'static KernelSpec<P>,
        constants: Constants<'_>,
        params: &P,
        buffers: &[Binding<'_>],
        groups: [u32; 3],
    ) -> Result<()> {
        let kernel = &spec.kernel;
        if buffers.len() != kernel.buffers.len() {
            return Err(Error::Gpu(format!(
                "{}: {} buffers bound for {} bindings",
                kernel.label(),
                buffers.len(),
                kernel.buffers.len()
            )));
        }
        let max_binding = self.limits.max_storage_buffer_binding_size;
        if let Some(b) = buffers.iter().find(|b| b.size > max_binding) {
            return Err(Error::Limit(format!(
                "{}: a {} MiB buffer range exceeds this adapter's max_storage_buffer_binding_size of {} MiB",
                kernel.entry,
                b.size >> 20,
                max_binding >> 20
            )));
        }
        let max_groups = self.limits.max_compute_workgroups_per_dimension;
        if groups.iter().any(|&g| g > max_groups) {
            return Err(Error::Limit(format!(
                "{}: dispatch of {groups:?} workgroups exceeds the per-dimension limit {max_groups}",
                kernel.entry
            )));
        }
        if groups.contains(&0) {
            return Ok(());
        }
        let pipeline = self.pipelines.get(kernel, constants)?;
        let bytes = bytemuck::bytes_of(params);
        let mut rec = self.recorder.lock();
        let arena_offset = if pipeline.immediates() {
            None
        } else {
            if rec.params.len() as u64 + self.param_slot > PARAM_ARENA_BYTES {
                self.submit(&mut rec)?;
            }
            let offset = rec.params.len();
            rec.params.extend_from_slice(bytes);
            rec.params.resize(offset + self.param_slot as usize, 0);
            Some(offset as u32)
        };
        let arena = ArenaBinding { buffer: &self.params, slot: self.param_slot };
        let (bind_group, created) = rec.bind_groups.get(&self.device, &pipeline.layout, &arena, buffers);
        if created {
            self.counters.bind_groups.fetch_add(1, Ordering::Relaxed);
        }
        let timestamps = self.profiler.as_ref().and_then(Profiler::timestamps);
        if let Some(timestamps) = timestamps {
            // A pass of its own, timed at its start and end.
            if rec.timed.len() as u32 == TIMED_PER_SUBMISSION {
                self.submit(&mut rec)?;
            }
            let index = rec.timed.len() as u32 * 2;
            let pass = rec
                .encoder(&self.device)
                .begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("tessera (timed)"),
                    timestamp_writes: Some(wgpu::ComputePassTimestampWrites {
                        query_set: &timestamps.query_set,
                        beginning_of_pass_write_index: Some(index),
                        end_of_pass_write_index: Some(index + 1),
                    }),
                })
                .forget_lifetime();
            rec.pass = Some(pass);
            rec.timed.push(pipeline.label.clone());
        }
        let pass = rec.pass(&self.device);
        pass.set_pipeline(&pipeline.pipeline);
        pass.set_bind_group(0, &bind_group, arena_offset.as_slice());
        if pipeline.immediates() {
            pass.set_immediates(0, bytes);
        }
        pass.dispatch_workgroups(groups[0], groups[1], groups[2]);
        if timestamps.is_some() {
            rec.pass = None;
        }
        self.counters.dispatches.fetch_add(1, Ordering::Relaxed);
        drop(rec);
        if let (Some(profiler), None) = (&self.profiler, timestamps) {
            // No timestamps: time the dispatch from submission to completion.
            let start = std::time::Instant::now();
            self.flush()?;
            self.wait()?;
            profiler.add(&pipeline.label, start.elapsed().as_secs_f64());
        }
        Ok(())
    }

    /// Records a copy of `bytes` from `src` (buffer, byte offset) to `dst`.
    pub(crate) fn copy(
        &self,
        (src, src_offset): (&PooledBuffer, u64),
        (dst, dst_offset): (&PooledBuffer, u64),
        bytes: u64,
    ) {
        if bytes == 0 {
            return;
        }
        let mut rec = self.recorder.lock();
        rec.encoder(&self.device).copy_buffer_to_buffer(
            src.buffer(),
            src_offset,
            dst.buffer(),
            dst_offset,
            bytes,
        );
    }

    /// Submits whatever has been recorded.
    pub(crate) fn flush(&self) -> Result<()> {
        let mut rec = self.recorder.lock();
        self.submit(&mut rec)
    }

    fn submit(&self, rec: &mut Recorder) -> Result<()> {
        rec.pass = None;
        let Some(mut encoder) = rec.encoder.take() else { return Ok(()) };
        let timed = std::mem::take(&mut rec.timed);
        let timestamps = self.profiler.as_ref().and_then(Profiler::timestamps);
        if let (Some(timestamps), false) = (timestamps, timed.is_empty()) {
            timestamps.resolve(&mut encoder, timed.len() as u32);
        }
        // Queue writes land before the command buffers of the next submit: the parameters and
        // uploads recorded for this batch are in place when its commands run.
        if !rec.params.is_empty() {
            self.queue.write_buffer(&self.params, 0, &rec.params);
            rec.params.clear();
        }
        if !rec.uploads.is_empty() {
            self.queue.write_buffer(&self.uploads, 0, &rec.uploads);
            rec.uploads.clear();
        }
        self.queue.submit([encoder.finish()]);
        self.counters.submissions.fetch_add(1, Ordering::Relaxed);
        if let (Some(profiler), Some(timestamps), false) = (&self.profiler, timestamps, timed.is_empty()) {
            let durations = timestamps.durations(timed.len() as u32, || self.wait())?;
            for (label, seconds) in timed.iter().zip(durations) {
                profiler.add(label, seconds);
            }
        } else {
            // Lets wgpu retire finished work without blocking.
            let _ = self.device.poll(wgpu::PollType::Poll);
        }
        Ok(())
    }

    pub(crate) fn wait(&self) -> Result<()> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map(|_| ())
            .map_err(|e| Error::Gpu(format!("waiting for the device: {e}")))
    }

    /// A storage buffer holding `bytes`. Small uploads are staged in this submission's upload
    /// arena and copied in recording order; a large one submits the pending work first, because
    /// a recycled buffer may still be read by it and queue writes run ahead of unsubmitted
    /// commands.
    pub(crate) fn upload(&self, bytes: &[u8]) -> Result<PooledBuffer> {
        let buffer = self.alloc(bytes.len() as u64)?;
        let len = bytes.len() as u64;
        if len == 0 {
            return Ok(buffer);
        }
        // Copies move whole 4-byte words: an odd number of f16 is padded with a zero half word.
        let padded = len.next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT);
        let mut rec = self.recorder.lock();
        if padded <= UPLOAD_ARENA_BYTES {
            if rec.uploads.len() as u64 + padded > UPLOAD_ARENA_BYTES {
                self.submit(&mut rec)?;
            }
            let offset = rec.uploads.len() as u64;
            rec.uploads.extend_from_slice(bytes);
            rec.uploads.resize((offset + padded) as usize, 0);
            rec.encoder(&self.device).copy_buffer_to_buffer(
                &self.uploads,
                offset,
                buffer.buffer(),
                0,
                padded,
            );
        } else {
            self.submit(&mut rec)?;
            if padded == len {
                self.queue.write_buffer(buffer.buffer(), 0, bytes);
            } else {
                let mut words = bytes.to_vec();
                words.resize(padded as usize, 0);
                self.queue.write_buffer(buffer.buffer(), 0, &words);
            }
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

    /// Copies `bytes` from `buffer` at byte `offset` to the host, submitting pending work and
    /// waiting for it: the one place the host waits on the device.
    pub(crate) fn read(&self, buffer: &PooledBuffer, offset: u64, bytes: u64) -> Result<Vec<u8>> {
        if bytes == 0 {
            return Ok(Vec::new());
        }
        let padded = bytes.next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT);
        let staging = self.pool.take(BufferKind::Readback, padded);
        {
            let mut rec = self.recorder.lock();
            rec.encoder(&self.device).copy_buffer_to_buffer(
                buffer.buffer(),
                offset,
                staging.buffer(),
                0,
                padded,
            );
            self.submit(&mut rec)?;
        }
        let slice = staging.buffer().slice(0..padded);
        let outcome = Arc::new(Mutex::new(None));
        let sink = Arc::clone(&outcome);
        slice.map_async(wgpu::MapMode::Read, move |r| *sink.lock() = Some(r));
        self.wait()?;
        // The mapping's callback runs on whichever thread's poll saw it complete: when another
        // thread polled at the same time, it may run just after this thread's wait returned.
        let deadline = Instant::now() + MAP_TIMEOUT;
        let mapped = loop {
            if let Some(mapped) = outcome.lock().take() {
                break mapped;
            }
            if Instant::now() > deadline {
                return Err(Error::Gpu(format!(
                    "reading back {bytes} bytes: the device did not map the buffer within {MAP_TIMEOUT:?}"
                )));
            }
            std::thread::sleep(Duration::from_micros(50));
            self.wait()?;
        };
        mapped.map_err(|e| Error::Gpu(format!("reading back {bytes} bytes: {e}")))?;
        let mut data = slice
            .get_mapped_range()
            .map_err(|e| Error::Gpu(format!("reading back {bytes} bytes: {e}")))?
            .to_vec();
        data.truncate(bytes as usize);
        staging.buffer().unmap();
        self.counters.readbacks.fetch_add(1, Ordering::Relaxed);
        Ok(data)
    }

    /// Frees the pool's idle buffers, and the cached bind groups that still hold them.
    pub(crate) fn trim(&self) {
        self.recorder.lock().bind_groups.clear();
        self.pool.trim();
    }

    /// The most workgroups one dispatch may have along each dimension.
    pub(crate) fn max_groups(&self) -> u32 {
        self.limits.max_compute_workgroups_per_dimension
    }

    /// Workgroup counts covering `threads` invocations in groups of `size`, spread over x and y
    /// when x alone would exceed the per-dimension limit. Shaders rebuild the linear index with
    /// `linear_index` (lib/index.wgsl).
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
