//! Products on the GPU, one generated kernel family for all of them: plain matrix products
//! (batched, either operand transposed) and a convolution's three products with its operands
//! addressed in place — the im2col matrix is never materialised. Every variant can gate an
//! operand by an activation's derivative (the backward pass of a fused activation), add a bias
//! and apply an activation as it stores (the forward pass), and sum the columns of B into a
//! second output (a bias gradient, as the row of an all-ones extra row of A).
//!
//! Four schedules, chosen per shape and adapter by [`tune`]: `Subgroup` and `Direct` keep a
//! block of the output in each invocation's registers and use no workgroup memory (the fast
//! path on CPU-like drivers such as lavapipe, where workgroup memory and barriers are emulated;
//! `Subgroup` shares B's loads by subgroup broadcasts); `Tiled` stages slices of both operands in
//! workgroup memory, double buffered (the fast path on discrete GPUs); `SplitK` gives a small
//! block of the output to a whole workgroup that splits the reduction among its invocations and
//! sums their shares in workgroup memory (small outputs over a deep reduction).
//! No invocation ever loops more than [`MAX_LOOP`] times: a longer reduction runs in slices, each
//! adding onto the previous ones' sum; a grid of workgroups past the adapter's per-dimension
//! limit runs in pieces.

mod source;
pub(crate) mod tune;

use std::collections::HashMap;
use std::sync::OnceLock;

use parking_lot::Mutex;

use super::context::{Binding, Context};
use super::kernel::{ACTIVATION, ACTIVATION_CODES, Access, Kernel, KernelSpec, kernel_params};
use crate::backend::{Activation, Conv2dGeometry};
use crate::{Error, Result};

pub(crate) use source::{LANES, SPLIT_LANES};

/// The most iterations any invocation's loop may take: drivers may cut longer loops short
/// without an error (Mesa's llvmpipe stops at 65,535), so the reduction is split well below.
pub(crate) const MAX_LOOP: usize = super::kernels::MAX_LOOP_ITERATIONS;

/// What a product's operands are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    /// Stored matrices, each element at `offset + batch * batch_stride + row * row + col * col`.
    Matrix,
    /// A convolution: A is the im2col matrix of the images (rows: output positions; columns:
    /// taps), B the (KH * KW * C, F) kernel matrix.
    ConvForward,
    /// A convolution's kernel gradient: A is the im2col matrix transposed (rows: taps; columns:
    /// output positions), B the output gradient.
    ConvKernelGrad,
    /// A stride-1 convolution's input gradient: A gathers the output gradient per input pixel
    /// (columns: (ky, kx, filter)), B reads the kernel matrix per input channel.
    ConvInputGrad,
}

/// How the work is spread over invocations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Schedule {
    /// 8 x 8 invocations, each holding a `tm` x `tn` block in registers.
    Direct { tm: u32, tn: u32 },
    /// 64 invocations sharing one `tm` x `tn` block, each over a share of the reduction.
    SplitK { tm: u32, tn: u32 },
    /// One subgroup of `size` invocations, each holding `tm` rows by `tn` columns and sharing
    /// the loads of B by subgroup broadcasts.
    Subgroup { tm: u32, tn: u32, size: u32 },
    /// 16 x 16 invocations on a `bm` x `bn` tile, slices of `bk` staged in workgroup memory,
    /// double buffered.
    Tiled { bm: u32, bn: u32, bk: u32 },
}

impl Schedule {
    /// Output rows and columns one workgroup covers.
    pub(crate) fn tile(self) -> (usize, usize) {
        match self {
            Schedule::Direct { tm, tn } => ((LANES * tm) as usize, (LANES * tn) as usize),
            Schedule::SplitK { tm, tn } => (tm as usize, tn as usize),
            Schedule::Subgroup { tm, tn, size } => ((size * tm) as usize, tn as usize),
            Schedule::Tiled { bm, bn, .. } => (bm as usize, bn as usize),
        }
    }

    /// The longest reduction one dispatch takes without any invocation looping past
    /// [`MAX_LOOP`].
    fn max_reduction(self) -> usize {
        match self {
            Schedule::Direct { .. } | Schedule::Subgroup { .. } => MAX_LOOP,
            Schedule::Tiled { bk, .. } => MAX_LOOP * bk as usize,
            Schedule::SplitK { .. } => MAX_LOOP * SPLIT_LANES as usize,
        }
    }

    pub(crate) fn name(self) -> String {
        match self {
            Schedule::Direct { tm, tn } => format!("direct {tm}x{tn}"),
            Schedule::SplitK { tm, tn } => format!("split-k {tm}x{tn}"),
            Schedule::Subgroup { tm, tn, size } => format!("subgroup{size} {tm}x{tn}"),
            Schedule::Tiled { bm, bn, bk } => format!("tiled {bm}x{bn}x{bk}"),
        }
    }
}

/// Everything that changes a product kernel's source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Variant {
    pub kind: Kind,
    pub schedule: Schedule,
    /// A's (B's) values are multiplied by the activation's derivative, read from the gate
    /// tensor at the same offset.
    pub gate_a: bool,
    pub gate_b: bool,
    /// Column sums of B go to their own output.
    pub column_sums: bool,
    /// Every tile is whole (rows and columns multiples of the tile), so loads of B skip the
    /// column check.
    pub aligned: bool,
    /// Every operand holds f16 (read into f32, accumulated in f32, rounded as it is stored).
    pub half: bool,
}

impl Variant {
    /// A short description, for comments, profiles and `tessera check`.
    pub(crate) fn describe(&self) -> String {
        let mut s = format!("{:?} {}", self.kind, self.schedule.name());
        for (on, what) in [
            (self.gate_a, " gated A"),
            (self.gate_b, " gated B"),
            (self.column_sums, " +column sums"),
            (self.aligned, " aligned"),
            (self.half, " f16"),
        ] {
            if on {
                s.push_str(what);
            }
        }
        s
    }
}

kernel_params! {
    /// The sizes, strides and offsets of a product (elements), and a convolution's geometry.
    struct GemmParams {
        m: u32,
        n: u32,
        k_begin: u32,
        k_end: u32,
        a_offset: u32,
        a_batch: u32,
        a_row: u32,
        a_col: u32,
        b_offset: u32,
        b_batch: u32,
        b_row: u32,
        b_col: u32,
        c_offset: u32,
        c_batch: u32,
        alpha: f32,
        channels: u32,
        in_h: u32,
        in_w: u32,
        window_w: u32,
        stride_h: u32,
        stride_w: u32,
        out_h: u32,
        out_w: u32,
        pad_top: u32,
        pad_left: u32,
        filters: u32,
        /// The first workgroup of this dispatch along each dimension: a grid larger than the
        /// adapter's per-dimension limit runs as several dispatches.
        group_x: u32,
        group_y: u32,
        group_z: u32,
        _pad: u32,
    }
}

/// The buffers a product kernel binds, in order.
const BUFFERS: &[Access] =
    &[Access::Read, Access::Read, Access::ReadWrite, Access::Read, Access::Read, Access::ReadWrite];

/// The kernel of `variant`, generated on first use and kept for the life of the process (there
/// are a few dozen at most).
pub(crate) fn kernel(variant: Variant) -> &'static KernelSpec<GemmParams> {
    static KERNELS: OnceLock<Mutex<HashMap<Variant, &'static KernelSpec<GemmParams>>>> = OnceLock::new();
    let mut kernels = KERNELS.get_or_init(Default::default).lock();
    kernels.entry(variant).or_insert_with(|| {
        let label: &'static str = Box::leak(format!("gemm [{}]", variant.describe()).into_boxed_str());
        let source: &'static str = Box::leak(source::generate(&variant).into_boxed_str());
        Box::leak(Box::new(KernelSpec::new(Kernel {
            file: label,
            source,
            entry: "main",
            buffers: BUFFERS,
            library: &[ACTIVATION_CODES, ACTIVATION],
            params: <GemmParams as super::kernel::KernelParams>::LAYOUT,
            f16: variant.half,
        })))
    })
}

/// One operand of a stored-matrix product: where it starts in its binding, and its strides.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Strides {
    pub offset: usize,
    pub batch: usize,
    pub row: usize,
    pub col: usize,
}

/// A product to run: its kind, sizes, operands (bound as given) and what it fuses.
pub(crate) struct Product<'a> {
    pub kind: Kind,
    /// Rows and columns of the output, and the length of the reduction.
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub batch: usize,
    pub a: (Binding<'a>, Strides),
    pub b: (Binding<'a>, Strides),
    /// The output, where its first element is in the binding, and its batch stride.
    pub c: (Binding<'a>, usize, usize),
    /// A convolution's geometry and filter count.
    pub conv: Option<(Conv2dGeometry, usize)>,
    /// A gate: the tensor, laid out like the operand it gates (A when `true`, B when `false`),
    /// whose activation derivative multiplies that operand.
    pub gate: Option<Gate<'a>>,
    /// The epilogue: a bias per column, then an activation.
    pub bias: Option<Binding<'a>>,
    pub activation: Activation,
    pub column_sums: Option<Binding<'a>>,
    /// Add onto the output's (and the column sums') current values: a later pass of a product
    /// split over its reduction.
    pub accumulate: bool,
    /// Every operand holds f16.
    pub half: bool,
}

/// An activation's output gating one operand of a product by the activation's derivative.
#[derive(Clone, Copy)]
pub(crate) struct Gate<'a> {
    pub output: Binding<'a>,
    pub on_a: bool,
    pub activation: Activation,
}

impl Product<'_> {
    /// The variant of this product with `schedule`: aligned when every tile is whole.
    pub(crate) fn variant(&self, schedule: Schedule) -> Variant {
        let (tile_m, tile_n) = schedule.tile();
        let rows = self.m + usize::from(self.column_sums.is_some());
        Variant {
            kind: self.kind,
            schedule,
            gate_a: self.gate.is_some_and(|g| g.on_a),
            gate_b: self.gate.is_some_and(|g| !g.on_a),
            column_sums: self.column_sums.is_some(),
            aligned: self.n.is_multiple_of(tile_n) && rows.is_multiple_of(tile_m),
            half: self.half,
        }
    }

    /// Records the product with `schedule`: one dispatch per slice of the reduction.
    pub(crate) fn launch(&self, ctx: &Context, schedule: Schedule) -> Result<()> {
        let name = "matmul";
        let index = |v: usize| super::kernels::index(name, v);
        let variant = self.variant(schedule);
        let spec = kernel(variant);
        let (tile_m, tile_n) = schedule.tile();
        let rows = self.m + usize::from(self.column_sums.is_some());
        let groups = [self.n.div_ceil(tile_n), rows.div_ceil(tile_m), self.batch].map(|g| g as u32);
        let (g, filters) = self.conv.unwrap_or((Conv2dGeometry::EMPTY, 0));
        let template = GemmParams {
            m: index(self.m)?,
            n: index(self.n)?,
            a_offset: index(self.a.1.offset)?,
            a_batch: index(self.a.1.batch)?,
            a_row: index(self.a.1.row)?,
            a_col: index(self.a.1.col)?,
            b_offset: index(self.b.1.offset)?,
            b_batch: index(self.b.1.batch)?,
            b_row: index(self.b.1.row)?,
            b_col: index(self.b.1.col)?,
            c_offset: index(self.c.1)?,
            c_batch: index(self.c.2)?,
            alpha: self.gate.map_or(self.activation, |g| g.activation).code().1 as f32,
            channels: index(g.channels)?,
            in_h: index(g.in_h)?,
            in_w: index(g.in_w)?,
            window_w: index(g.window_w)?,
            stride_h: index(g.stride_h)?,
            stride_w: index(g.stride_w)?,
            out_h: index(g.out_h)?,
            out_w: index(g.out_w)?,
            pad_top: index(g.pad_top)?,
            pad_left: index(g.pad_left)?,
            filters: index(filters)?,
            ..GemmParams::default()
        };
        let (read, write) = (ctx.placeholder(Access::Read), ctx.placeholder(Access::ReadWrite));
        let bindings = [
            self.a.0,
            self.b.0,
            self.c.0,
            self.bias.unwrap_or(read),
            self.gate.map_or(read, |g| g.output),
            self.column_sums.unwrap_or(write),
        ];
        let code = |a: Activation| f64::from(a.code().0.code());
        let gate = code(self.gate.map_or(Activation::Identity, |g| g.activation));
        let activation = code(self.activation);
        let has_bias = f64::from(u8::from(self.bias.is_some()));
        // An empty reduction still stores its zeros (and epilogue), in one slice.
        let slice = schedule.max_reduction();
        let slices = self.k.div_ceil(slice).max(1);
        for s in 0..slices {
            let params = GemmParams {
                k_begin: index(s * slice)?,
                k_end: index(((s + 1) * slice).min(self.k))?,
                ..template
            };
            let constants = [
                ("ACTIVATION", activation),
                ("GATE", gate),
                ("ACCUMULATE", f64::from(u8::from(s > 0 || self.accumulate))),
                ("EPILOGUE", f64::from(u8::from(s + 1 == slices))),
                ("HAS_BIAS", has_bias),
            ];
            for [(x, nx), (y, ny), (z, nz)] in grid_chunks(groups, ctx.max_groups()) {
                let params = GemmParams { group_x: x, group_y: y, group_z: z, ..params };
                ctx.dispatch(spec, &constants, &params, &bindings, [nx, ny, nz])?;
            }
        }
        Ok(())
    }
}

/// A grid of workgroups cut into pieces of at most `max` along each dimension: each piece's
/// first workgroup and size, per dimension.
fn grid_chunks(groups: [u32; 3], max: u32) -> Vec<[(u32, u32); 3]> {
    let spans = |total: u32| -> Vec<(u32, u32)> {
        (0..total.div_ceil(max).max(1)).map(|i| (i * max, (total - i * max).min(max))).collect()
    };
    let (xs, ys, zs) = (spans(groups[0]), spans(groups[1]), spans(groups[2]));
    let mut chunks = Vec::new();
    for &z in &zs {
        for &y in &ys {
            for &x in &xs {
                chunks.push([x, y, z]);
            }
        }
    }
    chunks
}

/// The error for a product whose operands cannot be bound, naming the sizes.
pub(crate) fn too_large(what: &str, max_binding: u64) -> Error {
    Error::Limit(format!(
        "{what} cannot be split to fit this adapter's {} MiB storage binding limit",
        max_binding >> 20
    ))
}
