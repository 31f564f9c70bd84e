//! Products of stored matrices on the GPU — matmul, and a dense layer's product with its
//! gradients — as product kernels (`gpu/gemm`) whose schedule the adapter's tuner picks.
//! Operands too large to bind whole run in blocks of rows. Operands and results share one dtype,
//! f32 or f16.

use crate::backend::{Activation, Gradients3, MatmulDims};
use crate::gpu::context::Binding;
use crate::gpu::gemm::{Gate, Kind, Product, Strides, too_large};
use crate::gpu::storage::GpuStorage;
use crate::{DType, Result};

/// What a product does to each output as it stores it: add the bias (one value per column),
/// then apply the activation.
#[derive(Clone, Copy, Default)]
pub(crate) struct Epilogue<'a> {
    pub bias: Option<&'a GpuStorage>,
    pub activation: Activation,
}

/// A product of stored matrices: `batch` products of (m x k) by (k x n), each operand read
/// through its strides (so a transposed operand is read in place).
#[derive(Clone, Copy)]
struct Matrices<'a> {
    a: (&'a GpuStorage, Strides),
    b: (&'a GpuStorage, Strides),
    out: &'a GpuStorage,
    batch: usize,
    m: usize,
    n: usize,
    k: usize,
    /// The activation output whose derivative gates A (`true`) or B (`false`).
    gate: Option<(&'a GpuStorage, bool, Activation)>,
    epilogue: Epilogue<'a>,
    column_sums: Option<&'a GpuStorage>,
}

/// The strides of an (rows x cols) operand stored row-major, or stored transposed.
fn strides(rows: usize, cols: usize, transposed: bool, batched: bool) -> Strides {
    let batch = if batched { rows * cols } else { 0 };
    if transposed {
        Strides { offset: 0, batch, row: 1, col: rows }
    } else {
        Strides { offset: 0, batch, row: cols, col: 1 }
    }
}

impl Matrices<'_> {
    /// Records the product: whole when every operand fits a binding, else in blocks of rows of A
    /// and C (which needs A stored row-major, and B, the bias and the sums bound whole).
    fn run(&self) -> Result<()> {
        let device = &self.out.device;
        let ctx = &device.ctx;
        let max_binding = device.max_binding_bytes() as usize / 4;
        let gate_len = self.gate.map_or(0, |(g, ..)| g.len);
        if [self.a.0.len, self.b.0.len, self.out.len, gate_len].iter().all(|&len| len <= max_binding) {
            let gate = self.gate.map(|(g, ..)| g.binding());
            let (a, b, c) = (self.a.0.binding(), self.b.0.binding(), self.out.binding());
            return self.launch(a, self.a.1, b, self.b.1, (c, 0), gate, self.m);
        }
        let a_rows_contiguous = self.a.1.col == 1 && self.gate.is_none_or(|(_, on_a, _)| on_a);
        let row_len = self.k.max(self.n).max(1);
        let rows_per_block = (max_binding - ctx.offset_alignment()) / row_len;
        if !a_rows_contiguous || rows_per_block == 0 || self.b.0.len > max_binding {
            let what = format!("a product of {}x{} by {}x{}", self.m, self.k, self.k, self.n);
            return Err(too_large(&what, device.max_binding_bytes()));
        }
        for item in 0..self.batch {
            let mut first = 0;
            while first < self.m {
                let rows = rows_per_block.min(self.m - first);
                let a_start = item * self.a.1.batch + first * self.k;
                let (a_window, a_skew) = self.a.0.window(a_start, rows * self.k);
                let (b_window, b_skew) = self.b.0.window(item * self.b.1.batch, self.k * self.n);
                let (c_window, c_skew) = self.out.window((item * self.m + first) * self.n, rows * self.n);
                let gate = self.gate.map(|(g, ..)| g.window(a_start, rows * self.k).0);
                let a = Strides { offset: a_skew, batch: 0, ..self.a.1 };
                let b = Strides { offset: b_skew, batch: 0, ..self.b.1 };
                let single = Matrices { batch: 1, ..*self };
                single.launch(a_window, a, b_window, b, (c_window, c_skew), gate, rows)?;
                first += rows;
            }
        }
        Ok(())
    }

    /// One product over `m` rows with the operands bound as given.
    #[allow(clippy::too_many_arguments)]
    fn launch(
        &self,
        a: Binding<'_>,
        a_strides: Strides,
        b: Binding<'_>,
        b_strides: Strides,
        (c, c_offset): (Binding<'_>, usize),
        gate: Option<Binding<'_>>,
        m: usize,
    ) -> Result<()> {
        let ctx = &self.out.device.ctx;
        let product = Product {
            kind: Kind::Matrix,
            m,
            n: self.n,
            k: self.k,
            batch: self.batch,
            a: (a, a_strides),
            b: (b, b_strides),
            c: (c, c_offset, m * self.n),
            conv: None,
            gate: gate.zip(self.gate).map(|(output, (_, on_a, activation))| Gate {
                output,
                on_a,
                activation,
            }),
            bias: self.epilogue.bias.map(GpuStorage::binding),
            activation: self.epilogue.activation,
            column_sums: self.column_sums.map(GpuStorage::binding),
            accumulate: false,
            half: self.out.dtype == DType::F16,
        };
        let schedule = ctx.tuner.schedule(ctx, &product)?;
        product.launch(ctx, schedule)
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
    let out = GpuStorage::empty_of(&a.device, d.batch * d.m * d.n, a.dtype)?;
    Matrices {
        a: (a, strides(d.m, d.k, d.transpose_lhs, !d.broadcast_lhs)),
        b: (b, strides(d.k, d.n, d.transpose_rhs, !d.broadcast_rhs)),
        out: &out,
        batch: d.batch,
        m: d.m,
        n: d.n,
        k: d.k,
        gate: None,
        epilogue,
        column_sums: None,
    }
    .run()?;
    Ok(out)
}

/// The gradients of `activation(x · kernel + bias)` (x: m x k, kernel: k x n) given the
/// gradient `grad` of its output `out`: `dx = (grad * act') · kernelᵀ` and `dkernel = xᵀ ·
/// (grad * act')` with the bias gradient, the column sums of `grad * act'`, from the same
/// product. The activation's derivative is applied as the products load `grad`.
pub(crate) fn affine_backward(
    x: &GpuStorage,
    kernel: &GpuStorage,
    out: Option<&GpuStorage>,
    grad: &GpuStorage,
    activation: Activation,
    d: &MatmulDims,
    needs: [bool; 3],
) -> Result<Gradients3<GpuStorage>> {
    let device = &x.device;
    let (m, k, n) = (d.m, d.k, d.n);
    let dx = needs[0].then(|| input_grad(kernel, out, grad, activation, d)).transpose()?;
    let (dkernel, dbias) = if needs[1] || needs[2] {
        let dkernel = GpuStorage::empty_of(device, k * n, x.dtype)?;
        let dbias = needs[2].then(|| GpuStorage::empty_of(device, n, x.dtype)).transpose()?;
        Matrices {
            a: (x, strides(k, m, true, false)),
            b: (grad, strides(m, n, false, false)),
            out: &dkernel,
            batch: 1,
            m: k,
            n,
            k: m,
            gate: gate(out, false, activation),
            epilogue: Epilogue::default(),
            column_sums: dbias.as_ref(),
        }
        .run()?;
        (needs[1].then_some(dkernel), dbias)
    } else {
        (None, None)
    };
    Ok((dx, dkernel, dbias))
}

/// `(grad * act') · kernelᵀ` for the (m x n) gradient of `activation(x · kernel + bias)` (`d`
/// its product's sizes): the gradient with respect to `x`, the activation's derivative taken
/// from the output `out` as the product loads `grad`.
pub(crate) fn input_grad(
    kernel: &GpuStorage,
    out: Option<&GpuStorage>,
    grad: &GpuStorage,
    activation: Activation,
    d: &MatmulDims,
) -> Result<GpuStorage> {
    let (m, k, n) = (d.m, d.k, d.n);
    let dx = GpuStorage::empty_of(&grad.device, m * k, grad.dtype)?;
    Matrices {
        a: (grad, strides(m, n, false, false)),
        b: (kernel, strides(n, k, true, false)),
        out: &dx,
        batch: 1,
        m,
        n: k,
        k: n,
        gate: gate(out, true, activation),
        epilogue: Epilogue::default(),
        column_sums: None,
    }
    .run()?;
    Ok(dx)
}

/// The gate of an operand by `activation`'s derivative at `out`, when there is one.
fn gate(
    out: Option<&GpuStorage>,
    on_a: bool,
    activation: Activation,
) -> Option<(&GpuStorage, bool, Activation)> {
    out.filter(|_| activation != Activation::Identity).map(|o| (o, on_a, activation))
}
