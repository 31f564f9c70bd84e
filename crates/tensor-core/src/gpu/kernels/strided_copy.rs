//! Launcher for `shaders/strided_copy.wgsl`: the one data-movement kernel behind permute,
//! broadcast, slice, concat and padding.

use super::{MAX_RANK, WORKGROUP, fill, index, pack};
use crate::cpu::layout::Window;
use crate::gpu::GpuDevice;
use crate::gpu::pipelines::{KernelSpec, kernel};
use crate::gpu::storage::GpuStorage;
use crate::{Result, Shape};

const SPEC: KernelSpec = kernel!("strided_copy.wgsl", "main", [Read, ReadWrite]);

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    rank: u32,
    src_offset: u32,
    dst_offset: u32,
    dims: [u32; MAX_RANK],
    src_strides: [u32; MAX_RANK],
    dst_strides: [u32; MAX_RANK],
}

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
/// src[index · src.strides + src.offset]`. Only the range each side spans is bound; a walk
/// spanning more than one binding allows is split along its outer axes.
pub(crate) fn strided_copy(dims: &[usize], src: View<'_>, dst: View<'_>) -> Result<()> {
    if dims.contains(&0) {
        return Ok(());
    }
    let device = &src.storage.device;
    let align = (device.ctx.limits.min_storage_buffer_offset_alignment as usize / 4).max(1);
    // A window starts up to `align - 1` elements early (see GpuStorage::window).
    let fits = device.max_binding_bytes() as usize / 4 - align;
    let (src_span, dst_span) = (span(dims, src.strides), span(dims, dst.strides));
    if src_span <= fits && dst_span <= fits {
        return launch(dims, &src, src_span, &dst, dst_span);
    }
    let (outer, inner) = (dims[0], &dims[1..]);
    let (src_rest, dst_rest) = (&src.strides[1..], &dst.strides[1..]);
    if outer == 1 {
        return strided_copy(inner, View { strides: src_rest, ..src }, View { strides: dst_rest, ..dst });
    }
    let half = outer / 2;
    for (start, len) in [(0, half), (half, outer - half)] {
        let mut piece = dims.to_vec();
        piece[0] = len;
        strided_copy(
            &piece,
            View { offset: src.offset + start * src.strides[0], ..src },
            View { offset: dst.offset + start * dst.strides[0], ..dst },
        )?;
    }
    Ok(())
}

/// One dispatch over `dims`, each side bound to the window its walk spans.
fn launch(dims: &[usize], src: &View<'_>, src_span: usize, dst: &View<'_>, dst_span: usize) -> Result<()> {
    let n: usize = dims.iter().product();
    let (src_binding, src_skew) = src.storage.window(src.offset, src_span);
    let (dst_binding, dst_skew) = dst.storage.window(dst.offset, dst_span);
    let name = "strided_copy";
    let params = Params {
        n: index(name, n)?,
        rank: dims.len() as u32,
        src_offset: index(name, src_skew)?,
        dst_offset: index(name, dst_skew)?,
        dims: pack(name, dims)?,
        src_strides: pack(name, src.strides)?,
        dst_strides: pack(name, dst.strides)?,
    };
    let ctx = &src.storage.device.ctx;
    ctx.dispatch(
        &SPEC,
        bytemuck::bytes_of(&params),
        &[src_binding, dst_binding],
        ctx.linear_groups(n, WORKGROUP),
    )
}

/// `x` (of `shape`) repeated along broadcast axes to fill `target`.
pub(crate) fn expand(x: &GpuStorage, shape: &Shape, target: &Shape) -> Result<GpuStorage> {
    let out = GpuStorage::empty(&x.device, target.numel())?;
    strided_copy(
        target.dims(),
        View { storage: x, offset: 0, strides: &shape.broadcast_strides(target) },
        View { storage: &out, offset: 0, strides: &target.strides() },
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
    )?;
    Ok(out)
}

/// Strides of a (outer, len, inner) walk over a tensor split around one axis.
fn axis_strides(window: &Window) -> [usize; 3] {
    [window.wide.len * window.wide.inner, window.wide.inner, 1]
}

/// The range `window.start..window.start + window.len` along the split axis of `x`.
pub(crate) fn read_window(x: &GpuStorage, window: Window) -> Result<GpuStorage> {
    let dims = [window.wide.outer, window.len, window.wide.inner];
    let out = GpuStorage::empty(&x.device, dims.iter().product())?;
    strided_copy(
        &dims,
        View { storage: x, offset: window.start * window.wide.inner, strides: &axis_strides(&window) },
        View { storage: &out, offset: 0, strides: &Shape::new(dims).strides() },
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
        let dims = [window.wide.outer, window.len, window.wide.inner];
        strided_copy(
            &dims,
            View { storage: part, offset: 0, strides: &Shape::new(dims).strides() },
            View { storage: &out, offset: window.start * window.wide.inner, strides: &axis_strides(window) },
        )?;
    }
    Ok(out)
}
