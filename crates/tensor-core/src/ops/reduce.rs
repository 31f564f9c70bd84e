//! Sums, means and maxima along axes.

use crate::autodiff::{Backward, record};
use crate::backend::{ReduceOp, Rows};
use crate::{Error, Result, Shape, Tensor};

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
    Ok(Tensor::from_storage(x.storage().reduce(op, x.shape(), kept)?, kept.clone()))
}

impl Tensor {
    /// Sum over `axes` (negative axes count from the end); `keepdim` keeps them as size 1.
    pub fn sum(&self, axes: &[isize], keepdim: bool) -> Result<Tensor> {
        let axes = self.shape().axes("sum", axes)?;
        let kept = kept_shape(self.shape(), &axes);
        let out = forward(ReduceOp::Sum, self, &kept)?;
        let out = record(out, &[self], || {
            Box::new(SumBackward { input: self.shape().clone(), kept: kept.clone(), scale: 1.0 })
        })?;
        if keepdim { Ok(out) } else { out.reshape(dropped_shape(self.shape(), &axes)) }
    }

    /// Mean over `axes`: the sum times the reciprocal of the count, in one kernel.
    pub fn mean(&self, axes: &[isize], keepdim: bool) -> Result<Tensor> {
        let axes = self.shape().axes("mean", axes)?;
        let kept = kept_shape(self.shape(), &axes);
        let count: usize = axes.iter().map(|&a| self.shape().dim(a)).product();
        let out = forward(ReduceOp::Mean, self, &kept)?;
        let out = record(out, &[self], || {
            Box::new(SumBackward {
                input: self.shape().clone(),
                kept: kept.clone(),
                scale: 1.0 / count as f64,
            })
        })?;
        if keepdim { Ok(out) } else { out.reshape(dropped_shape(self.shape(), &axes)) }
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

    /// The index of the first maximum along `axis` (negative axes count from the end), as a
    /// float, with NumPy's rule that NaN counts as the maximum. Not differentiable: the result is
    /// untracked.
    pub fn argmax(&self, axis: isize) -> Result<Tensor> {
        let axis = self.shape().axis("argmax", axis)?;
        if self.shape().dim(axis) == 0 {
            return Err(Error::shape("argmax", format!("axis {axis} of shape {} is empty", self.shape())));
        }
        // The kernel works along rows: bring the axis last.
        let last = self.rank() - 1;
        let x = if axis == last {
            self.detach()
        } else {
            let mut order: Vec<usize> = (0..self.rank()).filter(|&a| a != axis).collect();
            order.push(axis);
            self.detach().permute(&order)?
        };
        let classes = self.shape().dim(axis);
        let rows = Rows { rows: self.numel() / classes, classes };
        Ok(Tensor::from_storage(x.storage().argmax(rows)?, dropped_shape(self.shape(), &[axis])))
    }
}

/// The gradient of a sum (`scale` 1) or a mean (the reciprocal of the count): the output's
/// gradient spread back over the reduced axes, in one kernel.
struct SumBackward {
    input: Shape,
    kept: Shape,
    scale: f64,
}

impl Backward for SumBackward {
    fn name(&self) -> &'static str {
        if self.scale == 1.0 { "sum" } else { "mean" }
    }

    fn backward(&self, grad: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(grad.reshape(self.kept.clone())?.expanded(&self.input, self.scale)?)])
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
