//! The backend-specific memory behind a tensor, and the one place that picks a backend: every op
//! of [`BackendStorage`] is dispatched here by the storage of its operands (or, to make new
//! storage, by the device), and nowhere else in tensor-core matches on a backend.

use std::ops::Range;

use crate::backend::{
    Activation, AxisSplit, BackendStorage, BatchNormConfig, BinaryOp, Conv2dGeometry, Gradients3, MatmulDims,
    RecurrentCell, ReduceOp, Rows, UnaryOp, UpdateItem, UpdateRule, Window,
};
use crate::cpu::CpuStorage;
use crate::gpu::storage::GpuStorage;
use crate::{DType, Device, Error, Result, Shape};

/// A tensor's data on its device.
#[derive(Debug)]
pub(crate) enum Storage {
    Cpu(CpuStorage),
    Gpu(GpuStorage),
}

/// A backend's results, wrapped back into [`Storage`].
trait Lift {
    type Lifted;
    fn lift(self) -> Self::Lifted;
}

impl Lift for CpuStorage {
    type Lifted = Storage;
    fn lift(self) -> Storage {
        Storage::Cpu(self)
    }
}

impl Lift for GpuStorage {
    type Lifted = Storage;
    fn lift(self) -> Storage {
        Storage::Gpu(self)
    }
}

impl<A: Lift> Lift for Option<A> {
    type Lifted = Option<A::Lifted>;
    fn lift(self) -> Self::Lifted {
        self.map(Lift::lift)
    }
}

impl<A: Lift, B: Lift> Lift for (A, B) {
    type Lifted = (A::Lifted, B::Lifted);
    fn lift(self) -> Self::Lifted {
        (self.0.lift(), self.1.lift())
    }
}

impl<A: Lift, B: Lift, C: Lift> Lift for (A, B, C) {
    type Lifted = (A::Lifted, B::Lifted, C::Lifted);
    fn lift(self) -> Self::Lifted {
        (self.0.lift(), self.1.lift(), self.2.lift())
    }
}

/// Runs `$body` on the backend every operand lives on, each operand rebound (under its own
/// name) to that backend's storage, and lifts the result back into [`Storage`]. `$body` is
/// written once and compiled for each backend. Operands on different backends are an error
/// naming `$op`.
///
/// f16 is a storage type: where an operand is f16 and the backend has no f16 kernel for the op,
/// the f16 operands are widened to f32, the op runs in f32, and its results are rounded back to
/// f16 — what an f16 kernel does, reading f16, computing in f32 and rounding what it stores. The
/// CPU widens for every op; a GPU only for ops not marked `native_f16` (the products, whose
/// kernels read f16 themselves).
macro_rules! on_backend {
    (native_f16 $op:expr; $($s:ident),+ => $body:expr) => {
        on_backend!(@ $op, true; $($s),+ => $body)
    };
    ($op:expr; $($s:ident),+ => $body:expr) => {
        on_backend!(@ $op, false; $($s),+ => $body)
    };
    (@ $op:expr, $gpu_native:expr; $($s:ident),+ => $body:expr) => {
        match ($($s,)+) {
            ($(Storage::Cpu($s),)+) => {
                let widen = has_f16(&[$(BackendStorage::dtype($s)),+]);
                $(let $s = Operand::of($s, widen)?; let $s = &*$s;)+
                Narrow::narrow(Lift::lift($body?), widen)
            }
            ($(Storage::Gpu($s),)+) => {
                let widen = !$gpu_native && has_f16(&[$(BackendStorage::dtype($s)),+]);
                $(let $s = Operand::of($s, widen)?; let $s = &*$s;)+
                Narrow::narrow(Lift::lift($body?), widen)
            }
            // Unreachable with one operand, which lives on one device or the other.
            #[allow(unreachable_patterns)]
            _ => Err(mixed($op, &[$($s),+])),
        }
    };
}

fn has_f16(dtypes: &[DType]) -> bool {
    dtypes.contains(&DType::F16)
}

/// An operand as a backend's kernel takes it: itself, or a copy widened from f16 to f32.
enum Operand<'a, B> {
    Borrowed(&'a B),
    Widened(B),
}

impl<'a, B: BackendStorage> Operand<'a, B> {
    /// `s`, widened to f32 when `widen` is set and it holds f16.
    fn of(s: &'a B, widen: bool) -> Result<Self> {
        Ok(if widen && s.dtype() == DType::F16 {
            Operand::Widened(s.cast(DType::F32)?)
        } else {
            Operand::Borrowed(s)
        })
    }
}

impl<B> std::ops::Deref for Operand<'_, B> {
    type Target = B;
    fn deref(&self) -> &B {
        match self {
            Operand::Borrowed(s) => s,
            Operand::Widened(s) => s,
        }
    }
}

/// Results rounded back to f16 after an op ran widened (see [`on_backend!`]).
trait Narrow: Sized {
    fn narrow(self, widened: bool) -> Result<Self>;
}

impl Narrow for Storage {
    fn narrow(self, widened: bool) -> Result<Self> {
        if widened && self.dtype() == DType::F32 { self.cast(DType::F16) } else { Ok(self) }
    }
}

impl<A: Narrow> Narrow for Option<A> {
    fn narrow(self, widened: bool) -> Result<Self> {
        self.map(|a| a.narrow(widened)).transpose()
    }
}

impl<A: Narrow, B: Narrow> Narrow for (A, B) {
    fn narrow(self, widened: bool) -> Result<Self> {
        Ok((self.0.narrow(widened)?, self.1.narrow(widened)?))
    }
}

impl<A: Narrow, B: Narrow, C: Narrow> Narrow for (A, B, C) {
    fn narrow(self, widened: bool) -> Result<Self> {
        Ok((self.0.narrow(widened)?, self.1.narrow(widened)?, self.2.narrow(widened)?))
    }
}

/// Runs `$body` with `$B` naming the storage type of `$device`'s backend and `$d` bound to what
/// that backend makes storage with, and lifts the result into [`Storage`].
macro_rules! on_device {
    ($device:expr, $B:ident, $d:ident => $body:expr) => {
        match $device {
            Device::Cpu => {
                type $B = CpuStorage;
                let $d = &();
                Ok(Lift::lift($body?))
            }
            Device::Gpu(gpu) => {
                type $B = GpuStorage;
                let $d = gpu;
                Ok(Lift::lift($body?))
            }
        }
    };
}

/// The error for operands on different devices (ops check devices first; this keeps the
/// dispatch total).
fn mixed(op: &'static str, operands: &[&Storage]) -> Error {
    let devices: Vec<Device> = operands.iter().map(|s| s.device()).collect();
    let lhs = devices[0].clone();
    let rhs = devices.iter().find(|d| **d != lhs).cloned().unwrap_or_else(|| lhs.clone());
    Error::Device { op, lhs, rhs }
}

impl Storage {
    pub(crate) fn device(&self) -> Device {
        match self {
            Storage::Cpu(_) => Device::Cpu,
            Storage::Gpu(s) => Device::Gpu(s.device.clone()),
        }
    }

    pub(crate) fn dtype(&self) -> DType {
        match self {
            Storage::Cpu(s) => BackendStorage::dtype(s),
            Storage::Gpu(s) => BackendStorage::dtype(s),
        }
    }

    // Creation and transfer.

    pub(crate) fn full(device: &Device, len: usize, value: f64, dtype: DType) -> Result<Storage> {
        if dtype == DType::F16 {
            return Storage::full(device, len, value, DType::F32)?.cast(dtype);
        }
        on_device!(device, B, d => B::full(d, len, value, dtype))
    }

    pub(crate) fn ramp(device: &Device, len: usize, start: f64, step: f64, dtype: DType) -> Result<Storage> {
        if dtype == DType::F16 {
            return Storage::ramp(device, len, start, step, DType::F32)?.cast(dtype);
        }
        on_device!(device, B, d => B::ramp(d, len, start, step, dtype))
    }

    pub(crate) fn uniform(
        device: &Device,
        len: u32,
        low: f64,
        high: f64,
        seed: u64,
        dtype: DType,
    ) -> Result<Storage> {
        if dtype == DType::F16 {
            return Storage::uniform(device, len, low, high, seed, DType::F32)?.cast(dtype);
        }
        on_device!(device, B, d => B::uniform(d, len, low, high, seed, dtype))
    }

    /// Host data on `device`.
    pub(crate) fn upload(device: &Device, data: CpuStorage) -> Result<Storage> {
        on_device!(device, B, d => B::upload(d, data))
    }

    /// The data copied to the host.
    pub(crate) fn download(&self) -> Result<CpuStorage> {
        match self {
            Storage::Cpu(s) => s.download(),
            Storage::Gpu(s) => s.download(),
        }
    }

    /// A copy on `device`.
    pub(crate) fn to_device(&self, device: &Device) -> Result<Storage> {
        Storage::upload(device, self.download()?)
    }

    /// Whether this storage lives on a GPU, which a readback would wait on.
    pub(crate) fn is_gpu(&self) -> bool {
        matches!(self, Storage::Gpu(_))
    }

    /// A copy converted to `dtype` (every backend converts f16 itself).
    pub(crate) fn cast(&self, dtype: DType) -> Result<Storage> {
        match self {
            Storage::Cpu(x) => Ok(Storage::Cpu(x.cast(dtype)?)),
            Storage::Gpu(x) => Ok(Storage::Gpu(x.cast(dtype)?)),
        }
    }

    /// Overwrites this storage's elements with `src`'s.
    pub(crate) fn assign(&mut self, src: &Storage) -> Result<()> {
        match (self, src) {
            (Storage::Cpu(d), Storage::Cpu(s)) => d.assign(s),
            (Storage::Gpu(d), Storage::Gpu(s)) => d.assign(s),
            (d, s) => Err(mixed("assign", &[d, s])),
        }
    }

    // Elementwise.

    pub(crate) fn unary(&self, op: UnaryOp) -> Result<Storage> {
        let x = self;
        on_backend!(op.name(); x => x.unary(op))
    }

    pub(crate) fn unary_backward(&self, op: UnaryOp, out: &Storage, grad: &Storage) -> Result<Storage> {
        let x = self;
        on_backend!(op.name(); x, out, grad => x.unary_backward(op, out, grad))
    }

    pub(crate) fn binary(
        &self,
        op: BinaryOp,
        shape: &Shape,
        rhs: &Storage,
        rhs_shape: &Shape,
        out: &Shape,
    ) -> Result<Storage> {
        let x = self;
        on_backend!(op.name(); x, rhs => x.binary(op, shape, rhs, rhs_shape, out))
    }

    pub(crate) fn expand(&self, shape: &Shape, target: &Shape, scale: f64) -> Result<Storage> {
        let x = self;
        on_backend!("broadcast_to"; x => x.expand(shape, target, scale))
    }

    // Reductions and rows.

    pub(crate) fn reduce(&self, op: ReduceOp, shape: &Shape, kept: &Shape) -> Result<Storage> {
        let x = self;
        on_backend!("reduce"; x => x.reduce(op, shape, kept))
    }

    pub(crate) fn softmax(&self, split: AxisSplit, log: bool) -> Result<Storage> {
        let x = self;
        on_backend!("softmax"; x => x.softmax(split, log))
    }

    pub(crate) fn argmax(&self, rows: Rows) -> Result<Storage> {
        // Indices are exact in f32 up to 2^24 but in f16 only up to 2048, so they stay f32.
        if self.dtype() == DType::F16 {
            return self.cast(DType::F32)?.argmax(rows);
        }
        let x = self;
        on_backend!("argmax"; x => x.argmax(rows))
    }

    pub(crate) fn cross_entropy(&self, labels: &Storage, rows: Rows, sparse: bool) -> Result<Storage> {
        let x = self;
        on_backend!("softmax_cross_entropy"; x, labels => x.cross_entropy(labels, rows, sparse))
    }

    pub(crate) fn cross_entropy_backward(
        &self,
        labels: &Storage,
        grad: &Storage,
        rows: Rows,
        sparse: bool,
    ) -> Result<Storage> {
        let x = self;
        on_backend!("softmax_cross_entropy"; x, labels, grad => x.cross_entropy_backward(labels, grad, rows, sparse))
    }

    // Layout.

    pub(crate) fn permute(&self, shape: &Shape, axes: &[usize]) -> Result<Storage> {
        let x = self;
        on_backend!("permute"; x => x.permute(shape, axes))
    }

    pub(crate) fn read_window(&self, window: Window) -> Result<Storage> {
        let x = self;
        on_backend!("slice"; x => x.read_window(window))
    }

    /// `numel` zeros of `dtype` on `device` with each part written into its window.
    pub(crate) fn assemble(
        device: &Device,
        parts: &[(&Storage, Window)],
        numel: usize,
        dtype: DType,
    ) -> Result<Storage> {
        fn on<B: Member>(
            d: &B::Device,
            parts: &[(&Storage, Window)],
            numel: usize,
            dtype: DType,
        ) -> Result<B> {
            let parts = parts
                .iter()
                .map(|(s, w)| B::of(s).map(|s| (s, *w)).ok_or_else(|| mixed("concat", &[parts[0].0, s])))
                .collect::<Result<Vec<_>>>()?;
            B::assemble(d, &parts, numel, dtype)
        }
        if dtype == DType::F16 {
            let wide = parts.iter().map(|(s, _)| s.cast(DType::F32)).collect::<Result<Vec<_>>>()?;
            let parts: Vec<(&Storage, Window)> = wide.iter().zip(parts).map(|(s, (_, w))| (s, *w)).collect();
            return Storage::assemble(device, &parts, numel, DType::F32)?.cast(dtype);
        }
        on_device!(device, B, d => on::<B>(d, parts, numel, dtype))
    }

    pub(crate) fn gather_rows(&self, row_len: usize, indices: &[usize]) -> Result<Storage> {
        let x = self;
        on_backend!("gather_rows"; x => x.gather_rows(row_len, indices))
    }

    pub(crate) fn scatter_add_rows(&self, row_len: usize, indices: &[usize], rows: usize) -> Result<Storage> {
        let x = self;
        on_backend!("scatter_add_rows"; x => x.scatter_add_rows(row_len, indices, rows))
    }

    // Products.

    pub(crate) fn matmul(&self, rhs: &Storage, dims: &MatmulDims) -> Result<Storage> {
        let x = self;
        on_backend!(native_f16 "matmul"; x, rhs => x.matmul(rhs, dims))
    }

    pub(crate) fn affine(
        &self,
        kernel: &Storage,
        bias: Option<&Storage>,
        activation: Activation,
        dims: &MatmulDims,
    ) -> Result<Storage> {
        let x = self;
        match bias {
            Some(bias) => {
                on_backend!(native_f16 "affine"; x, kernel, bias => x.affine(kernel, Some(bias), activation, dims))
            }
            None => on_backend!(native_f16 "affine"; x, kernel => x.affine(kernel, None, activation, dims)),
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn affine_backward(
        &self,
        kernel: &Storage,
        out: Option<&Storage>,
        grad: &Storage,
        activation: Activation,
        dims: &MatmulDims,
        needs: [bool; 3],
    ) -> Result<Gradients3<Storage>> {
        let x = self;
        match out {
            Some(out) => on_backend!(native_f16 "affine"; x, kernel, out, grad =>
                x.affine_backward(kernel, Some(out), grad, activation, dims, needs)),
            None => on_backend!(native_f16 "affine"; x, kernel, grad =>
                x.affine_backward(kernel, None, grad, activation, dims, needs)),
        }
    }

    pub(crate) fn im2col(&self, g: &Conv2dGeometry, images: Range<usize>) -> Result<Storage> {
        let x = self;
        on_backend!("im2col"; x => x.im2col(g, images))
    }

    pub(crate) fn col2im(&self, g: &Conv2dGeometry, images: usize) -> Result<Storage> {
        let x = self;
        on_backend!("col2im"; x => x.col2im(g, images))
    }

    pub(crate) fn conv2d(
        &self,
        kernel: &Storage,
        bias: Option<&Storage>,
        activation: Activation,
        g: &Conv2dGeometry,
        batch: usize,
    ) -> Result<Storage> {
        let x = self;
        match bias {
            Some(bias) => {
                on_backend!(native_f16 "conv2d"; x, kernel, bias => x.conv2d(kernel, Some(bias), activation, g, batch))
            }
            None => {
                on_backend!(native_f16 "conv2d"; x, kernel => x.conv2d(kernel, None, activation, g, batch))
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn conv2d_backward(
        &self,
        kernel: &Storage,
        out: Option<&Storage>,
        grad: &Storage,
        activation: Activation,
        g: &Conv2dGeometry,
        batch: usize,
        needs: [bool; 3],
    ) -> Result<Gradients3<Storage>> {
        let x = self;
        match out {
            Some(out) => on_backend!(native_f16 "conv2d"; x, kernel, out, grad =>
                x.conv2d_backward(kernel, Some(out), grad, activation, g, batch, needs)),
            None => on_backend!(native_f16 "conv2d"; x, kernel, grad =>
                x.conv2d_backward(kernel, None, grad, activation, g, batch, needs)),
        }
    }

    pub(crate) fn depthwise_conv2d(
        &self,
        kernel: &Storage,
        g: &Conv2dGeometry,
        multiplier: usize,
        batch: usize,
    ) -> Result<Storage> {
        let x = self;
        on_backend!("depthwise_conv2d"; x, kernel => x.depthwise_conv2d(kernel, g, multiplier, batch))
    }

    pub(crate) fn depthwise_conv2d_backward(
        &self,
        kernel: &Storage,
        grad: &Storage,
        g: &Conv2dGeometry,
        multiplier: usize,
        batch: usize,
        needs: [bool; 2],
    ) -> Result<(Option<Storage>, Option<Storage>)> {
        let x = self;
        on_backend!("depthwise_conv2d"; x, kernel, grad =>
            x.depthwise_conv2d_backward(kernel, grad, g, multiplier, batch, needs))
    }

    // Pooling.

    pub(crate) fn max_pool(&self, g: &Conv2dGeometry, batch: usize) -> Result<(Storage, Storage)> {
        // The taps are indices the backend lays out as it likes; only the maxima are rounded.
        if self.dtype() == DType::F16 {
            let (pooled, taps) = self.cast(DType::F32)?.max_pool(g, batch)?;
            return Ok((pooled.cast(DType::F16)?, taps));
        }
        let x = self;
        on_backend!("max_pool2d"; x => x.max_pool(g, batch))
    }

    pub(crate) fn max_pool_backward(
        &self,
        taps: &Storage,
        g: &Conv2dGeometry,
        batch: usize,
    ) -> Result<Storage> {
        if self.dtype() == DType::F16 {
            return self.cast(DType::F32)?.max_pool_backward(taps, g, batch)?.cast(DType::F16);
        }
        let grad = self;
        on_backend!("max_pool2d"; grad, taps => grad.max_pool_backward(taps, g, batch))
    }

    pub(crate) fn avg_pool(&self, g: &Conv2dGeometry, batch: usize) -> Result<Storage> {
        let x = self;
        on_backend!("avg_pool2d"; x => x.avg_pool(g, batch))
    }

    pub(crate) fn avg_pool_backward(&self, g: &Conv2dGeometry, batch: usize) -> Result<Storage> {
        let grad = self;
        on_backend!("avg_pool2d"; grad => grad.avg_pool_backward(g, batch))
    }

    // Normalization.

    pub(crate) fn batch_norm_train(
        &self,
        gamma: &Storage,
        beta: &Storage,
        p: BatchNormConfig,
    ) -> Result<(Storage, Storage, Storage)> {
        let x = self;
        on_backend!("batch_norm_train"; x, gamma, beta => x.batch_norm_train(gamma, beta, p))
    }

    pub(crate) fn batch_norm_backward(
        &self,
        gamma: &Storage,
        mean: &Storage,
        var: &Storage,
        grad: &Storage,
        p: BatchNormConfig,
    ) -> Result<(Storage, Storage, Storage)> {
        let x = self;
        on_backend!("batch_norm_train"; x, gamma, mean, var, grad => x.batch_norm_backward(gamma, mean, var, grad, p))
    }

    // Recurrent cells.

    pub(crate) fn lstm_cell(&self, c_prev: &Storage, cell: RecurrentCell) -> Result<Storage> {
        let gates = self;
        on_backend!("lstm_cell"; gates, c_prev => gates.lstm_cell(c_prev, cell))
    }

    pub(crate) fn lstm_cell_backward(
        &self,
        c_prev: &Storage,
        out: &Storage,
        grad: &Storage,
        cell: RecurrentCell,
    ) -> Result<(Storage, Storage)> {
        let gates = self;
        on_backend!("lstm_cell"; gates, c_prev, out, grad => gates.lstm_cell_backward(c_prev, out, grad, cell))
    }

    pub(crate) fn gru_cell(&self, inner: &Storage, h_prev: &Storage, cell: RecurrentCell) -> Result<Storage> {
        let x = self;
        on_backend!("gru_cell"; x, inner, h_prev => x.gru_cell(inner, h_prev, cell))
    }

    pub(crate) fn gru_cell_backward(
        &self,
        inner: &Storage,
        h_prev: &Storage,
        grad: &Storage,
        cell: RecurrentCell,
    ) -> Result<(Storage, Storage, Storage)> {
        let x = self;
        on_backend!("gru_cell"; x, inner, h_prev, grad => x.gru_cell_backward(inner, h_prev, grad, cell))
    }

    // Optimizers.

    /// One step of `rule` on every item, in place: (parameter, gradient, state slots), all on
    /// one device.
    pub(crate) fn update(
        rule: &UpdateRule,
        items: &mut [(&mut Storage, &Storage, Vec<&mut Storage>)],
    ) -> Result<()> {
        fn on<B: Member>(
            rule: &UpdateRule,
            items: &mut [(&mut Storage, &Storage, Vec<&mut Storage>)],
        ) -> Result<()> {
            let misplaced = || {
                Error::argument(rule.name(), "every parameter, gradient and state slot must be on one device")
            };
            let mut mine = Vec::with_capacity(items.len());
            for (param, grad, slots) in items.iter_mut() {
                let param = B::of_mut(param).ok_or_else(misplaced)?;
                let grad = B::of(grad).ok_or_else(misplaced)?;
                let slots =
                    slots.iter_mut().map(|s| B::of_mut(s).ok_or_else(misplaced)).collect::<Result<_>>()?;
                mine.push(UpdateItem { param, grad, slots });
            }
            B::update(rule, &mut mine)
        }
        // Optimizer state accumulates small steps that f16 would round away: weights train in f32
        // (mixed precision keeps f32 weights and casts them for each step).
        if items.iter().any(|(p, g, _)| p.dtype() == DType::F16 || g.dtype() == DType::F16) {
            return Err(Error::DType { op: rule.name(), expected: DType::F32, got: DType::F16 });
        }
        match items.first().map(|(param, _, _)| param.is_gpu()) {
            None => Ok(()),
            Some(true) => on::<GpuStorage>(rule, items),
            Some(false) => on::<CpuStorage>(rule, items),
        }
    }
}

/// A backend's storage type, and how to find it inside a [`Storage`].
trait Member: BackendStorage {
    fn of(s: &Storage) -> Option<&Self>;
    fn of_mut(s: &mut Storage) -> Option<&mut Self>;
}

impl Member for CpuStorage {
    fn of(s: &Storage) -> Option<&Self> {
        if let Storage::Cpu(s) = s { Some(s) } else { None }
    }
    fn of_mut(s: &mut Storage) -> Option<&mut Self> {
        if let Storage::Cpu(s) = s { Some(s) } else { None }
    }
}

impl Member for GpuStorage {
    fn of(s: &Storage) -> Option<&Self> {
        if let Storage::Gpu(s) = s { Some(s) } else { None }
    }
    fn of_mut(s: &mut Storage) -> Option<&mut Self> {
        if let Storage::Gpu(s) = s { Some(s) } else { None }
    }
}
