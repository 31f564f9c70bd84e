//! Compute pipelines, compiled once per (shader file, entry point) and kept for the life of the
//! device. Where the adapter supports it, the driver's pipeline cache is persisted on disk so that
//! a second run skips shader compilation.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::{Error, Result};

/// How a kernel uses one of its storage buffers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    Read,
    ReadWrite,
}

/// A compute kernel: an entry point of a WGSL file in `shaders/`. Binding 0 is always the
/// kernel's parameter block (a uniform with a dynamic offset); bindings 1.. are storage buffers
/// with the given access, in order.
pub(crate) struct KernelSpec {
    pub file: &'static str,
    pub source: &'static str,
    pub entry: &'static str,
    pub buffers: &'static [Access],
}

/// Declares a `KernelSpec` for an entry point of a file in `shaders/`.
macro_rules! kernel {
    ($file:literal, $entry:literal, [$($access:ident),* $(,)?]) => {
        $crate::gpu::pipelines::KernelSpec {
            file: $file,
            source: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shaders/", $file)),
            entry: $entry,
            buffers: &[$($crate::gpu::pipelines::Access::$access),*],
        }
    };
}
pub(crate) use kernel;

/// A compiled kernel and the layout its bind groups must follow.
pub(crate) struct Pipeline {
    pub pipeline: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
}

pub(crate) struct Pipelines {
    device: wgpu::Device,
    compiled: Mutex<HashMap<(&'static str, &'static str), Arc<Pipeline>>>,
    modules: Mutex<HashMap<&'static str, wgpu::ShaderModule>>,
    disk: Option<DiskCache>,
}

/// The driver's pipeline cache and the file it is persisted in.
struct DiskCache {
    cache: wgpu::PipelineCache,
    path: PathBuf,
}

impl Pipelines {
    pub(crate) fn new(device: wgpu::Device, adapter: &wgpu::AdapterInfo) -> Pipelines {
        let disk = device
            .features()
            .contains(wgpu::Features::PIPELINE_CACHE)
            .then(|| DiskCache::open(&device, adapter))
            .flatten();
        Pipelines { device, compiled: Mutex::new(HashMap::new()), modules: Mutex::new(HashMap::new()), disk }
    }

    /// Whether compiled pipelines are persisted between runs.
    pub(crate) fn persisted(&self) -> bool {
        self.disk.is_some()
    }

    /// The pipeline for `spec`, compiling it on first use.
    pub(crate) fn get(&self, spec: &KernelSpec) -> Result<Arc<Pipeline>> {
        let key = (spec.file, spec.entry);
        if let Some(p) = self.compiled.lock().get(&key) {
            return Ok(Arc::clone(p));
        }
        let pipeline = Arc::new(self.compile(spec)?);
        self.compiled.lock().insert(key, Arc::clone(&pipeline));
        if let Some(disk) = &self.disk {
            disk.save();
        }
        Ok(pipeline)
    }

    fn compile(&self, spec: &KernelSpec) -> Result<Pipeline> {
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = {
            let mut modules = self.modules.lock();
            modules
                .entry(spec.file)
                .or_insert_with(|| {
                    self.device.create_shader_module(wgpu::ShaderModuleDescriptor {
                        label: Some(spec.file),
                        source: wgpu::ShaderSource::Wgsl(spec.source.into()),
                    })
                })
                .clone()
        };
        let mut entries = vec![wgpu::BindGroupLayoutEntry {
            binding: 0,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Uniform,
                has_dynamic_offset: true,
                min_binding_size: None,
            },
            count: None,
        }];
        for (i, access) in spec.buffers.iter().enumerate() {
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
            label: Some(spec.entry),
            entries: &entries,
        });
        let pipeline_layout = self.device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(spec.entry),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = self.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(spec.entry),
            layout: Some(&pipeline_layout),
            module: &module,
            entry_point: Some(spec.entry),
            compilation_options: wgpu::PipelineCompilationOptions::default(),
            cache: self.disk.as_ref().map(|d| &d.cache),
        });
        if let Some(error) = pollster::block_on(scope.pop()) {
            self.modules.lock().remove(spec.file);
            return Err(Error::Shader { file: spec.file, entry: spec.entry, message: error.to_string() });
        }
        Ok(Pipeline { pipeline, layout })
    }
}

impl DiskCache {
    fn open(device: &wgpu::Device, adapter: &wgpu::AdapterInfo) -> Option<DiskCache> {
        let key = wgpu::util::pipeline_cache_key(adapter)?;
        let dir = cache_dir()?;
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
        if std::fs::create_dir_all(dir).is_err() {
            return;
        }
        let tmp = self.path.with_extension(format!("tmp{}", std::process::id()));
        if std::fs::write(&tmp, data).is_ok() && std::fs::rename(&tmp, &self.path).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

/// `$TESSERA_CACHE_DIR`, else `$XDG_CACHE_HOME/tessera`, else `~/.cache/tessera`.
fn cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("TESSERA_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(dir).join("tessera"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache").join("tessera"))
}
