//! Launcher for `shaders/matmul.wgsl`: batched products, with a bias and an activation applied
//! as each output is stored.

use super::{index, reduce};
use crate::backend::{Activation, MatmulDims, ReduceOp};
use crate::gpu::context::Binding;
use crate::gpu::kernel::{ACTIVATION, ACTIVATION_CODES, kernel, kernel_params};
use crate::gpu::storage::GpuStorage;
use crate::{Error, Result, Shape};

kernel_params! {
    struct MatmulParams {
        m: u32,
        n: u32,
        k: u32,
        trans_a: u32,
        trans_b: u32,
        a_batch_stride: u32,
        b_batch_stride: u32,
        c_batch_stride: u32,
        a_offset: u32,
        b_offset: u32,
        c_offset: u32,
        alpha: f32,
    }
}

kernel!(
    MATMUL = "matmul.wgsl",
    "main",
    MatmulParams,
    [Read, Read, ReadWrite, Read],
    [ACTIVATION_CODES, ACTIVATION]
);

#[cfg(test)]
pub(crate) static KERNELS: &[&crate::gpu::kernel::Kernel] = &[&MATMUL.kernel];

/// Output rows and columns per workgroup (see the shader).
const TILE: usize = 64;

/// Depth of one slice of a split-k product.
const SPLIT_DEPTH: usize = 1024;

/// A product with fewer output tiles than this leaves most of a device idle; when it is deep
/// enough, it is split along k instead (see [`split_k`]).
const FEW_TILES: usize = 8;

/// What a product does to each output as it stores it: add the bias (one value per column),
/// then apply the activation.
#[derive(Clone, Copy, Default)]
pub(crate) struct Epilogue<'a> {
    pub bias: Option<&'a GpuStorage>,
    pub activation: Activation,
}

impl Epilogue<'_> {
    fn is_identity(&self) -> bool {
        self.bias.is_none() && self.activation == Activation::Identity
    }
}

/// `batch` products of op(A) (m x k) by op(B) (k x n), as the CPU kernel computes them, with
/// `epilogue` applied to every output.
pub(crate) fn matmul(
    a: &GpuStorage,
    b: &GpuStorage,
    d: &MatmulDims,
    epilogue: Epilogue<'_>,
) -> Result<GpuStorage> {
    let out = GpuStorage::empty(&a.device, d.batch * d.m * d.n)?;
    let max_binding = a.device.max_binding_bytes() as usize / 4;
    let tiles = d.m.div_ceil(TILE) * d.n.div_ceil(TILE);
    let fits = a.len.max(b.len).max(out.len) <= max_binding;
    // The k-major layout of both operands (Aᵀ·B: a weight gradient) lets a slice of k be
    // addressed by a batch stride, which is what split-k needs.
    if fits
        && epilogue.is_identity()
        && d.batch == 1
        && d.transpose_lhs
        && !d.transpose_rhs
        && tiles < FEW_TILES
        && d.k >= 4 * SPLIT_DEPTH
    {
        return split_k(a, b, d);
    }
    if fits {
        launch(a, b, &out, d, 0..d.batch, 0..d.m, epilogue)?;
        return Ok(out);
    }
    // Too large to bind whole: one batch item at a time, and row blocks of A and C within it
    // (rows are contiguous only when A is not stored transposed).
    let row_bytes = (d.k.max(d.n)).max(1);
    let rows_per_chunk =
        if d.transpose_lhs { d.m } else { (max_binding / row_bytes).saturating_sub(TILE) / TILE * TILE };
    if rows_per_chunk == 0 || d.k * d.n > max_binding {
        return Err(Error::Limit(format!(
            "matmul: operands of {}x{} and {}x{} cannot be split to fit the {} MiB binding limit",
            d.m,
            d.k,
            d.k,
            d.n,
            max_binding >> 18
        )));
    }
    for item in 0..d.batch {
        let mut row = 0;
        while row < d.m {
            let rows = rows_per_chunk.min(d.m - row);
            launch(a, b, &out, d, item..item + 1, row..row + rows, epilogue)?;
            row += rows;
        }
    }
    Ok(out)
}

/// The specialisation constants of `epilogue`.
fn constants(epilogue: &Epilogue<'_>) -> [(&'static str, f64); 2] {
    let (code, _) = epilogue.activation.code();
    [("ACTIVATION", f64::from(code.code())), ("HAS_BIAS", f64::from(u8::from(epilogue.bias.is_some())))]
}

/// Aᵀ·B for a small output and a deep k (a convolution's weight gradient sums over every pixel
/// of the batch): the slices of k are multiplied in parallel, as a batch of partial products,
/// and then summed — instead of a handful of workgroups each walking all of k.
fn split_k(a: &GpuStorage, b: &GpuStorage, d: &MatmulDims) -> Result<GpuStorage> {
    let (m, n) = (d.m, d.n);
    let slices = d.k / SPLIT_DEPTH;
    let rest = d.k % SPLIT_DEPTH;
    let parts = slices + usize::from(rest > 0);
    let partial = GpuStorage::empty(&a.device, parts * m * n)?;
    let name = "matmul";
    let params = |k: usize, a_stride: usize, b_stride: usize, slice: usize| -> Result<MatmulParams> {
        Ok(MatmulParams {
            m: index(name, m)?,
            n: index(name, n)?,
            k: index(name, k)?,
            trans_a: 1,
            trans_b: 0,
            a_batch_stride: index(name, a_stride)?,
            b_batch_stride: index(name, b_stride)?,
            c_batch_stride: index(name, m * n)?,
            a_offset: index(name, slice * SPLIT_DEPTH * m)?,
            b_offset: index(name, slice * SPLIT_DEPTH * n)?,
            c_offset: index(name, slice * m * n)?,
            alpha: 0.0,
        })
    };
    let ctx = &a.device.ctx;
    let bindings = [a.binding(), b.binding(), partial.binding(), ctx.placeholder()];
    let groups = |items: usize| [n.div_ceil(TILE) as u32, m.div_ceil(TILE) as u32, items as u32];
    let constants = constants(&Epilogue::default());
    if slices > 0 {
        let full = params(SPLIT_DEPTH, SPLIT_DEPTH * m, SPLIT_DEPTH * n, 0)?;
        ctx.dispatch(&MATMUL, &constants, &full, &bindings, groups(slices))?;
    }
    if rest > 0 {
        let last = params(rest, 0, 0, slices)?;
        ctx.dispatch(&MATMUL, &constants, &last, &bindings, groups(1))?;
    }
    reduce::reduce(ReduceOp::Sum, &partial, &Shape::new([parts, m, n]), &Shape::new([1, m, n]))
}

/// One dispatch over batch items `items` and output rows `rows`.
fn launch(
    a: &GpuStorage,
    b: &GpuStorage,
    out: &GpuStorage,
    d: &MatmulDims,
    items: std::ops::Range<usize>,
    rows: std::ops::Range<usize>,
    epilogue: Epilogue<'_>,
) -> Result<()> {
    let whole = items.len() == d.batch && rows.len() == d.m;
    let m = rows.len();
    let a_stride = if d.broadcast_lhs { 0 } else { d.m * d.k };
    let b_stride = if d.broadcast_rhs { 0 } else { d.k * d.n };
    let c_stride = d.m * d.n;
    let (a_window, a_skew, b_window, b_skew, c_window, c_skew);
    if whole {
        (a_window, a_skew) = (a.binding(), 0);
        (b_window, b_skew) = (b.binding(), 0);
        (c_window, c_skew) = (out.binding(), 0);
    } else {
        // A single batch item; with a row block of a non-transposed A.
        (a_window, a_skew) = a.window(items.start * a_stride + rows.start * d.k, m * d.k);
        (b_window, b_skew) = b.window(items.start * b_stride, d.k * d.n);
        (c_window, c_skew) = out.window(items.start * c_stride + rows.start * d.n, m * d.n);
    }
    let name = "matmul";
    let params = MatmulParams {
        m: index(name, m)?,
        n: index(name, d.n)?,
        k: index(name, d.k)?,
        trans_a: d.transpose_lhs as u32,
        trans_b: d.transpose_rhs as u32,
        a_batch_stride: index(name, a_stride)?,
        b_batch_stride: index(name, b_stride)?,
        c_batch_stride: index(name, c_stride)?,
        a_offset: index(name, a_skew)?,
        b_offset: index(name, b_skew)?,
        c_offset: index(name, c_skew)?,
        alpha: epilogue.activation.code().1 as f32,
    };
    let ctx = &a.device.ctx;
    let bias: Binding<'_> = epilogue.bias.map_or_else(|| ctx.placeholder(), GpuStorage::binding);
    let groups = [d.n.div_ceil(TILE) as u32, m.div_ceil(TILE) as u32, items.len() as u32];
    ctx.dispatch(&MATMUL, &constants(&epilogue), &params, &[a_window, b_window, c_window, bias], groups)
}
