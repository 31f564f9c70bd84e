//! The parameter block every window kernel (im2col, col2im, pooling) shares, `WindowParams` of
//! `shaders/lib/window.wgsl`.

use super::{DATA_LOOP_ITERATIONS, WORKGROUP, index};
use crate::backend::Conv2dGeometry;
use crate::gpu::GpuDevice;
use crate::gpu::context::Binding;
use crate::gpu::kernel::{KernelSpec, kernel_params};
use crate::{Error, Result};

kernel_params! {
    /// A window's geometry, the number of elements one dispatch writes, and where the chunk's
    /// first element sits in the windows bound for reading (`src_offset`) and writing
    /// (`dst_offset`).
    struct WindowParams {
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
        _pad0: u32,
        _pad1: u32,
    }
}

/// The (rows, columns) of taps an invocation walks over one window.
pub(super) fn window_taps(g: &Conv2dGeometry) -> (usize, usize) {
    (g.window_h, g.window_w)
}

/// The (rows, columns) of windows an invocation walks over the windows covering one pixel.
pub(super) fn windows_covering(g: &Conv2dGeometry) -> (usize, usize) {
    (g.window_h.div_ceil(g.stride_h.max(1)), g.window_w.div_ceil(g.stride_w.max(1)))
}

/// The loop iterations of a walk over `rows` by `columns` places doing `inner` iterations at
/// each: each place costs its inner loop (one iteration when there is none), and each row one
/// more for the loop over rows.
pub(super) fn walk(rows: usize, columns: usize, inner: usize) -> usize {
    rows.saturating_mul(columns).saturating_mul(inner).saturating_add(rows)
}

impl WindowParams {
    /// The block for `g`, before a dispatch fills in its size and offsets. Fails when an
    /// invocation walking one window (pooling) or the windows covering one pixel (pooling's
    /// gradient, col2im) would loop past [`DATA_LOOP_ITERATIONS`]: windows that large are
    /// global reductions, which `mean` and `max` over the spatial axes compute at any size.
    pub(super) fn new(op: &'static str, g: &Conv2dGeometry) -> Result<WindowParams> {
        let [taps, covering] =
            [window_taps(g), windows_covering(g)].map(|(rows, columns)| walk(rows, columns, 1));
        if taps.max(covering) > DATA_LOOP_ITERATIONS {
            return Err(Error::Limit(format!(
                "{op}: a {}x{} window with strides {}x{} makes GPU kernels loop over {} taps per output, \
                 more than the {DATA_LOOP_ITERATIONS} any driver is trusted to run; reduce over the spatial \
                 axes instead (a global pooling)",
                g.window_h,
                g.window_w,
                g.stride_h,
                g.stride_w,
                taps.max(covering)
            )));
        }
        Ok(WindowParams {
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
            ..WindowParams::default()
        })
    }

    /// Records `spec` writing `n` elements, the chunk starting `src_offset` and `dst_offset`
    /// elements into the windows `bindings`. The values fit u32: they are within one binding.
    pub(super) fn dispatch(
        self,
        spec: &'static KernelSpec<WindowParams>,
        device: &GpuDevice,
        n: usize,
        offsets: (usize, usize),
        bindings: &[Binding<'_>],
    ) -> Result<()> {
        self.dispatch_per_invocation(spec, device, (n, 1), offsets, bindings)
    }

    /// [`WindowParams::dispatch`] for a kernel whose invocations each write `per_invocation`
    /// consecutive elements (a divisor of `n`).
    pub(super) fn dispatch_per_invocation(
        mut self,
        spec: &'static KernelSpec<WindowParams>,
        device: &GpuDevice,
        (n, per_invocation): (usize, usize),
        (src_offset, dst_offset): (usize, usize),
        bindings: &[Binding<'_>],
    ) -> Result<()> {
        self.n = n as u32;
        self.src_offset = src_offset as u32;
        self.dst_offset = dst_offset as u32;
        let ctx = &device.ctx;
        ctx.dispatch(spec, &[], &self, bindings, ctx.linear_groups(n / per_invocation, WORKGROUP))
    }
}
