//! Compute pipelines, compiled once per kernel and set of specialisation constants and kept for
//! the life of the device. Pipelines whose kernels bind the same buffers share one bind-group
//! layout, so their bind groups are interchangeable. Where the adapter supports it, the
//! driver's pipeline cache is persisted on disk so that a second run skips shader compilation.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use super::kernel::{Access, Kernel};
use crate::{Error, Result};

/// A kernel's specialisation: values for its `override` constants, by name.
pub(crate) type Constants<'a> = &'a [(&'static str, f64)];

/// A bind-group layout, with what a bind group for it must hold.
pub(crate) struct BindLayout {
    /// Unique per device; the bind-group cache keys on it.
    pub id: u64,
    pub layout: wgpu::BindGroupLayout,
    /// Whether binding 0 is the parameter arena (else parameters are immediates).
    pub arena: bool,
}

/// A compiled kernel.
pub(crate) struct Pipeline {
    pub pipeline: wgpu::ComputePipeline,
    pub layout: Arc<BindLayout>,
    /// `file:entry` and the constants, for profiles.
    pub label: String,
}

impl Pipeline {
    /// Whether the parameter block goes in immediates.
    pub(crate) fn immediates(&self) -> bool {
        !self.layout.arena
    }
}

/// Identifies a pipeline: the kernel (a `static`, so its address is unique) and its constants
/// (as bits, so they hash).
#[derive(Clone, PartialEq, Eq, Hash)]
struct PipelineKey {
    kernel: usize,
    constants: Vec<(&'static str, u64)>,
}

/// A bind-group layout's identity: the storage buffers' access, and whether the arena is bound.
type LayoutKey = (Vec<Access>, bool);

pub(crate) struct Pipelines {
    device: wgpu::Device,
    /// The largest immediate-data block, in bytes (0 without the feature).
    max_immediates: u32,
    compiled: Mutex<HashMap<PipelineKey, Arc<Pipeline>>>,
    layouts: Mutex<HashMap<LayoutKey, Arc<BindLayout>>>,
    modules: Mutex<HashMap<String, wgpu::ShaderModule>>,
    disk: Option<DiskCache>,
}

impl Pipelines {
    /// `cache_dir`: where the driver's pipeline cache is persisted (`None`: not at all).
    pub(crate) fn new(
        device: wgpu::Device,
        adapter: &wgpu::AdapterInfo,
        cache_dir: Option<&Path>,
    ) -> Pipelines {
        let disk = device
            .features()
            .contains(wgpu::Features::PIPELINE_CACHE)
            .then(|| cache_dir.and_then(|dir| DiskCache::open(&device, adapter, dir)))
            .flatten();
        let max_immediates = if device.features().contains(wgpu::Features::IMMEDIATES) {
            device.limits().max_immediate_size
        } else {
            0
        };
        Pipelines {
            device,
            max_immediates,
            compiled: Mutex::new(HashMap::new()),
            layouts: Mutex::new(HashMap::new()),
            modules: Mutex::new(HashMap::new()),
            disk,
        }
    }

    /// Whether compiled pipelines are persisted between runs.
    pub(crate) fn persisted(&self) -> bool {
        self.disk.is_some()
    }

    /// Whether a parameter block of `size` bytes goes in immediates on this device.
    pub(crate) fn uses_immediates(&self, size: usize) -> bool {
        size as u64 <= u64::from(self.max_immediates) && size.is_multiple_of(4)
    }

    /// The pipeline for `kernel` specialised with `constants`, compiling it on first use.
    pub(crate) fn get(&self, kernel: &'static Kernel, constants: Constants<'_>) -> Result<Arc<Pipeline>> {
        let key = PipelineKey {
            kernel: kernel as *const Kernel as usize,
            constants: constants.iter().map(|&(name, value)| (name, value.to_bits())).collect(),
        };
        if let Some(p) = self.compiled.lock().get(&key) {
            return Ok(Arc::clone(p));
        }
        let pipeline = Arc::new(self.compile(kernel, constants)?);
        self.compiled.lock().insert(key, Arc::clone(&pipeline));
        if let Some(disk) = &self.disk {
            disk.save();
        }
        Ok(pipeline)
    }

    /// The shared bind-group layout of kernels binding `buffers`, with or without the arena.
    fn layout(&self, buffers: &[Access], arena: bool) -> Arc<BindLayout> {
        let mut layouts = self.layouts.lock();
        let next_id = layouts.len() as u64 + 1;
        let entry = layouts.entry((buffers.to_vec(), arena)).or_insert_with(|| {
            let mut entries = Vec::new();
            if arena {
                entries.push(wgpu::BindGroupLayoutEntry {
                    binding: 0,
                    visibility: wgpu::ShaderStages::COMPUTE,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: true,
                        min_binding_size: None,
                    },
                    count: None,
                });
            }
            for (i, access) in buffers.iter().enumerate() {
                entries.push(wgpu::BindGroupLayoutEntry {
                    binding: i as u32 + 1,
                    visibility: wgpu::ShaderStages::COMPUTE,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Storage { read_only: *access == Access::Read },
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                    count: None,
                });
            }
            let layout = self.device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some("tessera kernel bindings"),
                entries: &entries,
            });
            Arc::new(BindLayout { id: next_id, layout, arena })
        });
        Arc::clone(entry)
    }

    fn compile(&self, kernel: &'static Kernel, constants: Constants<'_>) -> Result<Pipeline> {
        let immediates = self.uses_immediates(kernel.params.size);
        let layout = self.layout(kernel.buffers, !immediates);
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let source = kernel.joined_source(immediates);
        let module = self
            .modules
            .lock()
            .entry(source.clone())
            .or_insert_with(|| {
                self.device.create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(kernel.file),
                    source: wgpu::ShaderSource::Wgsl(source.clone().into()),
                })
            })
            .clone();
        let pipeline_layout = self.device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(kernel.entry),
            bind_group_layouts: &[Some(&layout.layout)],
            immediate_size: if immediates { kernel.params.size as u32 } else { 0 },
        });
        let pipeline = self.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(kernel.entry),
            layout: Some(&pipeline_layout),
            module: &module,
            entry_point: Some(kernel.entry),
            compilation_options: wgpu::PipelineCompilationOptions { constants, ..Default::default() },
            cache: self.disk.as_ref().map(|d| &d.cache),
        });
        if let Some(error) = pollster::block_on(scope.pop()) {
            self.modules.lock().remove(&source);
            return Err(Error::Shader { file: kernel.file, entry: kernel.entry, message: error.to_string() });
        }
        let label = if constants.is_empty() {
            kernel.label()
        } else {
            let values: Vec<String> =
                constants.iter().map(|(name, value)| format!("{name}={value}")).collect();
            format!("{}[{}]", kernel.label(), values.join(","))
        };
        Ok(Pipeline { pipeline, layout, label })
    }
}

/// The driver's pipeline cache and the file it is persisted in.
struct DiskCache {
    cache: wgpu::PipelineCache,
    path: PathBuf,
}

impl DiskCache {
    fn open(device: &wgpu::Device, adapter: &wgpu::AdapterInfo, dir: &Path) -> Option<DiskCache> {
        let key = wgpu::util::pipeline_cache_key(adapter)?;
        let path = dir.join(key);
        let data = std::fs::read(&path).ok();
        // Safety: the data was written by `PipelineCache::get_data` for an adapter with the same
        // cache key (the file name), which is what `create_pipeline_cache` requires; with
        // `fallback` a stale or corrupt file yields an empty cache instead of an error.
        let cache = unsafe {
            device.create_pipeline_cache(&wgpu::PipelineCacheDescriptor {
                label: Some("tessera pipeline cache"),
                data: data.as_deref(),
                fallback: true,
            })
        };
        Some(DiskCache { cache, path })
    }

    /// Writes the cache atomically (temporary file, then rename); failure only costs speed.
    fn save(&self) {
        let Some(data) = self.cache.get_data() else { return };
        let Some(dir) = self.path.parent() else { return };
        if let Err(e) = std::fs::create_dir_all(dir) {
            log::debug!("pipeline cache not saved in {}: {e}", dir.display());
            return;
        }
        let tmp = self.path.with_extension(format!("tmp{}", std::process::id()));
        let written = std::fs::write(&tmp, data).and_then(|()| std::fs::rename(&tmp, &self.path));
        if let Err(e) = written {
            log::debug!("pipeline cache not saved to {}: {e}", self.path.display());
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

/// Where pipeline caches go unless told otherwise: `$TESSERA_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/tessera`, else `~/.cache/tessera`.
pub(crate) fn default_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("TESSERA_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(dir).join("tessera"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache").join("tessera"))
}
