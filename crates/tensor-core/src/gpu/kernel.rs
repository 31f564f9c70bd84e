//! Kernels as one system. A kernel is an entry point of a WGSL file in `shaders/`; when its
//! pipeline is built the file is joined with the shared pieces it names (`shaders/lib/`, and
//! the op codes generated from tensor-core's enums, so Rust and WGSL read one definition) and
//! with the declaration of its parameter block `p`: an immediate-data block where the adapter
//! has immediates and the block fits, else a uniform bound at binding 0 with a dynamic offset
//! into the parameter arena. Storage buffers are bindings 1.. in both cases.
//!
//! Each kernel's Rust parameter struct is declared with [`kernel_params!`], which records its
//! size and field offsets; a unit test parses every joined source with naga and checks them,
//! and the bindings, against the WGSL.

use std::marker::PhantomData;

use crate::backend::{ActivationCode, BinaryOp, ReduceOp, UnaryCode};

/// How a kernel uses one of its storage buffers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Access {
    Read,
    ReadWrite,
}

/// The size and field offsets of a parameter struct, as Rust lays it out (`#[repr(C)]`).
#[derive(Debug)]
pub(crate) struct ParamsLayout {
    /// The struct's name, the same in Rust and in WGSL.
    pub name: &'static str,
    pub size: usize,
    /// Each field's name and offset; the layout test compares them with the WGSL struct's.
    #[cfg_attr(not(test), allow(dead_code))]
    pub fields: &'static [(&'static str, usize)],
}

/// A kernel's parameter block: plain data whose layout the WGSL struct of the same name shares.
pub(crate) trait KernelParams: bytemuck::Pod {
    const LAYOUT: ParamsLayout;
}

/// Declares a kernel parameter struct (`#[repr(C)]`, plain data) and records its layout.
macro_rules! kernel_params {
    ($(#[$meta:meta])* struct $name:ident { $($(#[$fmeta:meta])* $field:ident: $ty:ty),* $(,)? }) => {
        $(#[$meta])*
        #[repr(C)]
        #[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
        pub(crate) struct $name {
            $($(#[$fmeta])* pub(crate) $field: $ty),*
        }

        impl $crate::gpu::kernel::KernelParams for $name {
            const LAYOUT: $crate::gpu::kernel::ParamsLayout = $crate::gpu::kernel::ParamsLayout {
                name: stringify!($name),
                size: std::mem::size_of::<$name>(),
                fields: &[$((stringify!($field), std::mem::offset_of!($name, $field))),*],
            };
        }
    };
}
pub(crate) use kernel_params;

/// WGSL that several kernels share.
#[derive(Clone, Copy)]
pub(crate) enum Library {
    /// A file of `shaders/lib/`: (name, source).
    File(&'static str, &'static str),
    /// Source generated from Rust: (what it is, generator).
    Generated(&'static str, fn() -> String),
}

impl Library {
    fn source(&self) -> String {
        match self {
            Library::File(_, source) => (*source).to_owned(),
            Library::Generated(_, generate) => generate(),
        }
    }

    /// What the piece is, for the joined source's comments.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Library::File(name, _) | Library::Generated(name, _) => name,
        }
    }
}

/// Declares a [`Library::File`] of `shaders/lib/`.
macro_rules! library_file {
    ($file:literal) => {
        Library::File($file, include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shaders/lib/", $file)))
    };
}

/// The linear invocation index of a 1-D dispatch spread over x and y.
pub(crate) const INDEX: Library = library_file!("index.wgsl");
/// NaN tests and a NaN-propagating max, joined into every kernel.
const FLOAT: Library = library_file!("float.wgsl");
/// The window geometry block of convolution and pooling kernels, and its arithmetic.
pub(crate) const WINDOW: Library = library_file!("window.wgsl");
/// The fused activations and their derivatives.
pub(crate) const ACTIVATION: Library = library_file!("activation.wgsl");
/// The counter-based random generator of `crate::rng`.
pub(crate) const RANDOM: Library = library_file!("random.wgsl");
/// Workgroup-wide sums and maxima.
pub(crate) const WORKGROUP_REDUCE: Library = library_file!("workgroup_reduce.wgsl");
/// The moment updates Adam and Nadam share.
pub(crate) const ADAM_MOMENTS: Library = library_file!("adam_moments.wgsl");
/// The geometry of vector kernels.
pub(crate) const VECTORS: Library =
    Library::Generated("vector kernel geometry", super::kernels::vector_geometry_wgsl);
pub(crate) const UNARY_CODES: Library = Library::Generated("unary op codes", UnaryCode::wgsl);
pub(crate) const BINARY_CODES: Library = Library::Generated("binary op codes", BinaryOp::wgsl);
pub(crate) const REDUCE_CODES: Library = Library::Generated("reduce op codes", ReduceOp::wgsl);
pub(crate) const ACTIVATION_CODES: Library = Library::Generated("activation codes", ActivationCode::wgsl);

/// Everything about a kernel but the Rust type of its parameters.
pub(crate) struct Kernel {
    /// The file in `shaders/`.
    pub file: &'static str,
    pub source: &'static str,
    pub entry: &'static str,
    /// Storage buffers at bindings 1.., in order.
    pub buffers: &'static [Access],
    /// Shared WGSL joined ahead of the file, in order.
    pub library: &'static [Library],
    pub params: ParamsLayout,
    /// Whether the kernel declares f16 storage (`enable f16;`), which only adapters with
    /// `SHADER_F16` compile.
    pub f16: bool,
}

impl Kernel {
    /// The WGSL the pipeline is built from: the parameter block's declaration, the shared
    /// pieces, then the kernel's file.
    pub(crate) fn joined_source(&self, immediates: bool) -> String {
        let declaration = if immediates {
            format!("var<immediate> p: {};\n", self.params.name)
        } else {
            format!("@group(0) @binding(0) var<uniform> p: {};\n", self.params.name)
        };
        // An `enable` directive must come before every declaration.
        let enable = if self.f16 { "enable f16;\n" } else { "" };
        let mut source =
            format!("// {} ({}), joined by tessera\n{enable}{declaration}", self.file, self.entry);
        for piece in std::iter::once(&FLOAT).chain(self.library) {
            source.push_str(&format!("\n// ---- {} ----\n", piece.name()));
            source.push_str(&piece.source());
        }
        source.push_str(&format!("\n// ---- {} ----\n", self.file));
        source.push_str(self.source);
        source
    }

    /// `file:entry`, for errors and profiles.
    pub(crate) fn label(&self) -> String {
        format!("{}:{}", self.file, self.entry)
    }
}

/// A kernel whose parameter block is `P`: dispatches can only pass it that type.
pub(crate) struct KernelSpec<P> {
    pub kernel: Kernel,
    _params: PhantomData<fn(P)>,
}

impl<P> KernelSpec<P> {
    pub(crate) const fn new(kernel: Kernel) -> Self {
        KernelSpec { kernel, _params: PhantomData }
    }
}

/// Declares a `static` [`KernelSpec`] for an entry point of a file in `shaders/`:
/// `kernel!(NAME = "file.wgsl", "entry", Params, [Read, ReadWrite], [INDEX, ...])`.
/// `kernel!(f16 NAME = ...)` declares one that uses f16 storage.
macro_rules! kernel {
    (f16 $name:ident = $($rest:tt)*) => {
        $crate::gpu::kernel::kernel!(@ true, $name = $($rest)*);
    };
    ($name:ident = $($rest:tt)*) => {
        $crate::gpu::kernel::kernel!(@ false, $name = $($rest)*);
    };
    (@ $f16:expr, $name:ident = $file:literal, $entry:literal, $params:ty, [$($access:ident),* $(,)?], [$($library:expr),* $(,)?]) => {
        pub(crate) static $name: $crate::gpu::kernel::KernelSpec<$params> =
            $crate::gpu::kernel::KernelSpec::new($crate::gpu::kernel::Kernel {
                file: $file,
                source: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shaders/", $file)),
                entry: $entry,
                buffers: &[$($crate::gpu::kernel::Access::$access),*],
                library: &[$($library),*],
                params: <$params as $crate::gpu::kernel::KernelParams>::LAYOUT,
                f16: $f16,
            });
    };
}
pub(crate) use kernel;

#[cfg(test)]
mod tests {
    //! Every kernel's joined source parses and validates with naga (no GPU needed), in both
    //! parameter paths; its parameter struct has the Rust struct's size and field offsets; and
    //! its storage bindings are the ones its spec declares, with the same access.

    use super::{Access, Kernel, ParamsLayout};
    use crate::gpu::kernels;

    /// The disagreements between `kernel`'s Rust side and its WGSL, joined for `immediates`.
    fn disagreements(kernel: &Kernel, immediates: bool) -> Vec<String> {
        let label = format!("{} ({})", kernel.label(), if immediates { "immediates" } else { "arena" });
        let source = kernel.joined_source(immediates);
        let module = match naga::front::wgsl::parse_str(&source) {
            Ok(module) => module,
            Err(e) => return vec![format!("{label} does not parse:\n{}", e.emit_to_string(&source))],
        };
        let info = match naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::IMMEDIATES
                | naga::valid::Capabilities::SUBGROUP
                | naga::valid::Capabilities::SHADER_FLOAT16,
        )
        .subgroup_stages(naga::valid::ShaderStages::COMPUTE)
        .subgroup_operations(naga::valid::SubgroupOperationSet::all())
        .validate(&module)
        {
            Ok(info) => info,
            Err(e) => return vec![format!("{label} does not validate:\n{}", e.emit_to_string(&source))],
        };
        let mut problems = params_disagreements(&module, &kernel.params);
        let Some(index) = module.entry_points.iter().position(|ep| ep.name == kernel.entry) else {
            return vec![format!("{label}: no entry point {}", kernel.entry)];
        };
        let uses = info.get_entry_point(index);
        for (handle, var) in module.global_variables.iter() {
            let (Some(binding), naga::AddressSpace::Storage { access }) = (&var.binding, var.space) else {
                continue;
            };
            if uses[handle].is_empty() || binding.group != 0 {
                continue;
            }
            let name = var.name.as_deref().unwrap_or("?");
            let writes = access.contains(naga::StorageAccess::STORE);
            match kernel.buffers.get((binding.binding as usize).wrapping_sub(1)) {
                None => problems.push(format!(
                    "`{name}` is at binding {}, but the spec declares bindings 1..={}",
                    binding.binding,
                    kernel.buffers.len()
                )),
                Some(&declared) if (declared == Access::ReadWrite) != writes => problems.push(format!(
                    "`{name}` (binding {}) is {} in WGSL but {declared:?} in the spec",
                    binding.binding,
                    if writes { "read_write" } else { "read" }
                )),
                Some(_) => {}
            }
        }
        problems.into_iter().map(|p| format!("{label}: {p}")).collect()
    }

    /// How `p`'s WGSL struct differs from `layout`.
    fn params_disagreements(module: &naga::Module, layout: &ParamsLayout) -> Vec<String> {
        let Some(var) =
            module.global_variables.iter().map(|(_, v)| v).find(|v| v.name.as_deref() == Some("p"))
        else {
            return vec!["no parameter block `p`".into()];
        };
        let ty = &module.types[var.ty];
        let naga::TypeInner::Struct { members, span } = &ty.inner else {
            return vec!["`p` is not a struct".into()];
        };
        let mut problems = Vec::new();
        if ty.name.as_deref() != Some(layout.name) {
            problems.push(format!("`p` is a {:?}, the Rust side a {}", ty.name, layout.name));
        }
        if *span as usize != layout.size {
            problems.push(format!("{} is {span} bytes in WGSL, {} in Rust", layout.name, layout.size));
        }
        let wgsl: Vec<(&str, usize)> =
            members.iter().map(|m| (m.name.as_deref().unwrap_or("?"), m.offset as usize)).collect();
        if wgsl != layout.fields {
            problems.push(format!(
                "{} fields (name, offset) differ:\n  WGSL {wgsl:?}\n  Rust {:?}",
                layout.name, layout.fields
            ));
        }
        problems
    }

    #[test]
    fn every_kernel_matches_its_rust_side() {
        let all = kernels::all();
        let problems: Vec<String> = all
            .iter()
            .flat_map(|k| [false, true].into_iter().flat_map(move |imm| disagreements(k, imm)))
            .collect();
        assert!(problems.is_empty(), "{}", problems.join("\n"));
        assert!(all.len() >= 30, "expected every kernel, found {}", all.len());
    }

    /// The check is not vacuous: a Rust struct laid out unlike its WGSL struct is reported.
    #[test]
    fn a_struct_that_disagrees_is_reported() {
        let kernel =
            kernels::all().into_iter().find(|k| k.params.name == "UnaryParams").expect("the unary kernel");
        let module = naga::front::wgsl::parse_str(&kernel.joined_source(false)).expect("parses");
        let swapped = ParamsLayout {
            name: "UnaryParams",
            size: 16,
            fields: &[("n", 0), ("b", 4), ("a", 8), ("_pad", 12)],
        };
        let problems = params_disagreements(&module, &swapped);
        assert!(problems.len() == 1 && problems[0].contains("differ"), "{problems:?}");
        let short = ParamsLayout { name: "UnaryParams", size: 12, fields: &[("n", 0), ("a", 4), ("b", 8)] };
        assert_eq!(params_disagreements(&module, &short).len(), 2);
    }
}
