//! Convolution on the GPU as implicit products (`gpu/gemm`): the forward pass, the kernel's and
//! the bias's gradient, and (stride 1) the input's gradient each read the images and the
//! gradients in place, so no im2col matrix is ever written. A strided convolution's input
//! gradient goes through a product and col2im. im2col and col2im are also ops of their own
//! (`shaders/im2col.wgsl`, `shaders/col2im.wgsl`). A batch whose images or outputs exceed the
//! adapter's storage binding limit runs in passes of as many images as fit.

use std::ops::Range;

use super::matmul::{self, Epilogue};
use super::window::WindowParams;
use super::{for_each_image_chunk, images_per_dispatch};
use crate::backend::{Activation, Conv2dGeometry, Gradients3, MatmulDims};
use crate::gpu::GpuDevice;
use crate::gpu::context::Binding;
use crate::gpu::gemm::{Gate, Kind, Product, Strides};
use crate::gpu::kernel::{INDEX, WINDOW, kernel};
use crate::gpu::storage::GpuStorage;
use crate::{DType, Result};

kernel!(IM2COL = "im2col.wgsl", "main", WindowParams, [Read, ReadWrite], [INDEX, WINDOW]);
kernel!(COL2IM = "col2im.wgsl", "main", WindowParams, [Read, ReadWrite], [INDEX, WINDOW]);

#[cfg(test)]
pub(crate) static KERNELS: &[&crate::gpu::kernel::Kernel] = &[&IM2COL.kernel, &COL2IM.kernel];

/// im2col of the images `images` of the NHWC batch `x`: a new (images * OH * OW, KH * KW * C)
/// matrix.
pub(crate) fn im2col(x: &GpuStorage, g: &Conv2dGeometry, images: Range<usize>) -> Result<GpuStorage> {
    let (image_len, rows_len) = (g.image_len(), g.positions() * g.patch_len());
    let cols = GpuStorage::empty(&x.device, images.len() * rows_len)?;
    let params = WindowParams::new("im2col", g)?;
    let per_image = [("image", image_len), ("im2col matrix", rows_len)];
    for_each_image_chunk(&x.device, "im2col", &per_image, images.clone(), |chunk| {
        let (src, src_skew) = x.window(chunk.start * image_len, chunk.len() * image_len);
        let (dst, dst_skew) = cols.window((chunk.start - images.start) * rows_len, chunk.len() * rows_len);
        params.dispatch(&IM2COL, &x.device, chunk.len() * rows_len, (src_skew, dst_skew), &[src, dst])
    })?;
    Ok(cols)
}

/// col2im of `cols`, the im2col rows of `images` images, as a new NHWC batch.
pub(crate) fn col2im(cols: &GpuStorage, g: &Conv2dGeometry, images: usize) -> Result<GpuStorage> {
    let (image_len, rows_len) = (g.image_len(), g.positions() * g.patch_len());
    let out = GpuStorage::empty(&cols.device, images * image_len)?;
    let params = WindowParams::new("col2im", g)?;
    let per_image = [("image", image_len), ("im2col matrix", rows_len)];
    for_each_image_chunk(&cols.device, "col2im", &per_image, 0..images, |chunk| {
        let (src, src_skew) = cols.window(chunk.start * rows_len, chunk.len() * rows_len);
        let (dst, dst_skew) = out.window(chunk.start * image_len, chunk.len() * image_len);
        params.dispatch(&COL2IM, &cols.device, chunk.len() * image_len, (src_skew, dst_skew), &[src, dst])
    })?;
    Ok(out)
}

/// The ranges of images a convolution takes one pass at a time: the whole batch, unless the
/// images or the outputs of the batch would exceed the binding limit.
fn passes(device: &GpuDevice, g: &Conv2dGeometry, filters: usize, batch: usize) -> Result<Vec<Range<usize>>> {
    let per_image = [("input", g.image_len()), ("output", g.positions() * filters)];
    let per_pass = images_per_dispatch(device, "conv2d", &per_image)?.max(1);
    // An empty batch still makes one (empty) pass, so that every result gets a value.
    Ok((0..batch.max(1)).step_by(per_pass).map(|start| start..(start + per_pass).min(batch)).collect())
}

/// The binding of `images` of a per-image batch `t` (`per_image` elements each), and where the
/// first image's first element is in it.
fn images_of<'a>(t: &'a GpuStorage, per_image: usize, images: &Range<usize>) -> (Binding<'a>, usize) {
    t.window(images.start * per_image, images.len() * per_image)
}

/// The convolution's product over `images`, on bindings of their part of every batch.
struct Pass<'a> {
    g: Conv2dGeometry,
    filters: usize,
    images: Range<usize>,
    activation: Activation,
    x: &'a GpuStorage,
    kernel: &'a GpuStorage,
    out: Option<&'a GpuStorage>,
}

impl Pass<'_> {
    /// Whether the operands hold f16 (the op layer gives them one dtype).
    fn half(&self) -> bool {
        self.x.dtype == DType::F16
    }

    fn x(&self) -> (Binding<'_>, usize) {
        images_of(self.x, self.g.image_len(), &self.images)
    }

    /// A per-output batch's part (the output, its gradient).
    fn outputs<'t>(&self, t: &'t GpuStorage) -> (Binding<'t>, usize) {
        images_of(t, self.g.positions() * self.filters, &self.images)
    }

    /// The gate of an operand laid out like the output: the activation's output, if any.
    fn gate(&self, on_a: bool) -> Option<Gate<'_>> {
        let out = self.out.filter(|_| self.activation != Activation::Identity)?;
        Some(Gate { output: self.outputs(out).0, on_a, activation: self.activation })
    }

    /// Runs `product` with the adapter's schedule for it.
    fn run(&self, product: &Product<'_>) -> Result<()> {
        let ctx = &self.x.device.ctx;
        let schedule = ctx.tuner.schedule(ctx, product)?;
        product.launch(ctx, schedule)
    }

    /// `activation(conv2d(x) + bias)` of the pass's images into `y`.
    fn forward(&self, y: &GpuStorage, epilogue: Epilogue<'_>) -> Result<()> {
        let (x, x_offset) = self.x();
        let (c, c_offset) = self.outputs(y);
        let (g, filters) = (self.g, self.filters);
        let m = self.images.len() * g.positions();
        self.run(&Product {
            kind: Kind::ConvForward,
            m,
            n: filters,
            k: g.patch_len(),
            batch: 1,
            a: (x, Strides { offset: x_offset, ..Strides::default() }),
            b: (self.kernel.binding(), Strides { offset: 0, batch: 0, row: filters, col: 1 }),
            c: (c, c_offset, m * filters),
            conv: Some((g, filters)),
            gate: None,
            bias: epilogue.bias.map(GpuStorage::binding),
            activation: epilogue.activation,
            column_sums: None,
            accumulate: false,
            half: self.half(),
        })
    }

    /// The kernel's gradient im2col(x)ᵀ · (grad * act') and the bias's, the column sums of
    /// (grad * act'), added onto the earlier passes' (`accumulate`).
    fn kernel_grad(
        &self,
        grad: &GpuStorage,
        dkernel: &GpuStorage,
        dbias: Option<&GpuStorage>,
        accumulate: bool,
    ) -> Result<()> {
        let (x, x_offset) = self.x();
        let (b, b_offset) = self.outputs(grad);
        let (g, filters) = (self.g, self.filters);
        self.run(&Product {
            kind: Kind::ConvKernelGrad,
            m: g.patch_len(),
            n: filters,
            k: self.images.len() * g.positions(),
            batch: 1,
            a: (x, Strides { offset: x_offset, ..Strides::default() }),
            b: (b, Strides { offset: b_offset, batch: 0, row: filters, col: 1 }),
            c: (dkernel.binding(), 0, 0),
            conv: Some((g, filters)),
            gate: self.gate(false),
            bias: None,
            activation: Activation::Identity,
            column_sums: dbias.map(GpuStorage::binding),
            accumulate,
            half: self.half(),
        })
    }

    /// The input's gradient of a stride-1 convolution, each input pixel gathering
    /// `(grad * act') · kernelᵀ` over the windows that cover it, into `dx`.
    fn input_grad(&self, grad: &GpuStorage, dx: &GpuStorage) -> Result<()> {
        let (a, a_offset) = self.outputs(grad);
        let (c, c_offset) = images_of(dx, self.g.image_len(), &self.images);
        let (g, filters) = (self.g, self.filters);
        let m = self.images.len() * g.in_h * g.in_w;
        self.run(&Product {
            kind: Kind::ConvInputGrad,
            m,
            n: g.channels,
            k: g.window_h * g.window_w * filters,
            batch: 1,
            a: (a, Strides { offset: a_offset, ..Strides::default() }),
            b: (self.kernel.binding(), Strides::default()),
            c: (c, c_offset, m * g.channels),
            conv: Some((g, filters)),
            gate: self.gate(true),
            bias: None,
            activation: Activation::Identity,
            column_sums: None,
            accumulate: false,
            half: self.half(),
        })
    }
}

/// `activation(conv2d(x, kernel) + bias)` for `batch` NHWC images, `kernel` being the
/// (KH * KW * C, F) matrix.
pub(crate) fn conv2d(
    x: &GpuStorage,
    kernel: &GpuStorage,
    epilogue: Epilogue<'_>,
    g: &Conv2dGeometry,
    batch: usize,
) -> Result<GpuStorage> {
    let filters = kernel.len / g.patch_len().max(1);
    let y = GpuStorage::empty_of(&x.device, batch * g.positions() * filters, x.dtype)?;
    for images in passes(&x.device, g, filters, batch)? {
        let pass = Pass { g: *g, filters, images, activation: epilogue.activation, x, kernel, out: None };
        pass.forward(&y, epilogue)?;
    }
    Ok(y)
}

/// The gradients of [`conv2d`] with respect to `x`, the kernel matrix and the bias (those
/// `needs` asks for), given the gradient `grad` of its output `out`, the activation's
/// derivative applied as the products load `grad`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn conv2d_backward(
    x: &GpuStorage,
    kernel: &GpuStorage,
    out: Option<&GpuStorage>,
    grad: &GpuStorage,
    activation: Activation,
    g: &Conv2dGeometry,
    batch: usize,
    needs: [bool; 3],
) -> Result<Gradients3<GpuStorage>> {
    let device = &x.device;
    let filters = kernel.len / g.patch_len().max(1);
    let dtype = x.dtype;
    let dx = needs[0].then(|| GpuStorage::empty_of(device, batch * g.image_len(), dtype)).transpose()?;
    let dkernel = needs[1] || needs[2];
    let dkernel = dkernel.then(|| GpuStorage::empty_of(device, kernel.len, dtype)).transpose()?;
    let dbias = needs[2].then(|| GpuStorage::empty_of(device, filters, dtype)).transpose()?;
    let stride_one = g.stride_h == 1 && g.stride_w == 1;
    for (i, images) in passes(device, g, filters, batch)?.into_iter().enumerate() {
        let pass = Pass { g: *g, filters, images, activation, x, kernel, out };
        if let Some(dkernel) = &dkernel {
            pass.kernel_grad(grad, dkernel, dbias.as_ref(), i > 0)?;
        }
        if let (Some(dx), true) = (&dx, stride_one) {
            pass.input_grad(grad, dx)?;
        }
    }
    let dx = match dx {
        // col2im is an f32 kernel: f16 operands are widened for it, and its result rounded.
        Some(_) if !stride_one && dtype == DType::F16 => {
            let wide = |t: &GpuStorage| super::cast::cast(t, DType::F32);
            let out = out.map(wide).transpose()?;
            let dx = strided_input_grad(&wide(kernel)?, out.as_ref(), &wide(grad)?, activation, g, batch)?;
            Some(super::cast::cast(&dx, DType::F16)?)
        }
        Some(_) if !stride_one => Some(strided_input_grad(kernel, out, grad, activation, g, batch)?),
        dx => dx,
    };
    Ok((dx, dkernel.filter(|_| needs[1]), dbias))
}

/// The input gradient of a strided convolution: the columns' gradient `(grad * act') ·
/// kernelᵀ` as a product, then col2im, in passes whose im2col matrix fits a binding.
fn strided_input_grad(
    kernel: &GpuStorage,
    out: Option<&GpuStorage>,
    grad: &GpuStorage,
    activation: Activation,
    g: &Conv2dGeometry,
    batch: usize,
) -> Result<GpuStorage> {
    let device = &grad.device;
    let filters = kernel.len / g.patch_len().max(1);
    let per_image = [("output", g.positions() * filters), ("im2col matrix", g.positions() * g.patch_len())];
    let dx = GpuStorage::empty(device, batch * g.image_len())?;
    for_each_image_chunk(device, "conv2d", &per_image, 0..batch, |images| {
        let rows = images.len() * g.positions();
        let part = |t: &GpuStorage| t.copy_range(images.start * g.positions() * filters, rows * filters);
        let grad = part(grad)?;
        let out = out.map(part).transpose()?;
        let dims = MatmulDims::plain(rows, g.patch_len(), filters);
        let dcols = matmul::input_grad(kernel, out.as_ref(), &grad, activation, &dims)?;
        dx.write_at(images.start * g.image_len(), &col2im(&dcols, g, images.len())?);
        Ok(())
    })?;
    Ok(dx)
}
