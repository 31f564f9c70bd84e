//! The layouts ops describe to backends: a batched matrix product's sizes, a sliding window's
//! geometry, a tensor split around one axis, rows of logits, batch-normalization's channels, a
//! recurrent cell's gates.
//! Computed once by the op layer, after its shape checks, and read by every backend.

use super::Activation;
use crate::{Error, Result, Shape};

/// The sizes and layout of `C = op(A) · op(B)` over a batch, where `op(A)` is (m, k) and `op(B)`
/// is (k, n). A transposed operand is stored the other way round and read through swapped
/// strides, so no transpose is ever materialized.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct MatmulDims {
    pub batch: usize,
    pub m: usize,
    pub k: usize,
    pub n: usize,
    /// A is stored (k, m).
    pub transpose_lhs: bool,
    /// B is stored (n, k).
    pub transpose_rhs: bool,
    /// A is one matrix shared by every batch entry.
    pub broadcast_lhs: bool,
    /// B is one matrix shared by every batch entry.
    pub broadcast_rhs: bool,
}

impl MatmulDims {
    /// One (m, k) by (k, n) product, neither operand transposed.
    pub(crate) fn plain(m: usize, k: usize, n: usize) -> MatmulDims {
        MatmulDims {
            batch: 1,
            m,
            k,
            n,
            transpose_lhs: false,
            transpose_rhs: false,
            broadcast_lhs: false,
            broadcast_rhs: false,
        }
    }
}

/// How a sliding window treats the borders of its input, as Keras's `padding` argument.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Padding {
    /// No padding: windows stay inside the input, so the output shrinks (Keras's default).
    #[default]
    Valid,
    /// Zeros around the input so the output has `ceil(input / stride)` positions; an odd amount
    /// puts the extra row or column after (bottom, right), as TensorFlow does.
    Same,
}

/// Where the windows of a convolution or pooling land on one image: input and window sizes,
/// strides, the output size and the padding on each side, computed once by Keras's arithmetic.
/// Always consistent, because it can only be built through [`Conv2dGeometry::new`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Conv2dGeometry {
    pub(crate) in_h: usize,
    pub(crate) in_w: usize,
    pub(crate) channels: usize,
    pub(crate) window_h: usize,
    pub(crate) window_w: usize,
    pub(crate) stride_h: usize,
    pub(crate) stride_w: usize,
    pub(crate) out_h: usize,
    pub(crate) out_w: usize,
    pub(crate) pad_top: usize,
    pub(crate) pad_bottom: usize,
    pub(crate) pad_left: usize,
    pub(crate) pad_right: usize,
}

/// Output size and padding (before, after) along one axis.
fn axis(
    op: &'static str,
    name: &str,
    input: usize,
    window: usize,
    stride: usize,
    padding: Padding,
) -> Result<(usize, usize, usize)> {
    match padding {
        Padding::Valid if input < window => Err(Error::shape(
            op,
            format!(
                "a window of {window} does not fit an input {name} of {input} with `valid` padding; \
                 use `same` padding or a smaller window"
            ),
        )),
        Padding::Valid => Ok(((input - window) / stride + 1, 0, 0)),
        Padding::Same => {
            let out = input.div_ceil(stride);
            let total = ((out - 1) * stride + window).saturating_sub(input);
            Ok((out, total / 2, total - total / 2))
        }
    }
}

/// Along one axis, the window offsets that land inside the input, with the input index each
/// reads; `start` is the window's first position in padded coordinates.
fn axis_taps(start: usize, pad: usize, window: usize, size: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..window).filter_map(move |k| (start + k).checked_sub(pad).filter(|&i| i < size).map(|i| (k, i)))
}

impl Conv2dGeometry {
    /// All zeros: what a kernel's parameter block holds for a product that is not a
    /// convolution (never used as a geometry).
    pub(crate) const EMPTY: Conv2dGeometry = Conv2dGeometry {
        in_h: 0,
        in_w: 0,
        channels: 0,
        window_h: 0,
        window_w: 0,
        stride_h: 0,
        stride_w: 0,
        out_h: 0,
        out_w: 0,
        pad_top: 0,
        pad_bottom: 0,
        pad_left: 0,
        pad_right: 0,
    };

    /// The geometry of a `window` sliding over images of `input_hwc` = [height, width,
    /// channels] with `strides` (rows, columns) and `padding`.
    pub fn new(
        input_hwc: [usize; 3],
        window: (usize, usize),
        strides: (usize, usize),
        padding: Padding,
    ) -> Result<Self> {
        Self::resolve("Conv2dGeometry", input_hwc, window, strides, padding)
    }

    /// [`Conv2dGeometry::new`], naming `op` in errors.
    pub(crate) fn resolve(
        op: &'static str,
        [in_h, in_w, channels]: [usize; 3],
        (window_h, window_w): (usize, usize),
        (stride_h, stride_w): (usize, usize),
        padding: Padding,
    ) -> Result<Self> {
        if window_h == 0 || window_w == 0 {
            return Err(Error::argument(op, format!("window {window_h}x{window_w} must be at least 1x1")));
        }
        if stride_h == 0 || stride_w == 0 {
            return Err(Error::argument(op, format!("strides ({stride_h}, {stride_w}) must be at least 1")));
        }
        if in_h == 0 || in_w == 0 {
            return Err(Error::shape(op, format!("input images of {in_h}x{in_w} pixels are empty")));
        }
        let (out_h, pad_top, pad_bottom) = axis(op, "height", in_h, window_h, stride_h, padding)?;
        let (out_w, pad_left, pad_right) = axis(op, "width", in_w, window_w, stride_w, padding)?;
        Ok(Conv2dGeometry {
            in_h,
            in_w,
            channels,
            window_h,
            window_w,
            stride_h,
            stride_w,
            out_h,
            out_w,
            pad_top,
            pad_bottom,
            pad_left,
            pad_right,
        })
    }

    /// The geometry of the convolution that a transposed convolution of `filters` outputs
    /// inverts: the transposed convolution's (height, width) inputs are this geometry's outputs,
    /// and its outputs this geometry's images, of Keras's sizes — `n * stride` with `same`
    /// padding, `n * stride + max(window - stride, 0)` with `valid` (rows past the last window
    /// stay zero).
    pub fn transposed(
        [in_h, in_w]: [usize; 2],
        filters: usize,
        window: (usize, usize),
        strides: (usize, usize),
        padding: Padding,
    ) -> Result<Self> {
        Self::resolve_transposed("conv2d_transpose", [in_h, in_w], filters, window, strides, padding)
    }

    /// [`Conv2dGeometry::transposed`], naming `op` in errors.
    pub(crate) fn resolve_transposed(
        op: &'static str,
        [in_h, in_w]: [usize; 2],
        filters: usize,
        window: (usize, usize),
        strides: (usize, usize),
        padding: Padding,
    ) -> Result<Self> {
        let size = |n: usize, k: usize, s: usize| -> Result<usize> {
            let grown = match padding {
                Padding::Same => n.checked_mul(s),
                Padding::Valid => n.checked_mul(s).and_then(|v| v.checked_add(k.saturating_sub(s))),
            };
            grown.ok_or_else(|| {
                Error::shape(op, format!("{n} pixels with stride {s} overflow the output size"))
            })
        };
        let out_h = size(in_h, window.0, strides.0)?;
        let out_w = size(in_w, window.1, strides.1)?;
        let g = Self::resolve(op, [out_h, out_w, filters], window, strides, padding)?;
        if g.output_size() != (in_h, in_w) {
            return Err(Error::shape(
                op,
                format!(
                    "inputs of {in_h}x{in_w} pixels do not invert a {}x{} window with strides {strides:?}",
                    window.0, window.1
                ),
            ));
        }
        Ok(g)
    }

    /// Input (height, width): a transposed convolution's output size.
    pub fn input_size(&self) -> (usize, usize) {
        (self.in_h, self.in_w)
    }

    /// Output (height, width).
    pub fn output_size(&self) -> (usize, usize) {
        (self.out_h, self.out_w)
    }

    /// Padding as ((top, bottom), (left, right)).
    pub fn pads(&self) -> ((usize, usize), (usize, usize)) {
        ((self.pad_top, self.pad_bottom), (self.pad_left, self.pad_right))
    }

    /// Elements of one input image.
    pub(crate) fn image_len(&self) -> usize {
        self.in_h * self.in_w * self.channels
    }

    /// Output positions of one image.
    pub(crate) fn positions(&self) -> usize {
        self.out_h * self.out_w
    }

    /// Elements of one window across all channels: one im2col row.
    pub(crate) fn patch_len(&self) -> usize {
        self.window_h * self.window_w * self.channels
    }

    /// Every output position of `images` images, (image, row, column) in row-major order.
    pub(crate) fn windows(&self, images: usize) -> impl Iterator<Item = (usize, usize, usize)> + use<> {
        let (out_h, out_w) = (self.out_h, self.out_w);
        (0..images).flat_map(move |n| (0..out_h).flat_map(move |y| (0..out_w).map(move |x| (n, y, x))))
    }

    /// The taps of the window at output (`oy`, `ox`) that land inside the image, as (offset in
    /// the window, `ky * window_w + kx`; pixel read, `iy * in_w + ix`). Padding taps are left
    /// out: they read zero (convolution), never win (max) and are not counted (average).
    /// Keras's arithmetic never gives a window that is all padding.
    pub(crate) fn taps(&self, oy: usize, ox: usize) -> impl Iterator<Item = (usize, usize)> + use<> {
        let g = *self;
        axis_taps(oy * g.stride_h, g.pad_top, g.window_h, g.in_h).flat_map(move |(ky, iy)| {
            axis_taps(ox * g.stride_w, g.pad_left, g.window_w, g.in_w)
                .map(move |(kx, ix)| (ky * g.window_w + kx, iy * g.in_w + ix))
        })
    }

    /// The shape of `batch` input images.
    pub(crate) fn input_shape(&self, batch: usize) -> Shape {
        Shape::new([batch, self.in_h, self.in_w, self.channels])
    }

    /// The shape of `batch` outputs with `channels` channels each.
    pub(crate) fn output_shape(&self, batch: usize, channels: usize) -> Shape {
        Shape::new([batch, self.out_h, self.out_w, channels])
    }
}

/// A row-major tensor seen as (outer, len, inner) around one axis: the layout that every kernel
/// working along a single axis walks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AxisSplit {
    /// Product of the dimensions before the axis.
    pub(crate) outer: usize,
    /// Size of the axis.
    pub(crate) len: usize,
    /// Product of the dimensions after the axis.
    pub(crate) inner: usize,
}

impl AxisSplit {
    /// `shape` split around `axis` (already resolved against its rank).
    pub(crate) fn new(shape: &Shape, axis: usize) -> AxisSplit {
        let dims = shape.dims();
        AxisSplit {
            outer: dims[..axis].iter().product(),
            len: dims[axis],
            inner: dims[axis + 1..].iter().product(),
        }
    }
}

/// Positions `start..start + len` along the split axis of a wider tensor: where a slice is read
/// from, or where a narrower tensor is written to when padding or concatenating.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Window {
    pub(crate) wide: AxisSplit,
    pub(crate) start: usize,
    pub(crate) len: usize,
}

impl Window {
    /// The contiguous run of the wide buffer that the window covers at outer position `o`, as
    /// (first offset, length).
    pub(crate) fn run(self, o: usize) -> (usize, usize) {
        ((o * self.wide.len + self.start) * self.wide.inner, self.len * self.wide.inner)
    }

    /// Strides of the (outer, len, inner) walk over the wide tensor.
    pub(crate) fn wide_strides(self) -> [usize; 3] {
        [self.wide.len * self.wide.inner, self.wide.inner, 1]
    }

    /// The (outer, len, inner) dimensions of the window.
    pub(crate) fn dims(self) -> [usize; 3] {
        [self.wide.outer, self.len, self.wide.inner]
    }
}

/// Logits laid out as `rows` samples of `classes` scores each, row-major.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Rows {
    pub(crate) rows: usize,
    pub(crate) classes: usize,
}

/// What batch normalization needs besides the data: the input seen as (outer, channels, inner)
/// around the channel axis, and the epsilon added to the variance.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct BatchNormConfig {
    pub(crate) split: AxisSplit,
    pub(crate) epsilon: f64,
}

/// A fused recurrent cell step over `rows` sequences of `units` state values. Each row packs its
/// gates side by side in Keras's order (LSTM: i, f, c, o; GRU: z, r, h), `units` values each;
/// `activation` makes the candidate (and LSTM's output from its cell state), and
/// `recurrent_activation` the gates. `reset_after` (GRU only) says whether the reset gate scales
/// the state's projection inside the cell (Keras's `reset_after=True`) or was applied to the
/// state before its projection, outside it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct RecurrentCell {
    pub(crate) rows: usize,
    pub(crate) units: usize,
    pub(crate) activation: Activation,
    pub(crate) recurrent_activation: Activation,
    pub(crate) reset_after: bool,
}
