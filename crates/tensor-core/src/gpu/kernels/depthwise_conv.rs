//! Launchers for `shaders/depthwise_conv.wgsl`: depthwise convolution, its input gradient, and
//! its kernel gradient as per-segment partial sums added up by the sum reduction. A batch whose
//! images, outputs or partial sums exceed the adapter's storage binding limit runs in chunks of
//! as many images as fit.

use super::window::{WindowParams, walk, windows_covering};
use super::{DATA_LOOP_ITERATIONS, WORKGROUP, for_each_image_chunk, index, reduce};
use crate::backend::{Conv2dGeometry, ReduceOp};
use crate::gpu::GpuDevice;
use crate::gpu::context::Binding;
use crate::gpu::kernel::{INDEX, KernelSpec, WINDOW, kernel, kernel_params};
use crate::gpu::storage::GpuStorage;
use crate::{Error, Result, Shape};

kernel_params! {
    /// A window's geometry with the kernels per channel, the number of elements one dispatch
    /// writes, where the chunk starts in each binding, and the kernel gradient's segments.
    struct DepthwiseParams {
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
        grad_offset: u32,
        dst_offset: u32,
        multiplier: u32,
        segment_len: u32,
        segments: u32,
        _pad0: u32,
        _pad1: u32,
    }
}

kernel!(
    FORWARD = "depthwise_conv.wgsl",
    "forward",
    DepthwiseParams,
    [Read, Read, ReadWrite],
    [INDEX, WINDOW]
);
kernel!(
    INPUT_GRADIENT = "depthwise_conv.wgsl",
    "input_gradient",
    DepthwiseParams,
    [Read, Read, ReadWrite],
    [INDEX, WINDOW]
);
kernel!(
    KERNEL_PARTIALS = "depthwise_conv.wgsl",
    "kernel_partials",
    DepthwiseParams,
    [Read, Read, ReadWrite],
    [INDEX, WINDOW]
);

kernel!(
    FORWARD_VEC4 = "depthwise_conv.wgsl",
    "forward_vec4",
    DepthwiseParams,
    [Read, Read, ReadWrite],
    [INDEX, WINDOW]
);
kernel!(
    INPUT_GRADIENT_VEC4 = "depthwise_conv.wgsl",
    "input_gradient_vec4",
    DepthwiseParams,
    [Read, Read, ReadWrite],
    [INDEX, WINDOW]
);

#[cfg(test)]
pub(crate) static KERNELS: &[&crate::gpu::kernel::Kernel] = &[
    &FORWARD.kernel,
    &INPUT_GRADIENT.kernel,
    &KERNEL_PARTIALS.kernel,
    &FORWARD_VEC4.kernel,
    &INPUT_GRADIENT_VEC4.kernel,
];

const OP: &str = "depthwise_conv2d";

/// Output positions one invocation of the kernel gradient sums over: well inside
/// [`DATA_LOOP_ITERATIONS`], and short enough that a batch of large images still gives the
/// adapter many invocations per kernel element.
const SEGMENT_LEN: usize = 1024;

impl DepthwiseParams {
    /// The block for `g` and `multiplier` kernels per channel. Fails where an invocation of the
    /// input gradient, walking the windows covering a pixel and each window's `multiplier`
    /// kernels, would loop past [`DATA_LOOP_ITERATIONS`] (the forward pass's walk over a window
    /// is checked by [`WindowParams::new`]).
    fn new(g: &Conv2dGeometry, multiplier: usize) -> Result<DepthwiseParams> {
        let w = WindowParams::new(OP, g)?;
        let (rows, columns) = windows_covering(g);
        let covering = walk(rows, columns, multiplier.saturating_add(1));
        if covering > DATA_LOOP_ITERATIONS {
            return Err(Error::Limit(format!(
                "{OP}: {multiplier} kernels per channel under a {}x{} window with strides {}x{} make \
                 the GPU input gradient loop {covering} times per pixel, more than the \
                 {DATA_LOOP_ITERATIONS} any driver is trusted to run; use fewer kernels per channel",
                g.window_h, g.window_w, g.stride_h, g.stride_w
            )));
        }
        Ok(DepthwiseParams {
            in_h: w.in_h,
            in_w: w.in_w,
            channels: w.channels,
            window_h: w.window_h,
            window_w: w.window_w,
            stride_h: w.stride_h,
            stride_w: w.stride_w,
            out_h: w.out_h,
            out_w: w.out_w,
            pad_top: w.pad_top,
            pad_left: w.pad_left,
            multiplier: index(OP, multiplier)?,
            segment_len: SEGMENT_LEN as u32,
            segments: index(OP, segments(g))?,
            ..DepthwiseParams::default()
        })
    }

    /// Records `spec` writing `n` elements, each chunk starting `offsets` (source, gradient,
    /// destination) elements into its binding. The values fit u32: they are within one binding.
    fn dispatch(
        self,
        spec: &'static KernelSpec<DepthwiseParams>,
        device: &GpuDevice,
        n: usize,
        offsets: (usize, usize, usize),
        bindings: &[Binding<'_>],
    ) -> Result<()> {
        self.dispatch_per_invocation(spec, device, (n, 1), offsets, bindings)
    }

    /// Records the `_vec4` variant of `specs` where one kernel per channel (so output channel c
    /// is input channel c) and whole vectors of channels at `skews` allow it, the scalar kernel
    /// elsewhere.
    fn dispatch_vectors_where_whole(
        self,
        (spec, vec4_spec): (&'static KernelSpec<DepthwiseParams>, &'static KernelSpec<DepthwiseParams>),
        device: &GpuDevice,
        n: usize,
        (src_skew, dst_skew): (usize, usize),
        bindings: &[Binding<'_>],
    ) -> Result<()> {
        let offsets = (src_skew, 0, dst_skew);
        let whole = [self.channels as usize, src_skew, dst_skew].iter().all(|v| v.is_multiple_of(4));
        if self.multiplier == 1 && whole {
            self.dispatch_per_invocation(vec4_spec, device, (n, 4), offsets, bindings)
        } else {
            self.dispatch(spec, device, n, offsets, bindings)
        }
    }

    /// [`DepthwiseParams::dispatch`] for a kernel whose invocations each write `per_invocation`
    /// consecutive elements (a divisor of `n`).
    fn dispatch_per_invocation(
        mut self,
        spec: &'static KernelSpec<DepthwiseParams>,
        device: &GpuDevice,
        (n, per_invocation): (usize, usize),
        (src_offset, grad_offset, dst_offset): (usize, usize, usize),
        bindings: &[Binding<'_>],
    ) -> Result<()> {
        self.n = n as u32;
        self.src_offset = src_offset as u32;
        self.grad_offset = grad_offset as u32;
        self.dst_offset = dst_offset as u32;
        let ctx = &device.ctx;
        ctx.dispatch(spec, &[], &self, bindings, ctx.linear_groups(n / per_invocation, WORKGROUP))
    }
}

/// Segments of [`SEGMENT_LEN`] output positions per image in the kernel gradient.
fn segments(g: &Conv2dGeometry) -> usize {
    g.positions().div_ceil(SEGMENT_LEN).max(1)
}

/// The depthwise convolution of `batch` NHWC images `x` with a (KH, KW, C, `multiplier`)
/// kernel.
pub(crate) fn depthwise_conv2d(
    x: &GpuStorage,
    kernel: &GpuStorage,
    g: &Conv2dGeometry,
    multiplier: usize,
    batch: usize,
) -> Result<GpuStorage> {
    let (image_len, out_len) = (g.image_len(), g.positions() * g.channels * multiplier);
    let out = GpuStorage::empty(&x.device, batch * out_len)?;
    let params = DepthwiseParams::new(g, multiplier)?;
    let per_image = [("image", image_len), ("output", out_len)];
    for_each_image_chunk(&x.device, OP, &per_image, 0..batch, |chunk| {
        let (src, src_skew) = x.window(chunk.start * image_len, chunk.len() * image_len);
        let (dst, dst_skew) = out.window(chunk.start * out_len, chunk.len() * out_len);
        let n = chunk.len() * out_len;
        let (specs, bindings) = ((&FORWARD, &FORWARD_VEC4), [src, kernel.binding(), dst]);
        params.dispatch_vectors_where_whole(specs, &x.device, n, (src_skew, dst_skew), &bindings)
    })?;
    Ok(out)
}

/// The gradients of [`depthwise_conv2d`] with respect to the images `x` and the kernel, as
/// `needs` asks, given the output gradient `grad`.
pub(crate) fn depthwise_conv2d_backward(
    x: &GpuStorage,
    kernel: &GpuStorage,
    grad: &GpuStorage,
    g: &Conv2dGeometry,
    multiplier: usize,
    batch: usize,
    needs: [bool; 2],
) -> Result<(Option<GpuStorage>, Option<GpuStorage>)> {
    let params = DepthwiseParams::new(g, multiplier)?;
    let dx = needs[0].then(|| input_gradient(&params, kernel, grad, g, multiplier, batch)).transpose()?;
    let dkernel = needs[1].then(|| kernel_gradient(&params, x, grad, g, multiplier, batch)).transpose()?;
    Ok((dx, dkernel))
}

/// The images' gradient: each pixel gathers the gradients of the windows covering it.
fn input_gradient(
    params: &DepthwiseParams,
    kernel: &GpuStorage,
    grad: &GpuStorage,
    g: &Conv2dGeometry,
    multiplier: usize,
    batch: usize,
) -> Result<GpuStorage> {
    let (image_len, out_len) = (g.image_len(), g.positions() * g.channels * multiplier);
    let dx = GpuStorage::empty(&grad.device, batch * image_len)?;
    let per_image = [("image", image_len), ("output gradient", out_len)];
    for_each_image_chunk(&grad.device, OP, &per_image, 0..batch, |chunk| {
        let (src, src_skew) = grad.window(chunk.start * out_len, chunk.len() * out_len);
        let (dst, dst_skew) = dx.window(chunk.start * image_len, chunk.len() * image_len);
        let n = chunk.len() * image_len;
        let (specs, bindings) = ((&INPUT_GRADIENT, &INPUT_GRADIENT_VEC4), [src, kernel.binding(), dst]);
        params.dispatch_vectors_where_whole(specs, &grad.device, n, (src_skew, dst_skew), &bindings)
    })?;
    Ok(dx)
}

/// The kernel's gradient, a sum over every output position of the batch: one row of partial
/// sums per segment of each image, then their sum.
fn kernel_gradient(
    params: &DepthwiseParams,
    x: &GpuStorage,
    grad: &GpuStorage,
    g: &Conv2dGeometry,
    multiplier: usize,
    batch: usize,
) -> Result<GpuStorage> {
    let out_len = g.positions() * g.channels * multiplier;
    let kernel_len = g.window_h * g.window_w * g.channels * multiplier;
    let (image_len, partials_len) = (g.image_len(), segments(g) * kernel_len);
    let partials = GpuStorage::empty(&x.device, batch * partials_len)?;
    let per_image =
        [("image", image_len), ("output gradient", out_len), ("kernel partial sums", partials_len)];
    for_each_image_chunk(&x.device, OP, &per_image, 0..batch, |chunk| {
        let (src, src_skew) = x.window(chunk.start * image_len, chunk.len() * image_len);
        let (gradients, grad_skew) = grad.window(chunk.start * out_len, chunk.len() * out_len);
        let (dst, dst_skew) = partials.window(chunk.start * partials_len, chunk.len() * partials_len);
        let n = chunk.len() * partials_len;
        params.dispatch(
            &KERNEL_PARTIALS,
            &x.device,
            n,
            (src_skew, grad_skew, dst_skew),
            &[src, gradients, dst],
        )
    })?;
    let rows = batch * segments(g);
    reduce::reduce(ReduceOp::Sum, &partials, &Shape::new([rows, kernel_len]), &Shape::new([1, kernel_len]))
}
