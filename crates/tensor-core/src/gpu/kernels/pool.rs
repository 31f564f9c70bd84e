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

/// Which way a pooling kernel runs: from the images to the pooled output, or back.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Forward,
    Backward,
}

/// Records `spec` over `batch` images in chunks that fit the binding limit: `src` is read and
/// `dst` written, images on one side and pooled outputs on the other; `taps`, laid out like the
/// pooled side, is bound third, at the same offsets as that side. `vec4_spec`, where given, runs
/// instead on chunks whose channels and offsets are whole vectors.
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
        Direction::Backward => (pooled_len, image_len),
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
        match vec4_spec {
            Some(vec4_spec) if vectors => params.dispatch_per_invocation(
                vec4_spec,
                &src.device,
                (n, 4),
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
    if g.stride_h >= g.window_h && g.stride_w >= g.window_w && g.channels.is_multiple_of(4) {
        return max_pool_backward_scatter(grad, taps, g, batch);
    }
    let dx = GpuStorage::empty(&grad.device, batch * g.image_len())?;
    launch(
        (&MAX_POOL_BACKWARD, Some(&MAX_POOL_BACKWARD_VEC4)),
        "max_pool2d",
        g,
        batch,
        Direction::Backward,
        (grad, &dx),
        Some(taps),
    )?;
    Ok(dx)
}

/// [`max_pool_backward`] for windows that do not overlap: each output writes its window, after
/// a zero fill where the windows leave inputs uncovered (strides past the window, or rows and
/// columns past the last window).
fn max_pool_backward_scatter(
    grad: &GpuStorage,
    taps: &GpuStorage,
    g: &Conv2dGeometry,
    batch: usize,
) -> Result<GpuStorage> {
    let device = &grad.device;
    let len = batch * g.image_len();
    let covered = g.stride_h == g.window_h
        && g.stride_w == g.window_w
        && g.pad_top + g.in_h <= g.out_h * g.stride_h
        && g.pad_left + g.in_w <= g.out_w * g.stride_w;
    let dx = if covered { GpuStorage::empty(device, len)? } else { super::fill::fill(device, len, 0.0)? };
    let (image_len, pooled_len) = (g.image_len(), g.positions() * g.channels);
    let params = WindowParams::new("max_pool2d", g)?;
    let per_image = [("image", image_len), ("pooled output", pooled_len)];
    for_each_image_chunk(device, "max_pool2d", &per_image, 0..batch, |chunk| {
        let (grad_window, grad_skew) = grad.window(chunk.start * pooled_len, chunk.len() * pooled_len);
        let (dx_window, dx_skew) = dx.window(chunk.start * image_len, chunk.len() * image_len);
        let taps_window = taps.window(chunk.start * pooled_len, chunk.len() * pooled_len).0;
        let bindings = [grad_window, dx_window, taps_window];
        let n = chunk.len() * pooled_len;
        if grad_skew.is_multiple_of(4) && dx_skew.is_multiple_of(4) {
            params.dispatch_per_invocation(
                &MAX_POOL_BACKWARD_SCATTER_VEC4,
                device,
                (n, 4),
                (grad_skew, dx_skew),
                &bindings,
            )
        } else {
            // A chunk whose windows are not whole vectors: the gather form, writing every
            // element of its images.
            params.dispatch(
                &MAX_POOL_BACKWARD,
                device,
                chunk.len() * image_len,
                (grad_skew, dx_skew),
                &bindings,
            )
        }
    })?;
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
