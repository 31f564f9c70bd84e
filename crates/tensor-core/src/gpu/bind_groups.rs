//! Bind groups, made once per layout and set of bound ranges and kept. The buffer pool hands the
//! same buffers to the same tensors step after step, so a steady training step finds every bind
//! group it needs here and creates none.

use std::collections::HashMap;

use super::context::Binding;
use super::pipelines::BindLayout;

/// Entries kept at most; past it the cache starts afresh (bound shapes are varying a lot, and
/// old entries would only hold their buffers alive).
const CAPACITY: usize = 4096;

/// A bind group's identity: its layout and every bound range as (buffer id, offset, size).
#[derive(Clone, PartialEq, Eq, Hash)]
struct BindKey {
    layout: u64,
    ranges: Vec<(u64, u64, u64)>,
}

#[derive(Default)]
pub(crate) struct BindGroupCache {
    groups: HashMap<BindKey, wgpu::BindGroup>,
}

/// The parameter arena, bound at binding 0 of arena-path layouts, one slot wide.
pub(crate) struct ArenaBinding<'a> {
    pub buffer: &'a wgpu::Buffer,
    pub slot: u64,
}

impl BindGroupCache {
    /// The bind group of `layout` over `buffers` (and the arena, for arena layouts), and whether
    /// it had to be created.
    pub(crate) fn get(
        &mut self,
        device: &wgpu::Device,
        layout: &BindLayout,
        arena: &ArenaBinding<'_>,
        buffers: &[Binding<'_>],
    ) -> (wgpu::BindGroup, bool) {
        let key = BindKey {
            layout: layout.id,
            ranges: buffers.iter().map(|b| (b.buffer.id(), b.offset, b.bound_size())).collect(),
        };
        if let Some(group) = self.groups.get(&key) {
            return (group.clone(), false);
        }
        let mut entries = Vec::with_capacity(buffers.len() + 1);
        if layout.arena {
            entries.push(wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: arena.buffer,
                    offset: 0,
                    size: wgpu::BufferSize::new(arena.slot),
                }),
            });
        }
        for (i, b) in buffers.iter().enumerate() {
            entries.push(wgpu::BindGroupEntry {
                binding: i as u32 + 1,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: b.buffer.buffer(),
                    offset: b.offset,
                    size: wgpu::BufferSize::new(b.bound_size()),
                }),
            });
        }
        let group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("tessera bindings"),
            layout: &layout.layout,
            entries: &entries,
        });
        if self.groups.len() >= CAPACITY {
            self.groups.clear();
        }
        self.groups.insert(key, group.clone());
        (group, true)
    }

    /// Forgets every bind group (and with them their hold on buffers the pool has let go).
    pub(crate) fn clear(&mut self) {
        self.groups.clear();
    }
}
