//! Launchers for `shaders/im2col.wgsl` and `shaders/col2im.wgsl`, and what they share with the
//! pooling kernels: the geometry's parameter block and the chunking of a batch by images.

use std::ops::Range;

use super::{WORKGROUP, index};
use crate::gpu::GpuDevice;
use crate::gpu::context::Binding;
use crate::gpu::pipelines::{KernelSpec, kernel};
use crate::gpu::storage::GpuStorage;
use crate::{Conv2dGeometry, Error, Result};

const IM2COL: KernelSpec = kernel!("im2col.wgsl", "main", [Read, ReadWrite]);
const COL2IM: KernelSpec = kernel!("col2im.wgsl", "main", [Read, ReadWrite]);

/// The parameter block of the window kernels (im2col, col2im, pooling): the geometry, the
/// number of elements one dispatch writes, and where the chunk's first element sits in the
/// windows bound for reading (`src_offset`) and writing (`dst_offset`).
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
pub(super) struct Params {
    n: u32,
    in_h: u32,
    in_w: u32,
    channels: u32,
    window_h: u32,
    window_w: u32,
    stride_h: u32,
    stride_w: u32,
    out_h: u32,
    out_w: u32,
    pad_top: u32,
    pad_left: u32,
    src_offset: u32,
    dst_offset: u32,
    pad: [u32; 2],
}

impl Params {
    /// The block for `g`, before a dispatch fills in its size and offsets.
    pub(super) fn new(op: &'static str, g: &Conv2dGeometry) -> Result<Params> {
        Ok(Params {
            n: 0,
            in_h: index(op, g.in_h)?,
            in_w: index(op, g.in_w)?,
            channels: index(op, g.channels)?,
            window_h: index(op, g.window_h)?,
            window_w: index(op, g.window_w)?,
            stride_h: index(op, g.stride_h)?,
            stride_w: index(op, g.stride_w)?,
            out_h: index(op, g.out_h)?,
            out_w: index(op, g.out_w)?,
            pad_top: index(op, g.pad_top)?,
            pad_left: index(op, g.pad_left)?,
            src_offset: 0,
            dst_offset: 0,
            pad: [0; 2],
        })
    }

    /// Records `spec` writing `n` elements, the chunk starting `src_offset` and `dst_offset`
    /// elements into the windows `bindings`. The values fit u32: they are within one binding.
    pub(super) fn dispatch(
        mut self,
        spec: &KernelSpec,
        device: &GpuDevice,
        n: usize,
        (src_offset, dst_offset): (usize, usize),
        bindings: &[Binding<'_>],
    ) -> Result<()> {
        self.n = n as u32;
        self.src_offset = src_offset as u32;
        self.dst_offset = dst_offset as u32;
        let ctx = &device.ctx;
        ctx.dispatch(spec, bytemuck::bytes_of(&self), bindings, ctx.linear_groups(n, WORKGROUP))
    }
}

/// The most images one dispatch may take so that every binding fits the adapter's storage
/// binding limit, given the elements each binding holds per image (`per_image`, named for the
/// error). A binding at an unaligned offset starts up to one alignment early, so that much room
/// is kept. One image too large for a binding cannot be split: that is an error.
pub(crate) fn images_per_dispatch(
    device: &GpuDevice,
    op: &'static str,
    per_image: &[(&str, usize)],
) -> Result<usize> {
    let limits = &device.ctx.limits;
    let align = (limits.min_storage_buffer_offset_alignment as usize / 4).max(1);
    let room = (limits.max_storage_buffer_binding_size as usize / 4).saturating_sub(align - 1);
    let mut most = usize::MAX;
    for &(what, len) in per_image {
        if len > room {
            return Err(Error::Limit(format!(
                "{op}: the {what} of one image is {len} f32 ({:.1} MiB), more than one binding of this \
                 adapter can hold (max_storage_buffer_binding_size {} MiB); use smaller images or fewer \
                 channels",
                len as f64 * 4.0 / (1u64 << 20) as f64,
                limits.max_storage_buffer_binding_size >> 20
            )));
        }
        if let Some(fit) = room.checked_div(len) {
            most = most.min(fit);
        }
    }
    Ok(most)
}

/// Splits `images` into consecutive chunks of at most [`images_per_dispatch`] images and calls
/// `run` on each.
pub(super) fn for_each_image_chunk(
    device: &GpuDevice,
    op: &'static str,
    per_image: &[(&str, usize)],
    images: Range<usize>,
    mut run: impl FnMut(Range<usize>) -> Result<()>,
) -> Result<()> {
    let most = images_per_dispatch(device, op, per_image)?;
    let mut start = images.start;
    while start < images.end {
        let end = start + most.min(images.end - start);
        run(start..end)?;
        start = end;
    }
    Ok(())
}

/// im2col of the images `images` of the NHWC batch `x`: a new (images * OH * OW, KH * KW * C)
/// matrix.
pub(crate) fn im2col(x: &GpuStorage, g: &Conv2dGeometry, images: Range<usize>) -> Result<GpuStorage> {
    let (image_len, rows_len) = (g.image_len(), g.out_h * g.out_w * g.patch_len());
    let cols = GpuStorage::empty(&x.device, images.len() * rows_len)?;
    let params = Params::new("im2col", g)?;
    let per_image = [("image", image_len), ("im2col matrix", rows_len)];
    for_each_image_chunk(&x.device, "im2col", &per_image, images.clone(), |chunk| {
        let (src, src_skew) = x.window(chunk.start * image_len, chunk.len() * image_len);
        let (dst, dst_skew) = cols.window((chunk.start - images.start) * rows_len, chunk.len() * rows_len);
        params.dispatch(&IM2COL, &x.device, chunk.len() * rows_len, (src_skew, dst_skew), &[src, dst])
    })?;
    Ok(cols)
}

/// col2im of `cols`, the im2col rows of `images.len()` images, written over the images `images`
/// of the NHWC batch `out` (the rest of `out` is left as it is).
pub(crate) fn col2im_into(
    cols: &GpuStorage,
    g: &Conv2dGeometry,
    out: &GpuStorage,
    images: Range<usize>,
) -> Result<()> {
    let (image_len, rows_len) = (g.image_len(), g.out_h * g.out_w * g.patch_len());
    let params = Params::new("col2im", g)?;
    let per_image = [("image", image_len), ("im2col matrix", rows_len)];
    for_each_image_chunk(&cols.device, "col2im", &per_image, images.clone(), |chunk| {
        let (src, src_skew) = cols.window((chunk.start - images.start) * rows_len, chunk.len() * rows_len);
        let (dst, dst_skew) = out.window(chunk.start * image_len, chunk.len() * image_len);
        params.dispatch(&COL2IM, &cols.device, chunk.len() * image_len, (src_skew, dst_skew), &[src, dst])
    })
}

/// col2im of `cols`, the im2col rows of `images` images, as a new NHWC batch.
pub(crate) fn col2im(cols: &GpuStorage, g: &Conv2dGeometry, images: usize) -> Result<GpuStorage> {
    let out = GpuStorage::empty(&cols.device, images * g.image_len())?;
    col2im_into(cols, g, &out, 0..images)?;
    Ok(out)
}
