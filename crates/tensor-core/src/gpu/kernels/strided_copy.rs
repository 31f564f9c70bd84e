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
pub(crate) struct View<'a> {
    pub storage: &'a GpuStorage,
    pub offset: usize,
    pub strides: &'a [usize],
}

/// For every index of `dims` (row-major), `dst[index · dst.strides + dst.offset] =
/// src[index · src.strides + src.offset]`.
pub(crate) fn strided_copy(dims: &[usize], src: View<'_>, dst: View<'_>) -> Result<()> {
    let n: usize = dims.iter().product();
    let name = "strided_copy";
    let params = Params {
        n: n as u32,
        rank: dims.len() as u32,
        src_offset: index(name, src.offset)?,
        dst_offset: index(name, dst.offset)?,
        dims: pack(name, dims)?,
        src_strides: pack(name, src.strides)?,
        dst_strides: pack(name, dst.strides)?,
    };
    let ctx = &src.storage.device.ctx;
    ctx.dispatch(
        &SPEC,
        bytemuck::bytes_of(&params),
        &[src.storage.binding(), dst.storage.binding()],
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
