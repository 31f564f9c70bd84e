//! Launchers for `shaders/pool.wgsl`: max and average pooling and their gradients.

use super::conv::{Params, for_each_image_chunk};
use crate::gpu::GpuDevice;
use crate::gpu::pipelines::{KernelSpec, kernel};
use crate::gpu::storage::GpuStorage;
use crate::{Conv2dGeometry, Result};

const MAX_POOL: KernelSpec = kernel!("pool.wgsl", "max_pool", [Read, ReadWrite, ReadWrite]);
const MAX_POOL_BACKWARD: KernelSpec = kernel!("pool.wgsl", "max_pool_backward", [Read, ReadWrite, Read]);
const AVG_POOL: KernelSpec = kernel!("pool.wgsl", "avg_pool", [Read, ReadWrite]);
const AVG_POOL_BACKWARD: KernelSpec = kernel!("pool.wgsl", "avg_pool_backward", [Read, ReadWrite]);

/// Which tap of its window won each max-pooling output (`ky * window_w + kx`), laid out like the
/// pooled output: what the gradient needs to route each output's gradient back. The elements
/// are u32, in the 4-byte slots of a pooled buffer; this wrapper keeps them from being read as a
/// tensor.
pub(crate) struct WinningTaps(GpuStorage);

impl WinningTaps {
    pub(crate) fn device(&self) -> &GpuDevice {
        &self.0.device
    }
}

/// Which way a pooling kernel runs: from the images to the pooled output, or back.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Forward,
    Backward,
}

/// Records `spec` over `batch` images in chunks that fit the binding limit: `src` is read and
/// `dst` written, images on one side and pooled outputs on the other; `taps`, laid out like the
/// pooled side, is bound third, at the same offsets as that side.
fn launch(
    spec: &KernelSpec,
    op: &'static str,
    g: &Conv2dGeometry,
    batch: usize,
    direction: Direction,
    (src, dst): (&GpuStorage, &GpuStorage),
    taps: Option<&GpuStorage>,
) -> Result<()> {
    let (image_len, pooled_len) = (g.image_len(), g.out_h * g.out_w * g.channels);
    let (src_len, dst_len) = match direction {
        Direction::Forward => (image_len, pooled_len),
        Direction::Backward => (pooled_len, image_len),
    };
    let params = Params::new(op, g)?;
    let per_image = [("image", image_len), ("pooled output", pooled_len)];
    for_each_image_chunk(&src.device, op, &per_image, 0..batch, |chunk| {
        let (src_window, src_skew) = src.window(chunk.start * src_len, chunk.len() * src_len);
        let (dst_window, dst_skew) = dst.window(chunk.start * dst_len, chunk.len() * dst_len);
        let mut bindings = vec![src_window, dst_window];
        // Same start and length as the pooled side, so the same skew.
        bindings.extend(taps.map(|t| t.window(chunk.start * pooled_len, chunk.len() * pooled_len).0));
        params.dispatch(spec, &src.device, chunk.len() * dst_len, (src_skew, dst_skew), &bindings)
    })
}

/// Max pooling of `batch` NHWC images: the pooled batch and the winning taps.
pub(crate) fn max_pool(
    x: &GpuStorage,
    g: &Conv2dGeometry,
    batch: usize,
) -> Result<(GpuStorage, WinningTaps)> {
    let len = batch * g.out_h * g.out_w * g.channels;
    let out = GpuStorage::empty(&x.device, len)?;
    let taps = GpuStorage::empty(&x.device, len)?;
    launch(&MAX_POOL, "max_pool2d", g, batch, Direction::Forward, (x, &out), Some(&taps))?;
    Ok((out, WinningTaps(taps)))
}

/// The gradient of max pooling: each input element sums the output gradients it won.
pub(crate) fn max_pool_backward(
    grad: &GpuStorage,
    taps: &WinningTaps,
    g: &Conv2dGeometry,
    batch: usize,
) -> Result<GpuStorage> {
    let dx = GpuStorage::empty(&grad.device, batch * g.image_len())?;
    launch(&MAX_POOL_BACKWARD, "max_pool2d", g, batch, Direction::Backward, (grad, &dx), Some(&taps.0))?;
    Ok(dx)
}

/// Average pooling of `batch` NHWC images over the pixels each window covers.
pub(crate) fn avg_pool(x: &GpuStorage, g: &Conv2dGeometry, batch: usize) -> Result<GpuStorage> {
    let out = GpuStorage::empty(&x.device, batch * g.out_h * g.out_w * g.channels)?;
    launch(&AVG_POOL, "avg_pool2d", g, batch, Direction::Forward, (x, &out), None)?;
    Ok(out)
}

/// The gradient of average pooling: each input element sums its windows' output gradients,
/// each divided by the number of pixels its window covers.
pub(crate) fn avg_pool_backward(grad: &GpuStorage, g: &Conv2dGeometry, batch: usize) -> Result<GpuStorage> {
    let dx = GpuStorage::empty(&grad.device, batch * g.image_len())?;
    launch(&AVG_POOL_BACKWARD, "avg_pool2d", g, batch, Direction::Backward, (grad, &dx), None)?;
    Ok(dx)
}
