//! Sums, means and maxima along axes.

use crate::autodiff::{Backward, record};
use crate::cpu::{self, for_dtype};
use crate::gpu;
use crate::storage::Storage;
use crate::{Result, Shape, Tensor};

/// The reduction kernels every backend provides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReduceOp {
    Sum,
    Max,
}

/// The keep-dims shape of reducing `shape` over `axes`.
fn kept_shape(shape: &Shape, axes: &[usize]) -> Shape {
    Shape::new(
        shape
            .dims()
            .iter()
            .enumerate()
            .map(|(i, &d)| if axes.contains(&i) { 1 } else { d })
            .collect::<Vec<_>>(),
    )
}

/// The shape without the reduced axes.
fn dropped_shape(shape: &Shape, axes: &[usize]) -> Shape {
    Shape::new(
        shape
            .dims()
            .iter()
            .enumerate()
            .filter(|(i, _)| !axes.contains(i))
            .map(|(_, &d)| d)
            .collect::<Vec<_>>(),
    )
}

/// Runs the kernel without recording; the result has the keep-dims shape.
fn forward(op: ReduceOp, x: &Tensor, kept: &Shape) -> Result<Tensor> {
    let storage = match &*x.storage() {
        Storage::Cpu(s) => Storage::Cpu(for_dtype!(x.dtype(), T => T::into_storage(
            cpu::reduce::reduce::<T>(op, s.typed(), x.shape(), kept)
        ))),
        Storage::Gpu(s) => Storage::Gpu(gpu::kernels::reduce::reduce(op, s, x.shape(), kept)?),
    };
    Ok(Tensor::from_storage(storage, kept.clone()))
}

impl Tensor {
    /// Sum over `axes` (negative axes count from the end); `keepdim` keeps them as size 1.
    pub fn sum(&self, axes: &[isize], keepdim: bool) -> Result<Tensor> {
        let axes = self.shape().axes("sum", axes)?;
        let kept = kept_shape(self.shape(), &axes);
        let out = forward(ReduceOp::Sum, self, &kept)?;
        let out = record(out, &[self], || {
            Box::new(SumBackward { input: self.shape().clone(), kept: kept.clone() })
        })?;
        if keepdim { Ok(out) } else { out.reshape(dropped_shape(self.shape(), &axes)) }
    }

    /// Mean over `axes`.
    pub fn mean(&self, axes: &[isize], keepdim: bool) -> Result<Tensor> {
        let resolved = self.shape().axes("mean", axes)?;
        let count: usize = resolved.iter().map(|&a| self.shape().dim(a)).product();
        self.sum(axes, keepdim)?.mul_scalar(1.0 / count as f64)
    }

    /// Maximum over `axes`. Where several elements tie for the maximum, the gradient is shared
    /// equally between them.
    pub fn max(&self, axes: &[isize], keepdim: bool) -> Result<Tensor> {
        let axes = self.shape().axes("max", axes)?;
        let kept = kept_shape(self.shape(), &axes);
        let out = forward(ReduceOp::Max, self, &kept)?;
        let saved = out.detach();
        let out = record(out, &[self], || {
            Box::new(MaxBackward { input: self.detach(), max: saved, axes: axes.clone() })
        })?;
        if keepdim { Ok(out) } else { out.reshape(dropped_shape(self.shape(), &axes)) }
    }

    /// Sum of all elements, as a scalar.
    pub fn sum_all(&self) -> Result<Tensor> {
        let all: Vec<isize> = (0..self.rank() as isize).collect();
        self.sum(&all, false)
    }

    /// Mean of all elements, as a scalar.
    pub fn mean_all(&self) -> Result<Tensor> {
        let all: Vec<isize> = (0..self.rank() as isize).collect();
        self.mean(&all, false)
    }
}

struct SumBackward {
    input: Shape,
    kept: Shape,
}

impl Backward for SumBackward {
    fn name(&self) -> &'static str {
        "sum"
    }

    fn backward(&self, grad: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(grad.reshape(self.kept.clone())?.broadcast_to(&self.input)?)])
    }
}

struct MaxBackward {
    input: Tensor,
    max: Tensor,
    axes: Vec<usize>,
}

impl Backward for MaxBackward {
    fn name(&self) -> &'static str {
        "max"
    }

    fn backward(&self, grad: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let kept = self.max.shape().clone();
        let winners = self.input.eq(&self.max)?;
        let axes: Vec<isize> = self.axes.iter().map(|&a| a as isize).collect();
        let share = winners.div(&winners.sum(&axes, true)?)?;
        Ok(vec![Some(share.mul(&grad.reshape(kept)?)?)])
    }
}
