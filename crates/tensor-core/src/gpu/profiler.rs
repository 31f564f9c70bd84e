//! Time per kernel, kept when profiling is asked for. Where the adapter has timestamp queries,
//! each dispatch gets its own compute pass with timestamps written at its start and end, and
//! the times are read back once per submission: the device is never waited on per dispatch.
//! Elsewhere the host times each dispatch from submission to completion, which makes every
//! dispatch wait for the device.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::{Error, Result};

/// Dispatches timed per submission at most (two queries each; wgpu allows 4096 per set).
pub(crate) const TIMED_PER_SUBMISSION: u32 = 2048;

/// Time spent in one kernel, summed over its dispatches.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelTime {
    /// `file:entry`, with its specialisation constants.
    pub kernel: String,
    pub dispatches: u64,
    pub seconds: f64,
}

pub(crate) struct Profiler {
    timestamps: Option<Timestamps>,
    totals: Mutex<HashMap<String, (u64, f64)>>,
}

/// The query set a submission's dispatches write their timestamps into, and where they are
/// resolved and read back.
pub(crate) struct Timestamps {
    pub query_set: wgpu::QuerySet,
    resolve: wgpu::Buffer,
    readback: wgpu::Buffer,
    /// Nanoseconds per timestamp tick.
    period: f64,
}

impl Profiler {
    pub(crate) fn new(device: &wgpu::Device, queue: &wgpu::Queue) -> Profiler {
        let timestamps = device.features().contains(wgpu::Features::TIMESTAMP_QUERY).then(|| {
            let bytes = u64::from(TIMED_PER_SUBMISSION) * 2 * 8;
            Timestamps {
                query_set: device.create_query_set(&wgpu::QuerySetDescriptor {
                    label: Some("tessera kernel timestamps"),
                    ty: wgpu::QueryType::Timestamp,
                    count: TIMED_PER_SUBMISSION * 2,
                }),
                resolve: device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("tessera timestamps (resolved)"),
                    size: bytes,
                    usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                    mapped_at_creation: false,
                }),
                readback: device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("tessera timestamps (readback)"),
                    size: bytes,
                    usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                }),
                period: f64::from(queue.get_timestamp_period()),
            }
        });
        Profiler { timestamps, totals: Mutex::new(HashMap::new()) }
    }

    /// The query set to time dispatches with, or `None` where the host must time them.
    pub(crate) fn timestamps(&self) -> Option<&Timestamps> {
        self.timestamps.as_ref()
    }

    /// Adds `seconds` for one dispatch of `kernel`.
    pub(crate) fn add(&self, kernel: &str, seconds: f64) {
        let mut totals = self.totals.lock();
        let entry = totals.entry(kernel.to_owned()).or_insert((0, 0.0));
        entry.0 += 1;
        entry.1 += seconds;
    }

    /// Every kernel's total so far, slowest first.
    pub(crate) fn times(&self) -> Vec<KernelTime> {
        let mut times: Vec<KernelTime> = self
            .totals
            .lock()
            .iter()
            .map(|(kernel, &(dispatches, seconds))| KernelTime {
                kernel: kernel.clone(),
                dispatches,
                seconds,
            })
            .collect();
        times.sort_by(|a, b| b.seconds.total_cmp(&a.seconds));
        times
    }

    /// Forgets every total.
    pub(crate) fn reset(&self) {
        self.totals.lock().clear();
    }
}

impl Timestamps {
    /// Records the resolution of the first `count` dispatches' timestamps into the readback
    /// buffer, at the end of a submission.
    pub(crate) fn resolve(&self, encoder: &mut wgpu::CommandEncoder, count: u32) {
        encoder.resolve_query_set(&self.query_set, 0..count * 2, &self.resolve, 0);
        encoder.copy_buffer_to_buffer(&self.resolve, 0, &self.readback, 0, u64::from(count) * 16);
    }

    /// After the submission has finished (`wait` blocks until it has): each dispatch's
    /// duration in seconds, in recording order.
    pub(crate) fn durations(&self, count: u32, wait: impl FnOnce() -> Result<()>) -> Result<Vec<f64>> {
        let bytes = u64::from(count) * 16;
        let slice = self.readback.slice(0..bytes);
        let outcome = Arc::new(Mutex::new(None));
        let sink = Arc::clone(&outcome);
        slice.map_async(wgpu::MapMode::Read, move |r| *sink.lock() = Some(r));
        wait()?;
        match outcome.lock().take() {
            Some(Ok(())) => {}
            Some(Err(e)) => return Err(Error::Gpu(format!("reading kernel timestamps: {e}"))),
            None => return Err(Error::Gpu("reading kernel timestamps: never mapped".into())),
        }
        let ticks: Vec<u64> = bytemuck::pod_collect_to_vec(
            &slice.get_mapped_range().map_err(|e| Error::Gpu(format!("reading kernel timestamps: {e}")))?,
        );
        self.readback.unmap();
        Ok(ticks.chunks(2).map(|t| t[1].saturating_sub(t[0]) as f64 * self.period * 1e-9).collect())
    }
}
