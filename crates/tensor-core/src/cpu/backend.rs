//! The CPU reference as a backend: each op of [`BackendStorage`] runs its plain loop in the
//! storage's dtype.

use std::ops::Range;

use super::{
    CpuStorage, batch_norm, binary, conv, cross_entropy, depthwise_conv, host_vec_from, layout, matmul,
    optim, pool, recurrent, reduce, softmax, unary,
};
use crate::backend::{
    Activation, AxisSplit, BackendStorage, BatchNormConfig, BinaryOp, Conv2dGeometry, Gradients3, MatmulDims,
    RecurrentCell, ReduceOp, Rows, UnaryOp, UpdateItem, UpdateRule, Window,
};
use crate::{DType, Result, Shape, rng};

/// Lifts a triple of optional host vectors into storage.
fn stored<T: crate::Element>((a, b, c): Gradients3<Vec<T>>) -> Gradients3<CpuStorage> {
    (a.map(T::into_storage), b.map(T::into_storage), c.map(T::into_storage))
}

impl BackendStorage for CpuStorage {
    type Device = ();

    // Creation takes its size from the caller, so its buffers are reserved fallibly: a size the
    // host cannot hold is an error, not an abort.

    fn full(_: &(), len: usize, value: f64, dtype: DType) -> Result<Self> {
        let what = format_args!("{len} elements of {dtype}");
        Ok(for_dtype!(dtype, T => T::into_storage(host_vec_from("full", &what, len, |_| T::of(value))?)))
    }

    fn ramp(_: &(), len: usize, start: f64, step: f64, dtype: DType) -> Result<Self> {
        let what = format_args!("{len} elements of {dtype}");
        Ok(for_dtype!(dtype, T => T::into_storage(
            host_vec_from("arange", &what, len, |i| T::of(start + step * i as f64))?
        )))
    }

    fn uniform(_: &(), len: u32, low: f64, high: f64, seed: u64, dtype: DType) -> Result<Self> {
        let what = format_args!("{len} elements of {dtype}");
        Ok(for_dtype!(dtype, T => T::into_storage(host_vec_from("uniform", &what, len as usize, |i| {
            T::of(low + (high - low) * rng::uniform(seed, i as u32))
        })?)))
    }

    fn upload(_: &(), data: CpuStorage) -> Result<Self> {
        Ok(data)
    }

    fn download(&self) -> Result<CpuStorage> {
        Ok(self.clone())
    }

    fn dtype(&self) -> DType {
        // The inherent method (paths prefer it over this trait's).
        CpuStorage::dtype(self)
    }

    fn cast(&self, dtype: DType) -> Result<Self> {
        // Each conversion rounds once, to nearest even, as the GPU's does.
        Ok(match (self, dtype) {
            (CpuStorage::F32(v), DType::F64) => CpuStorage::F64(v.iter().map(|&x| f64::from(x)).collect()),
            (CpuStorage::F64(v), DType::F32) => CpuStorage::F32(v.iter().map(|&x| x as f32).collect()),
            (CpuStorage::F32(v), DType::F16) => {
                CpuStorage::F16(v.iter().map(|&x| half::f16::from_f32(x)).collect())
            }
            (CpuStorage::F64(v), DType::F16) => {
                CpuStorage::F16(v.iter().map(|&x| half::f16::from_f64(x)).collect())
            }
            (CpuStorage::F16(v), DType::F32) => CpuStorage::F32(v.iter().map(|&x| x.to_f32()).collect()),
            (CpuStorage::F16(v), DType::F64) => CpuStorage::F64(v.iter().map(|&x| x.to_f64()).collect()),
            _ => self.clone(),
        })
    }

    fn assign(&mut self, src: &Self) -> Result<()> {
        self.clone_from(src);
        Ok(())
    }

    fn unary(&self, op: UnaryOp) -> Result<Self> {
        Ok(for_dtype!(self.dtype(), T => T::into_storage(unary::map::<T>(op, self.typed()))))
    }

    fn unary_backward(&self, op: UnaryOp, out: &Self, grad: &Self) -> Result<Self> {
        Ok(for_dtype!(self.dtype(), T => T::into_storage(
            unary::backward::<T>(op, self.typed(), out.typed(), grad.typed())
        )))
    }

    fn binary(
        &self,
        op: BinaryOp,
        shape: &Shape,
        rhs: &Self,
        rhs_shape: &Shape,
        out: &Shape,
    ) -> Result<Self> {
        Ok(for_dtype!(self.dtype(), T => T::into_storage(
            binary::broadcast::<T>(op, self.typed(), shape, rhs.typed(), rhs_shape, out)
        )))
    }

    fn expand(&self, shape: &Shape, target: &Shape, scale: f64) -> Result<Self> {
        Ok(
            for_dtype!(self.dtype(), T => T::into_storage(binary::expand::<T>(self.typed(), shape, target, scale))),
        )
    }

    fn reduce(&self, op: ReduceOp, shape: &Shape, kept: &Shape) -> Result<Self> {
        Ok(for_dtype!(self.dtype(), T => T::into_storage(reduce::reduce::<T>(op, self.typed(), shape, kept))))
    }

    fn softmax(&self, split: AxisSplit, log: bool) -> Result<Self> {
        Ok(for_dtype!(self.dtype(), T => T::into_storage(if log {
            softmax::log_softmax::<T>(self.typed(), split)
        } else {
            softmax::softmax::<T>(self.typed(), split)
        })))
    }

    fn argmax(&self, rows: Rows) -> Result<Self> {
        Ok(for_dtype!(self.dtype(), T => T::into_storage(reduce::argmax::<T>(self.typed(), rows))))
    }

    fn cross_entropy(&self, labels: &Self, rows: Rows, sparse: bool) -> Result<Self> {
        Ok(for_dtype!(self.dtype(), T => T::into_storage(if sparse {
            cross_entropy::sparse_softmax_cross_entropy::<T>(rows, self.typed(), labels.typed())
        } else {
            cross_entropy::softmax_cross_entropy::<T>(rows, self.typed(), labels.typed())
        })))
    }

    fn cross_entropy_backward(&self, labels: &Self, grad: &Self, rows: Rows, sparse: bool) -> Result<Self> {
        Ok(for_dtype!(self.dtype(), T => T::into_storage(if sparse {
            cross_entropy::sparse_softmax_cross_entropy_grad::<T>(rows, self.typed(), labels.typed(), grad.typed())
        } else {
            cross_entropy::softmax_cross_entropy_grad::<T>(rows, self.typed(), labels.typed(), grad.typed())
        })))
    }

    fn permute(&self, shape: &Shape, axes: &[usize]) -> Result<Self> {
        let own = shape.strides();
        let dims: Vec<usize> = axes.iter().map(|&a| shape.dim(a)).collect();
        let strides: Vec<usize> = axes.iter().map(|&a| own[a]).collect();
        Ok(
            for_dtype!(self.dtype(), T => T::into_storage(layout::strided_gather::<T>(self.typed(), &dims, &strides))),
        )
    }

    fn read_window(&self, window: Window) -> Result<Self> {
        Ok(for_dtype!(self.dtype(), T => T::into_storage(layout::read_window::<T>(self.typed(), window))))
    }

    fn assemble(_: &(), parts: &[(&Self, Window)], numel: usize, dtype: DType) -> Result<Self> {
        Ok(for_dtype!(dtype, T => {
            let parts: Vec<(&[T], Window)> = parts.iter().map(|(s, w)| (s.typed::<T>(), *w)).collect();
            T::into_storage(layout::assemble::<T>(&parts, numel))
        }))
    }

    fn gather_rows(&self, row_len: usize, indices: &[usize]) -> Result<Self> {
        Ok(
            for_dtype!(self.dtype(), T => T::into_storage(layout::gather_rows::<T>(self.typed(), row_len, indices))),
        )
    }

    fn scatter_add_rows(&self, row_len: usize, indices: &[usize], rows: usize) -> Result<Self> {
        Ok(for_dtype!(self.dtype(), T => T::into_storage(
            layout::scatter_add_rows::<T>(self.typed(), row_len, indices, rows)
        )))
    }

    fn matmul(&self, rhs: &Self, dims: &MatmulDims) -> Result<Self> {
        Ok(
            for_dtype!(self.dtype(), T => T::into_storage(matmul::matmul::<T>(dims, self.typed(), rhs.typed()))),
        )
    }

    fn affine(
        &self,
        kernel: &Self,
        bias: Option<&Self>,
        activation: Activation,
        dims: &MatmulDims,
    ) -> Result<Self> {
        Ok(for_dtype!(self.dtype(), T => T::into_storage(matmul::affine::<T>(
            self.typed(),
            kernel.typed(),
            bias.map(|b| b.typed()),
            activation,
            dims.m,
            dims.k,
            dims.n,
        ))))
    }

    fn affine_backward(
        &self,
        kernel: &Self,
        out: Option<&Self>,
        grad: &Self,
        activation: Activation,
        dims: &MatmulDims,
        needs: [bool; 3],
    ) -> Result<Gradients3<Self>> {
        Ok(for_dtype!(self.dtype(), T => stored(matmul::affine_backward::<T>(
            self.typed(),
            kernel.typed(),
            out.map(|o| o.typed()),
            grad.typed(),
            activation,
            (dims.m, dims.k, dims.n),
            needs,
        ))))
    }

    fn im2col(&self, g: &Conv2dGeometry, images: Range<usize>) -> Result<Self> {
        Ok(for_dtype!(self.dtype(), T => {
            let block = &self.typed::<T>()[images.start * g.image_len()..images.end * g.image_len()];
            T::into_storage(conv::im2col::<T>(g, images.len(), block))
        }))
    }

    fn col2im(&self, g: &Conv2dGeometry, images: usize) -> Result<Self> {
        Ok(for_dtype!(self.dtype(), T => T::into_storage(conv::col2im::<T>(g, images, self.typed()))))
    }

    fn conv2d(
        &self,
        kernel: &Self,
        bias: Option<&Self>,
        activation: Activation,
        g: &Conv2dGeometry,
        batch: usize,
    ) -> Result<Self> {
        Ok(for_dtype!(self.dtype(), T => T::into_storage(conv::conv2d::<T>(
            g,
            batch,
            self.typed(),
            kernel.typed(),
            bias.map(|b| b.typed()),
            activation,
        ))))
    }

    fn conv2d_backward(
        &self,
        kernel: &Self,
        out: Option<&Self>,
        grad: &Self,
        activation: Activation,
        g: &Conv2dGeometry,
        batch: usize,
        needs: [bool; 3],
    ) -> Result<Gradients3<Self>> {
        Ok(for_dtype!(self.dtype(), T => stored(conv::conv2d_backward::<T>(
            g,
            batch,
            self.typed(),
            kernel.typed(),
            out.map(|o| o.typed()),
            grad.typed(),
            activation,
            needs,
        ))))
    }

    fn depthwise_conv2d(
        &self,
        kernel: &Self,
        g: &Conv2dGeometry,
        multiplier: usize,
        batch: usize,
    ) -> Result<Self> {
        Ok(for_dtype!(self.dtype(), T => T::into_storage(depthwise_conv::depthwise_conv2d::<T>(
            g,
            multiplier,
            batch,
            self.typed(),
            kernel.typed(),
        ))))
    }

    fn depthwise_conv2d_backward(
        &self,
        kernel: &Self,
        grad: &Self,
        g: &Conv2dGeometry,
        multiplier: usize,
        batch: usize,
        needs: [bool; 2],
    ) -> Result<(Option<Self>, Option<Self>)> {
        Ok(for_dtype!(self.dtype(), T => {
            let (dx, dkernel) = depthwise_conv::depthwise_conv2d_backward::<T>(
                g,
                multiplier,
                batch,
                self.typed(),
                kernel.typed(),
                grad.typed(),
                needs,
            );
            (dx.map(T::into_storage), dkernel.map(T::into_storage))
        }))
    }

    fn max_pool(&self, g: &Conv2dGeometry, batch: usize) -> Result<(Self, Self)> {
        Ok(for_dtype!(self.dtype(), T => {
            let (out, taps) = pool::max_pool::<T>(g, batch, self.typed());
            (T::into_storage(out), T::into_storage(taps))
        }))
    }

    fn max_pool_backward(&self, taps: &Self, g: &Conv2dGeometry, batch: usize) -> Result<Self> {
        Ok(for_dtype!(self.dtype(), T => T::into_storage(
            pool::max_pool_backward::<T>(g, batch, self.typed(), taps.typed())
        )))
    }

    fn avg_pool(&self, g: &Conv2dGeometry, batch: usize) -> Result<Self> {
        Ok(for_dtype!(self.dtype(), T => T::into_storage(pool::avg_pool::<T>(g, batch, self.typed()))))
    }

    fn avg_pool_backward(&self, g: &Conv2dGeometry, batch: usize) -> Result<Self> {
        Ok(
            for_dtype!(self.dtype(), T => T::into_storage(pool::avg_pool_backward::<T>(g, batch, self.typed()))),
        )
    }

    fn batch_norm_train(&self, gamma: &Self, beta: &Self, p: BatchNormConfig) -> Result<(Self, Self, Self)> {
        Ok(for_dtype!(self.dtype(), T => {
            let (y, mean, var) = batch_norm::batch_norm_train::<T>(p, self.typed(), gamma.typed(), beta.typed());
            (T::into_storage(y), T::into_storage(mean), T::into_storage(var))
        }))
    }

    fn batch_norm_backward(
        &self,
        gamma: &Self,
        mean: &Self,
        var: &Self,
        grad: &Self,
        p: BatchNormConfig,
    ) -> Result<(Self, Self, Self)> {
        Ok(for_dtype!(self.dtype(), T => {
            let (dx, d_gamma, d_beta) = batch_norm::batch_norm_backward::<T>(
                p,
                self.typed(),
                gamma.typed(),
                mean.typed(),
                var.typed(),
                grad.typed(),
            );
            (T::into_storage(dx), T::into_storage(d_gamma), T::into_storage(d_beta))
        }))
    }

    fn lstm_cell(&self, c_prev: &Self, cell: RecurrentCell) -> Result<Self> {
        Ok(for_dtype!(self.dtype(), T => T::into_storage(
            recurrent::lstm_cell::<T>(cell, self.typed(), c_prev.typed())
        )))
    }

    fn lstm_cell_backward(
        &self,
        c_prev: &Self,
        out: &Self,
        grad: &Self,
        cell: RecurrentCell,
    ) -> Result<(Self, Self)> {
        Ok(for_dtype!(self.dtype(), T => {
            let (d_gates, d_c_prev) =
                recurrent::lstm_cell_backward::<T>(cell, self.typed(), c_prev.typed(), out.typed(), grad.typed());
            (T::into_storage(d_gates), T::into_storage(d_c_prev))
        }))
    }

    fn gru_cell(&self, inner: &Self, h_prev: &Self, cell: RecurrentCell) -> Result<Self> {
        Ok(for_dtype!(self.dtype(), T => T::into_storage(
            recurrent::gru_cell::<T>(cell, self.typed(), inner.typed(), h_prev.typed())
        )))
    }

    fn gru_cell_backward(
        &self,
        inner: &Self,
        h_prev: &Self,
        grad: &Self,
        cell: RecurrentCell,
    ) -> Result<(Self, Self, Self)> {
        Ok(for_dtype!(self.dtype(), T => {
            let (d_x, d_inner, d_h_prev) =
                recurrent::gru_cell_backward::<T>(cell, self.typed(), inner.typed(), h_prev.typed(), grad.typed());
            (T::into_storage(d_x), T::into_storage(d_inner), T::into_storage(d_h_prev))
        }))
    }

    fn update(rule: &UpdateRule, items: &mut [UpdateItem<'_, Self>]) -> Result<()> {
        for item in items {
            for_dtype!(item.param.dtype(), T => {
                let mut slots: Vec<&mut [T]> = item.slots.iter_mut().map(|s| s.typed_mut::<T>()).collect();
                optim::update::<T>(rule, item.param.typed_mut(), item.grad.typed(), &mut slots)?;
            });
        }
        Ok(())
    }
}
