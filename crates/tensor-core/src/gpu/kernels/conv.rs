//! Convolution on the GPU: launchers for `shaders/im2col.wgsl` and `shaders/col2im.wgsl`, and
//! the convolution and its gradients built from them and one product per pass. A batch whose
//! matrices would exceed the adapter's storage binding limit runs in passes of as many images
//! as fit.

use std::ops::Range;

use super::matmul::{self, Epilogue};
use super::window::WindowParams;
use super::{binary, for_each_image_chunk, images_per_dispatch, reduce, unary};
use crate::backend::{Activation, BinaryOp, Conv2dGeometry, Gradients3, MatmulDims, ReduceOp};
use crate::gpu::GpuDevice;
use crate::gpu::kernel::{INDEX, WINDOW, kernel};
use crate::gpu::storage::GpuStorage;
use crate::{Result, Shape};

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

/// The ranges of images a convolution takes one pass at a time: the whole batch, unless one of
/// the pass's matrices (images, im2col matrix, output) would exceed the binding limit.
fn passes(device: &GpuDevice, g: &Conv2dGeometry, filters: usize, batch: usize) -> Result<Vec<Range<usize>>> {
    let per_image = [
        ("input", g.image_len()),
        ("im2col matrix", g.positions() * g.patch_len()),
        ("output", g.positions() * filters),
    ];
    let per_pass = images_per_dispatch(device, "conv2d", &per_image)?.max(1);
    // An empty batch still makes one (empty) pass, so that every result gets a value.
    Ok((0..batch.max(1)).step_by(per_pass).map(|start| start..(start + per_pass).min(batch)).collect())
}

/// The part of a per-image batch `t` (`per_image` elements each) that covers `images`: `t`
/// itself for the whole batch, else a copy of the range.
fn part_of<'a>(
    t: &'a GpuStorage,
    per_image: usize,
    images: &Range<usize>,
    batch: usize,
) -> Result<PartOf<'a>> {
    if images.len() == batch {
        return Ok(PartOf::Whole(t));
    }
    Ok(PartOf::Copied(t.copy_range(images.start * per_image, images.len() * per_image)?))
}

enum PartOf<'a> {
    Whole(&'a GpuStorage),
    Copied(GpuStorage),
}

impl std::ops::Deref for PartOf<'_> {
    type Target = GpuStorage;

    fn deref(&self) -> &GpuStorage {
        match self {
            PartOf::Whole(t) => t,
            PartOf::Copied(t) => t,
        }
    }
}

/// A batch assembled from its passes' results: with one pass, that result; with several, each
/// copied into place in a batch allocated once.
struct Assembled {
    batch: Option<GpuStorage>,
    per_image: usize,
}

impl Assembled {
    fn new(device: &GpuDevice, passes: &[Range<usize>], batch: usize, per_image: usize) -> Result<Assembled> {
        let batch = if passes.len() > 1 { Some(GpuStorage::empty(device, batch * per_image)?) } else { None };
        Ok(Assembled { batch, per_image })
    }

    /// Takes the result of the pass over `images`.
    fn put(&mut self, images: &Range<usize>, part: GpuStorage) {
        match &self.batch {
            Some(batch) => batch.write_at(images.start * self.per_image, &part),
            None => self.batch = Some(part),
        }
    }

    fn into_batch(self) -> Option<GpuStorage> {
        self.batch
    }
}

/// `activation(conv2d(x, kernel) + bias)` for `batch` NHWC images, `kernel` being the
/// (KH * KW * C, F) matrix: im2col and one product per pass, the bias and the activation
/// applied as the product stores its output.
pub(crate) fn conv2d(
    x: &GpuStorage,
    kernel: &GpuStorage,
    epilogue: Epilogue<'_>,
    g: &Conv2dGeometry,
    batch: usize,
) -> Result<GpuStorage> {
    let filters = kernel.len / g.patch_len().max(1);
    let passes = passes(&x.device, g, filters, batch)?;
    let mut out = Assembled::new(&x.device, &passes, batch, g.positions() * filters)?;
    for images in &passes {
        let cols = im2col(x, g, images.clone())?;
        let dims = MatmulDims::plain(images.len() * g.positions(), g.patch_len(), filters);
        out.put(images, matmul::matmul(&cols, kernel, &dims, epilogue)?);
    }
    out.into_batch().map_or_else(|| GpuStorage::empty(&x.device, 0), Ok)
}

/// The gradients of [`conv2d`] with respect to `x`, the kernel matrix and the bias (those
/// `needs` asks for), given the gradient `grad` of its output `out`. The im2col matrix is
/// rebuilt rather than kept from the forward pass: it is up to KH * KW times the size of the
/// input, too much to hold per layer until the backward sweep.
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
    let filters = kernel.len / g.patch_len().max(1);
    let rows = batch * g.positions();
    let gated = gate(out, grad, activation)?;
    let dz = gated.as_ref().unwrap_or(grad);
    let dbias = needs[2].then(|| column_sums(dz, rows, filters)).transpose()?;
    let passes = passes(&x.device, g, filters, batch)?;
    let mut dx = needs[0].then(|| Assembled::new(&x.device, &passes, batch, g.image_len())).transpose()?;
    let mut dkernel: Option<GpuStorage> = None;
    for images in &passes {
        let part = part_of(dz, g.positions() * filters, images, batch)?;
        let part_rows = images.len() * g.positions();
        if let Some(dx) = &mut dx {
            let dims =
                MatmulDims { transpose_rhs: true, ..MatmulDims::plain(part_rows, filters, g.patch_len()) };
            let dcols = matmul::matmul(&part, kernel, &dims, Epilogue::default())?;
            dx.put(images, col2im(&dcols, g, images.len())?);
        }
        if needs[1] {
            let cols = im2col(x, g, images.clone())?;
            let dims =
                MatmulDims { transpose_lhs: true, ..MatmulDims::plain(g.patch_len(), part_rows, filters) };
            let share = matmul::matmul(&cols, &part, &dims, Epilogue::default())?;
            dkernel = Some(match dkernel {
                None => share,
                Some(sum) => {
                    let shape = Shape::new([share.len]);
                    binary::binary(BinaryOp::Add, &sum, &shape, &share, &shape, &shape)?
                }
            });
        }
    }
    Ok((dx.and_then(Assembled::into_batch), dkernel, dbias))
}

/// `grad` times the derivative of a fused activation, from its output `out`; `None` when the
/// activation is the identity (the gradient passes as it is).
pub(crate) fn gate(
    out: Option<&GpuStorage>,
    grad: &GpuStorage,
    activation: Activation,
) -> Result<Option<GpuStorage>> {
    match (activation.as_unary(), out) {
        (Some(op), Some(out)) => Ok(Some(unary::unary_backward(op, out, out, grad)?)),
        _ => Ok(None),
    }
}

/// The sums of each of the `columns` columns of the (rows, columns) matrix `m`: a bias gradient.
pub(crate) fn column_sums(m: &GpuStorage, rows: usize, columns: usize) -> Result<GpuStorage> {
    reduce::reduce(ReduceOp::Sum, m, &Shape::new([rows, columns]), &Shape::new([1, columns]))
}
