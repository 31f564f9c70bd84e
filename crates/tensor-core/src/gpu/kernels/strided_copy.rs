//! Launcher for `shaders/strided_copy.wgsl`: the one data-movement kernel behind permute,
//! broadcast, slice, concat and padding.

use super::{Axes, WORKGROUP, fill, index, pack};
use crate::backend::Window;
use crate::gpu::GpuDevice;
use crate::gpu::kernel::{INDEX, kernel, kernel_params};
use crate::gpu::storage::GpuStorage;
use crate::{Result, Shape};

kernel_params! {
    struct StridedCopyParams {
        n: u32,
        rank: u32,
        src_offset: u32,
        dst_offset: u32,
        scale: f32,
        _pad0: u32,
        _pad1: u32,
        _pad2: u32,
        dims: Axes,
        src_strides: Axes,
        dst_strides: Axes,
    }
}

kernel!(STRIDED_COPY = "strided_copy.wgsl", "main", StridedCopyParams, [Read, ReadWrite], [INDEX]);

#[cfg(test)]
pub(crate) static KERNELS: &[&crate::gpu::kernel::Kernel] = &[&STRIDED_COPY.kernel];

/// One side of a strided copy: a buffer, where the walk starts, and its strides per axis.
#[derive(Clone, Copy)]
pub(crate) struct View<'a> {
    pub storage: &'a GpuStorage,
    pub offset: usize,
    pub strides: &'a [usize],
}

/// How many elements a walk over `dims` through `strides` spans, from its first to its last.
fn span(dims: &[usize], strides: &[usize]) -> usize {
    dims.iter().zip(strides).map(|(&d, &s)| (d - 1) * s).sum::<usize>() + 1
}

/// For every index of `dims` (row-major), `dst[index · dst.strides + dst.offset] =
/// src[index · src.strides + src.offset] * scale`. Only the range each side spans is bound; a
/// walk spanning more than one binding allows is split along its outer axes.
pub(crate) fn strided_copy(dims: &[usize], src: View<'_>, dst: View<'_>, scale: f32) -> Result<()> {
    if dims.contains(&0) {
        return Ok(());
    }
    let device = &src.storage.device;
    // A window starts up to one alignment early (see GpuStorage::window).
    let fits = device.max_binding_bytes() as usize / 4 - device.ctx.offset_alignment();
    let (src_span, dst_span) = (span(dims, src.strides), span(dims, dst.strides));
    if src_span <= fits && dst_span <= fits {
        return launch(dims, &src, src_span, &dst, dst_span, scale);
    }
    let (outer, inner) = (dims[0], &dims[1..]);
    let (src_rest, dst_rest) = (&src.strides[1..], &dst.strides[1..]);
    if outer == 1 {
        return strided_copy(
            inner,
            View { strides: src_rest, ..src },
            View { strides: dst_rest, ..dst },
            scale,
        );
    }
    let half = outer / 2;
    for (start, len) in [(0, half), (half, outer - half)] {
        let mut piece = dims.to_vec();
        piece[0] = len;
        strided_copy(
            &piece,
            View { offset: src.offset + start * src.strides[0], ..src },
            View { offset: dst.offset + start * dst.strides[0], ..dst },
            scale,
        )?;
    }
    Ok(())
}

/// One dispatch over `dims`, each side bound to the window its walk spans.
fn launch(
    dims: &[usize],
    src: &View<'_>,
    src_span: usize,
    dst: &View<'_>,
    dst_span: usize,
    scale: f32,
) -> Result<()> {
    let n: usize = dims.iter().product();
    let (src_binding, src_skew) = src.storage.window(src.offset, src_span);
    let (dst_binding, dst_skew) = dst.storage.window(dst.offset, dst_span);
    let name = "strided_copy";
    let params = StridedCopyParams {
        n: index(name, n)?,
        rank: dims.len() as u32,
        src_offset: index(name, src_skew)?,
        dst_offset: index(name, dst_skew)?,
        scale,
        dims: pack(name, dims)?,
        src_strides: pack(name, src.strides)?,
        dst_strides: pack(name, dst.strides)?,
        ..StridedCopyParams::default()
    };
    let ctx = &src.storage.device.ctx;
    ctx.dispatch(&STRIDED_COPY, &[], &params, &[src_binding, dst_binding], ctx.linear_groups(n, WORKGROUP))
}

/// `x` (of `shape`) repeated along broadcast axes to fill `target`, times `scale`.
pub(crate) fn expand(x: &GpuStorage, shape: &Shape, target: &Shape, scale: f64) -> Result<GpuStorage> {
    let out = GpuStorage::empty(&x.device, target.numel())?;
    strided_copy(
        target.dims(),
        View { storage: x, offset: 0, strides: &shape.broadcast_strides(target) },
        View { storage: &out, offset: 0, strides: &target.strides() },
        scale as f32,
    )?;
    Ok(out)
}

/// `x` (of `shape`) with its axes reordered by `axes` (output axis i is input axis axes[i]).
pub(crate) fn permute(x: &GpuStorage, shape: &Shape, axes: &[usize]) -> Result<GpuStorage> {
    let strides = shape.strides();
    let dims: Vec<usize> = axes.iter().map(|&a| shape.dim(a)).collect();
    let src_strides: Vec<usize> = axes.iter().map(|&a| strides[a]).collect();
    let out = GpuStorage::empty(&x.device, x.len)?;
    strided_copy(
        &dims,
        View { storage: x, offset: 0, strides: &src_strides },
        View { storage: &out, offset: 0, strides: &Shape::new(dims.clone()).strides() },
        1.0,
    )?;
    Ok(out)
}

/// The range `window.start..window.start + window.len` along the split axis of `x`.
pub(crate) fn read_window(x: &GpuStorage, window: Window) -> Result<GpuStorage> {
    let dims = window.dims();
    let out = GpuStorage::empty(&x.device, dims.iter().product())?;
    strided_copy(
        &dims,
        View { storage: x, offset: window.start * window.wide.inner, strides: &window.wide_strides() },
        View { storage: &out, offset: 0, strides: &Shape::new(dims).strides() },
        1.0,
    )?;
    Ok(out)
}

/// A tensor of `numel` zeros with each part written into its window (concat and padding).
pub(crate) fn assemble(
    device: &GpuDevice,
    parts: &[(&GpuStorage, Window)],
    numel: usize,
) -> Result<GpuStorage> {
    let out = fill::fill(device, numel, 0.0)?;
    for (part, window) in parts {
        let dims = window.dims();
        strided_copy(
            &dims,
            View { storage: part, offset: 0, strides: &Shape::new(dims).strides() },
            View { storage: &out, offset: window.start * window.wide.inner, strides: &window.wide_strides() },
            1.0,
        )?;
    }
    Ok(out)
}
