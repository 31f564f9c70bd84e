//! Launchers for `shaders/pool.wgsl`: max and average pooling and their gradients.

use super::for_each_image_chunk;
use super::window::WindowParams;
use crate::Result;
use crate::backend::Conv2dGeometry;
use crate::gpu::kernel::{INDEX, KernelSpec, WINDOW, kernel};
use crate::gpu::storage::GpuStorage;

kernel!(MAX_POOL = "pool.wgsl", "max_pool", WindowParams, [Read, ReadWrite, ReadWrite], [INDEX, WINDOW]);
kernel!(
    MAX_POOL_BACKWARD = "pool.wgsl",
    "max_pool_backward",
    WindowParams,
    [Read, ReadWrite, Read],
    [INDEX, WINDOW]
);
kernel!(AVG_POOL = "pool.wgsl", "avg_pool", WindowParams, [Read, ReadWrite], [INDEX, WINDOW]);
kernel!(
    AVG_POOL_BACKWARD = "pool.wgsl",
    "avg_pool_backward",
    WindowParams,
    [Read, ReadWrite],
    [INDEX, WINDOW]
);

kernel!(
    MAX_POOL_VEC4 = "pool.wgsl",
    "max_pool_vec4",
    WindowParams,
    [Read, ReadWrite, ReadWrite],
    [INDEX, WINDOW]
);
kernel!(
    MAX_POOL_BACKWARD_VEC4 = "pool.wgsl",
    "max_pool_backward_vec4",
    WindowParams,
    [Read, ReadWrite, Read],
    [INDEX, WINDOW]
);
kernel!(
    MAX_POOL_BACKWARD_SCATTER_VEC4 = "pool.wgsl",
    "max_pool_backward_scatter_vec4",
    WindowParams,
    [Read, ReadWrite, Read],
    [INDEX, WINDOW]
);

#[cfg(test)]
pub(crate) static KERNELS: &[&crate::gpu::kernel::Kernel] = &[
    &MAX_POOL.kernel,
    &MAX_POOL_BACKWARD.kernel,
    &AVG_POOL.kernel,
    &AVG_POOL_BACKWARD.kernel,
    &MAX_POOL_VEC4.kernel,
    &MAX_POOL_BACKWARD_VEC4.kernel,
    &MAX_POOL_BACKWARD_SCATTER_VEC4.kernel,
];

/// Which way a pooling kernel runs: from the images to the pooled output, or back — gathering
/// into each image element, or (the four-channel kernel only) scattering from each output.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Forward,
    Backward,
    Scatter,
}

/// Records `spec` over `batch` images in chunks that fit the binding limit: `src` is read and
/// `dst` written, images on one side and pooled outputs on the other; `taps`, laid out like the
/// pooled side, is bound third, at the same offsets as that side. `vec4_spec`, where given, runs
/// instead on chunks whose channels and offsets are whole vectors (`spec` gathers even when
/// `direction` scatters).
fn launch(
    (spec, vec4_spec): (&'static KernelSpec<WindowParams>, Option<&'static KernelSpec<WindowParams>>),
    op: &'static str,
    g: &Conv2dGeometry,
    batch: usize,
    direction: Direction,
    (src, dst): (&GpuStorage, &GpuStorage),
    taps: Option<&GpuStorage>,
) -> Result<()> {
    let (image_len, pooled_len) = (g.image_len(), g.positions() * g.channels);
    let (src_len, dst_len) = match direction {
        Direction::Forward => (image_len, pooled_len),
        Direction::Backward | Direction::Scatter => (pooled_len, image_len),
    };
    let params = WindowParams::new(op, g)?;
    let per_image = [("image", image_len), ("pooled output", pooled_len)];
    for_each_image_chunk(&src.device, op, &per_image, 0..batch, |chunk| {
        let (src_window, src_skew) = src.window(chunk.start * src_len, chunk.len() * src_len);
        let (dst_window, dst_skew) = dst.window(chunk.start * dst_len, chunk.len() * dst_len);
        let mut bindings = vec![src_window, dst_window];
        // Same start and length as the pooled side, so the same skew.
        bindings.extend(taps.map(|t| t.window(chunk.start * pooled_len, chunk.len() * pooled_len).0));
        let n = chunk.len() * dst_len;
        let vectors = [g.channels, src_skew, dst_skew].iter().all(|n| n.is_multiple_of(4));
        // A scattering kernel's invocations cover the pooled outputs it reads.
        let elements = if direction == Direction::Scatter { chunk.len() * src_len } else { n };
        match vec4_spec {
            Some(vec4_spec) if vectors => params.dispatch_per_invocation(
                vec4_spec,
                &src.device,
                (elements, 4),
                (src_skew, dst_skew),
                &bindings,
            ),
            _ => params.dispatch(spec, &src.device, n, (src_skew, dst_skew), &bindings),
        }
    })
}

/// Max pooling of `batch` NHWC images: the pooled batch and, per output, the tap of its window
/// that won (`ky * window_w + kx`, a u32 in the element's 4 bytes).
pub(crate) fn max_pool(x: &GpuStorage, g: &Conv2dGeometry, batch: usize) -> Result<(GpuStorage, GpuStorage)> {
    let len = batch * g.positions() * g.channels;
    let out = GpuStorage::empty(&x.device, len)?;
    let taps = GpuStorage::empty(&x.device, len)?;
    launch(
        (&MAX_POOL, Some(&MAX_POOL_VEC4)),
        "max_pool2d",
        g,
        batch,
        Direction::Forward,
        (x, &out),
        Some(&taps),
    )?;
    Ok((out, taps))
}

/// The gradient of max pooling: each input element sums the output gradients it won.
pub(crate) fn max_pool_backward(
    grad: &GpuStorage,
    taps: &GpuStorage,
    g: &Conv2dGeometry,
    batch: usize,
) -> Result<GpuStorage> {
    let len = batch * g.image_len();
    // Windows that do not overlap scatter; the inputs they leave uncovered (strides past the
    // window, rows and columns past the last window) are zeroed first.
    let (direction, vec4_spec) = if g.stride_h >= g.window_h && g.stride_w >= g.window_w {
        (Direction::Scatter, &MAX_POOL_BACKWARD_SCATTER_VEC4)
    } else {
        (Direction::Backward, &MAX_POOL_BACKWARD_VEC4)
    };
    let covered = g.stride_h == g.window_h
        && g.stride_w == g.window_w
        && g.pad_top + g.in_h <= g.out_h * g.stride_h
        && g.pad_left + g.in_w <= g.out_w * g.stride_w;
    let dx = if direction == Direction::Scatter && !covered {
        super::fill::fill(&grad.device, len, 0.0)?
    } else {
        GpuStorage::empty(&grad.device, len)?
    };
    launch(
        (&MAX_POOL_BACKWARD, Some(vec4_spec)),
        "max_pool2d",
        g,
        batch,
        direction,
        (grad, &dx),
        Some(taps),
    )?;
    Ok(dx)
}

/// Average pooling of `batch` NHWC images over the pixels each window covers.
pub(crate) fn avg_pool(x: &GpuStorage, g: &Conv2dGeometry, batch: usize) -> Result<GpuStorage> {
    let out = GpuStorage::empty(&x.device, batch * g.positions() * g.channels)?;
    launch((&AVG_POOL, None), "avg_pool2d", g, batch, Direction::Forward, (x, &out), None)?;
    Ok(out)
}

/// The gradient of average pooling: each input element sums its windows' output gradients,
/// each divided by the number of pixels its window covers.
pub(crate) fn avg_pool_backward(grad: &GpuStorage, g: &Conv2dGeometry, batch: usize) -> Result<GpuStorage> {
    let dx = GpuStorage::empty(&grad.device, batch * g.image_len())?;
    launch((&AVG_POOL_BACKWARD, None), "avg_pool2d", g, batch, Direction::Backward, (grad, &dx), None)?;
    Ok(dx)
}
