//! A pool of device buffers keyed by size class. Tensors return their buffer on drop and the next
//! allocation of that class reuses one, so a steady training step creates no buffers at all.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

/// The smallest buffer handed out, in bytes (also a multiple of every offset alignment).
const MIN_CLASS: u64 = 256;

/// Identifies every buffer the pool creates, for the bind-group cache's keys.
static NEXT_BUFFER_ID: AtomicU64 = AtomicU64::new(1);

/// What a pooled buffer is for; each kind has its own free lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum BufferKind {
    /// Tensor data: read and written by kernels, copied to and from.
    Storage,
    /// Host-visible staging for readback.
    Readback,
}

impl BufferKind {
    fn usages(self) -> wgpu::BufferUsages {
        match self {
            BufferKind::Storage => {
                wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST
            }
            BufferKind::Readback => wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        }
    }
}

/// Rounds `bytes` up to its size class: four classes per power of two, so at most 25% is wasted.
fn size_class(bytes: u64) -> u64 {
    let bytes = bytes.max(MIN_CLASS);
    let octave = 1u64 << (63 - bytes.leading_zeros());
    let quarter = (octave / 4).max(1);
    bytes.div_ceil(quarter) * quarter
}

/// Counters describing the pool's traffic, for tests and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Buffers created on the device since start.
    pub allocations: u64,
    /// Requests served from a free list.
    pub reuses: u64,
    /// Bytes in buffers currently handed out.
    pub live_bytes: u64,
    /// The most bytes ever handed out at once.
    pub peak_bytes: u64,
    /// Bytes held by the pool, in use or free.
    pub reserved_bytes: u64,
}

#[derive(Default)]
struct Counters {
    allocations: AtomicU64,
    reuses: AtomicU64,
    live_bytes: AtomicU64,
    peak_bytes: AtomicU64,
    reserved_bytes: AtomicU64,
}

/// The idle buffers of each kind and size class, with their ids.
type FreeLists = HashMap<(BufferKind, u64), Vec<(u64, wgpu::Buffer)>>;

pub(crate) struct BufferPool {
    device: wgpu::Device,
    free: Mutex<FreeLists>,
    counters: Counters,
}

impl BufferPool {
    pub(crate) fn new(device: wgpu::Device) -> Arc<BufferPool> {
        Arc::new(BufferPool { device, free: Mutex::new(HashMap::new()), counters: Counters::default() })
    }

    /// A buffer of at least `bytes`, reused when one of its class is free. The caller has
    /// checked `bytes` against the device's maximum buffer size.
    pub(crate) fn take(self: &Arc<Self>, kind: BufferKind, bytes: u64) -> PooledBuffer {
        let class = size_class(bytes);
        // The free buffer with the lowest id, not the last one freed: which buffers are free at
        // each allocation repeats from one training step to the next, so this choice does too,
        // and the step's bind groups (keyed by buffer) are found in the cache.
        let reused = self.free.lock().get_mut(&(kind, class)).and_then(|free| {
            let lowest = free.iter().enumerate().min_by_key(|(_, (id, _))| *id).map(|(i, _)| i)?;
            Some(free.swap_remove(lowest))
        });
        let (id, buffer) = match reused {
            Some(entry) => {
                self.counters.reuses.fetch_add(1, Ordering::Relaxed);
                entry
            }
            None => {
                self.counters.allocations.fetch_add(1, Ordering::Relaxed);
                self.counters.reserved_bytes.fetch_add(class, Ordering::Relaxed);
                let buffer = self.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("tessera pooled buffer"),
                    size: class,
                    usage: kind.usages(),
                    mapped_at_creation: false,
                });
                (NEXT_BUFFER_ID.fetch_add(1, Ordering::Relaxed), buffer)
            }
        };
        let live = self.counters.live_bytes.fetch_add(class, Ordering::Relaxed) + class;
        self.counters.peak_bytes.fetch_max(live, Ordering::Relaxed);
        PooledBuffer { buffer: Some(buffer), id, kind, class, pool: Arc::clone(self) }
    }

    pub(crate) fn stats(&self) -> PoolStats {
        let c = &self.counters;
        PoolStats {
            allocations: c.allocations.load(Ordering::Relaxed),
            reuses: c.reuses.load(Ordering::Relaxed),
            live_bytes: c.live_bytes.load(Ordering::Relaxed),
            peak_bytes: c.peak_bytes.load(Ordering::Relaxed),
            reserved_bytes: c.reserved_bytes.load(Ordering::Relaxed),
        }
    }

    /// Restarts peak tracking from the current live size (benchmarks measure one phase).
    pub(crate) fn reset_peak(&self) {
        let live = self.counters.live_bytes.load(Ordering::Relaxed);
        self.counters.peak_bytes.store(live, Ordering::Relaxed);
    }

    /// Destroys every free buffer (live ones are untouched). Whatever else holds one of them
    /// (a cached bind group) must let go too for its memory to return: see `Context::trim`.
    pub(crate) fn trim(&self) {
        let mut free = self.free.lock();
        for ((_, class), buffers) in free.drain() {
            self.counters.reserved_bytes.fetch_sub(class * buffers.len() as u64, Ordering::Relaxed);
        }
    }
}

/// A buffer on loan from the pool; it goes back on drop.
pub(crate) struct PooledBuffer {
    buffer: Option<wgpu::Buffer>,
    /// Unique for the life of the process, kept across reuses.
    id: u64,
    kind: BufferKind,
    class: u64,
    pool: Arc<BufferPool>,
}

impl PooledBuffer {
    pub(crate) fn buffer(&self) -> &wgpu::Buffer {
        self.buffer.as_ref().expect("a pooled buffer is present until drop")
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }
}

impl Drop for PooledBuffer {
    fn drop(&mut self) {
        if let Some(buffer) = self.buffer.take() {
            self.pool.counters.live_bytes.fetch_sub(self.class, Ordering::Relaxed);
            self.pool.free.lock().entry((self.kind, self.class)).or_default().push((self.id, buffer));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::size_class;

    #[test]
    fn size_classes_waste_at_most_a_quarter() {
        assert_eq!(size_class(1), 256);
        assert_eq!(size_class(256), 256);
        assert_eq!(size_class(257), 320);
        assert_eq!(size_class(1000), 1024);
        assert_eq!(size_class(1025), 1280);
        for bytes in [300u64, 4097, 1 << 20, (1 << 27) + 1, 123_456_789] {
            let class = size_class(bytes);
            assert!(class >= bytes && (class - bytes) * 4 <= bytes, "{bytes} -> {class}");
            assert_eq!(size_class(class), class, "classes are fixed points");
        }
    }
}
