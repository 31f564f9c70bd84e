//! The op set every backend implements on its own storage type.

use std::ops::Range;

use super::{
    Activation, AxisSplit, BatchNormConfig, BinaryOp, Conv2dGeometry, MatmulDims, RecurrentCell, ReduceOp,
    Rows, UnaryOp, UpdateRule, Window,
};
use crate::cpu::CpuStorage;
use crate::{DType, Result, Shape};

/// The gradients of a fused product with respect to its input, its kernel and its bias: each
/// `None` where it was not asked for (or there is no bias).
pub(crate) type Gradients3<S> = (Option<S>, Option<S>, Option<S>);

/// One tensor an optimizer step updates in place: the parameter, its gradient, and its state
/// slots in the order [`UpdateRule::slots`] names them.
pub(crate) struct UpdateItem<'a, S> {
    pub(crate) param: &'a mut S,
    pub(crate) grad: &'a S,
    pub(crate) slots: Vec<&'a mut S>,
}

/// A backend's storage: the data of one tensor, and every kernel the op layer can ask of it.
///
/// The op layer has checked shapes, dtypes and devices before it calls any of these, and
/// describes every operand's layout (contiguous, row-major) with the descriptors of
/// [`crate::backend`]. A backend answers with new storage, never aliasing its inputs, except
/// for [`BackendStorage::assign`] and [`BackendStorage::update`], which write in place.
pub(crate) trait BackendStorage: Sized {
    /// What making new storage needs: nothing on the CPU, the opened adapter on a GPU.
    type Device;

    // Creation and transfer.

    /// `len` copies of `value`.
    fn full(device: &Self::Device, len: usize, value: f64, dtype: DType) -> Result<Self>;
    /// `start + step * i` for `i` in `0..len`.
    fn ramp(device: &Self::Device, len: usize, start: f64, step: f64, dtype: DType) -> Result<Self>;
    /// Uniform samples in `[low, high)`: element `i` is `rng::uniform(seed, i)` scaled.
    fn uniform(device: &Self::Device, len: u32, low: f64, high: f64, seed: u64, dtype: DType)
    -> Result<Self>;
    /// Host data moved onto the device.
    fn upload(device: &Self::Device, data: CpuStorage) -> Result<Self>;
    /// The data copied to the host.
    fn download(&self) -> Result<CpuStorage>;
    fn dtype(&self) -> DType;
    /// A copy converted to `dtype`.
    fn cast(&self, dtype: DType) -> Result<Self>;
    /// Overwrites this storage's elements with `src`'s (same length and dtype).
    fn assign(&mut self, src: &Self) -> Result<()>;

    // Elementwise.

    fn unary(&self, op: UnaryOp) -> Result<Self>;
    /// `grad` times the derivative of `op` at `self`, whose output was `out`: the op's backward.
    fn unary_backward(&self, op: UnaryOp, out: &Self, grad: &Self) -> Result<Self>;
    /// `op(self, rhs)` broadcast from `shape` and `rhs_shape` to `out` (NumPy rules).
    fn binary(&self, op: BinaryOp, shape: &Shape, rhs: &Self, rhs_shape: &Shape, out: &Shape)
    -> Result<Self>;
    /// `self` (of `shape`) repeated along broadcast axes to fill `target`, each value times
    /// `scale`.
    fn expand(&self, shape: &Shape, target: &Shape, scale: f64) -> Result<Self>;

    // Reductions and rows.

    /// Reduces `self` (of `shape`) to the keep-dims shape `kept` (1 on every reduced axis).
    fn reduce(&self, op: ReduceOp, shape: &Shape, kept: &Shape) -> Result<Self>;
    /// Softmax (or, with `log`, log-softmax) along the axis `split` describes.
    fn softmax(&self, split: AxisSplit, log: bool) -> Result<Self>;
    /// The index of each row's first maximum (NaN counts as the maximum, as in NumPy).
    fn argmax(&self, rows: Rows) -> Result<Self>;
    /// One cross-entropy of `softmax(self)` per row, against dense labels or class ids.
    fn cross_entropy(&self, labels: &Self, rows: Rows, sparse: bool) -> Result<Self>;
    /// The gradient of [`BackendStorage::cross_entropy`] with respect to the logits `self`,
    /// given each row's loss gradient `grad`.
    fn cross_entropy_backward(&self, labels: &Self, grad: &Self, rows: Rows, sparse: bool) -> Result<Self>;

    // Layout.

    /// `self` (of `shape`) with its axes reordered: output axis `i` is input axis `axes[i]`.
    fn permute(&self, shape: &Shape, axes: &[usize]) -> Result<Self>;
    /// The elements `window` covers: a slice.
    fn read_window(&self, window: Window) -> Result<Self>;
    /// `numel` zeros with each part written into its window (concatenation, padding).
    fn assemble(device: &Self::Device, parts: &[(&Self, Window)], numel: usize, dtype: DType)
    -> Result<Self>;
    /// The rows `indices` (rows of `row_len` elements), in that order.
    fn gather_rows(&self, row_len: usize, indices: &[usize]) -> Result<Self>;
    /// `rows` zero rows into whose row `indices[k]` row `k` of `self` is added.
    fn scatter_add_rows(&self, row_len: usize, indices: &[usize], rows: usize) -> Result<Self>;

    // Products.

    fn matmul(&self, rhs: &Self, dims: &MatmulDims) -> Result<Self>;
    /// `activation(self · kernel + bias)`, the bias (n,) added to every row of the (m, n) product.
    fn affine(
        &self,
        kernel: &Self,
        bias: Option<&Self>,
        activation: Activation,
        dims: &MatmulDims,
    ) -> Result<Self>;
    /// The gradients of [`BackendStorage::affine`] with respect to `self`, `kernel` and the bias,
    /// as `needs` asks, given the gradient `grad` of its output `out` (which an activation other
    /// than the identity needs).
    #[allow(clippy::too_many_arguments)]
    fn affine_backward(
        &self,
        kernel: &Self,
        out: Option<&Self>,
        grad: &Self,
        activation: Activation,
        dims: &MatmulDims,
        needs: [bool; 3],
    ) -> Result<Gradients3<Self>>;
    /// The windows of images `images` of the NHWC batch `self` as the rows of a matrix.
    fn im2col(&self, g: &Conv2dGeometry, images: Range<usize>) -> Result<Self>;
    /// The adjoint of im2col: the rows of `images` images added back onto their pixels.
    fn col2im(&self, g: &Conv2dGeometry, images: usize) -> Result<Self>;
    /// `activation(conv2d(self, kernel) + bias)` for `batch` NHWC images; `kernel` is the
    /// (KH * KW * C, F) matrix.
    fn conv2d(
        &self,
        kernel: &Self,
        bias: Option<&Self>,
        activation: Activation,
        g: &Conv2dGeometry,
        batch: usize,
    ) -> Result<Self>;
    /// The gradients of [`BackendStorage::conv2d`], as [`BackendStorage::affine_backward`]
    /// gives those of a product.
    #[allow(clippy::too_many_arguments)]
    fn conv2d_backward(
        &self,
        kernel: &Self,
        out: Option<&Self>,
        grad: &Self,
        activation: Activation,
        g: &Conv2dGeometry,
        batch: usize,
        needs: [bool; 3],
    ) -> Result<Gradients3<Self>>;

    /// The depthwise convolution of `batch` NHWC images with a (KH, KW, C, `multiplier`)
    /// kernel: output channel `c * multiplier + m` is channel c under its kernel m.
    fn depthwise_conv2d(
        &self,
        kernel: &Self,
        g: &Conv2dGeometry,
        multiplier: usize,
        batch: usize,
    ) -> Result<Self>;
    /// The gradients of [`BackendStorage::depthwise_conv2d`] with respect to the images `self`
    /// and the kernel, as `needs` asks, given the output gradient `grad`.
    fn depthwise_conv2d_backward(
        &self,
        kernel: &Self,
        grad: &Self,
        g: &Conv2dGeometry,
        multiplier: usize,
        batch: usize,
        needs: [bool; 2],
    ) -> Result<(Option<Self>, Option<Self>)>;

    // Pooling.

    /// The maximum of each window, and which tap of the window won it (`ky * window_w + kx`).
    fn max_pool(&self, g: &Conv2dGeometry, batch: usize) -> Result<(Self, Self)>;
    /// Routes the output gradient `self` to the taps that won.
    fn max_pool_backward(&self, taps: &Self, g: &Conv2dGeometry, batch: usize) -> Result<Self>;
    fn avg_pool(&self, g: &Conv2dGeometry, batch: usize) -> Result<Self>;
    /// Shares the output gradient `self` between the pixels each window covers.
    fn avg_pool_backward(&self, g: &Conv2dGeometry, batch: usize) -> Result<Self>;

    // Normalization.

    /// The normalized output and the per-channel batch mean and biased variance.
    fn batch_norm_train(&self, gamma: &Self, beta: &Self, p: BatchNormConfig) -> Result<(Self, Self, Self)>;
    /// The gradients with respect to `self`, gamma and beta given the output's gradient.
    fn batch_norm_backward(
        &self,
        gamma: &Self,
        mean: &Self,
        var: &Self,
        grad: &Self,
        p: BatchNormConfig,
    ) -> Result<(Self, Self, Self)>;

    // Recurrent cells.

    /// One LSTM step: from the gates' pre-activations `self` (rows, 4 * units) and the previous
    /// cell state (rows, units), the new `[h | c]` (rows, 2 * units).
    fn lstm_cell(&self, c_prev: &Self, cell: RecurrentCell) -> Result<Self>;
    /// The gradients of [`BackendStorage::lstm_cell`] with respect to the gates and the previous
    /// cell state, given the gradient `grad` of its output `out`.
    fn lstm_cell_backward(
        &self,
        c_prev: &Self,
        out: &Self,
        grad: &Self,
        cell: RecurrentCell,
    ) -> Result<(Self, Self)>;
    /// One GRU step (`reset_after`): from the input's projections `self` (rows, 3 * units), the
    /// previous state's projections `inner` (the same) and the previous state (rows, units), the
    /// new state.
    fn gru_cell(&self, inner: &Self, h_prev: &Self, cell: RecurrentCell) -> Result<Self>;
    /// The gradients of [`BackendStorage::gru_cell`] with respect to its three operands, given
    /// the gradient `grad` of its output.
    fn gru_cell_backward(
        &self,
        inner: &Self,
        h_prev: &Self,
        grad: &Self,
        cell: RecurrentCell,
    ) -> Result<(Self, Self, Self)>;

    // Optimizers.

    /// One step of `rule` on every item, in place.
    fn update(rule: &UpdateRule, items: &mut [UpdateItem<'_, Self>]) -> Result<()>;
}
