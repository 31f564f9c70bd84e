//! Slicing a range along one axis, and its adjoint, zero padding along one axis.

use crate::autodiff::{Backward, record};
use crate::backend::{AxisSplit, Window};
use crate::storage::Storage;
use crate::{Error, Result, Shape, Tensor};

/// `shape` with dimension `axis` set to `len`.
fn resized(shape: &Shape, axis: usize, len: usize) -> Shape {
    let mut dims = shape.dims().to_vec();
    dims[axis] = len;
    Shape::new(dims)
}

impl Tensor {
    /// A copy of positions `start..end` along `axis` (negative axes count from the end).
    pub fn slice(&self, axis: isize, start: usize, end: usize) -> Result<Tensor> {
        let axis = self.shape().axis("slice", axis)?;
        let dim = self.shape().dim(axis);
        if start > end {
            return Err(Error::argument("slice", format!("start {start} is past end {end}")));
        }
        if end > dim {
            return Err(Error::argument(
                "slice",
                format!("end {end} is past the size {dim} of axis {axis} of shape {}", self.shape()),
            ));
        }
        let window = Window { wide: AxisSplit::new(self.shape(), axis), start, len: end - start };
        let storage = self.storage().read_window(window)?;
        let out = Tensor::from_storage(storage, resized(self.shape(), axis, end - start));
        record(out, &[self], || Box::new(SliceBackward { axis, before: start, after: dim - end }))
    }

    /// This tensor with `before` zeros ahead of it and `after` zeros behind it along `axis`
    /// (negative axes count from the end).
    pub fn pad_axis(&self, axis: isize, before: usize, after: usize) -> Result<Tensor> {
        let axis = self.shape().axis("pad_axis", axis)?;
        let dim = self.shape().dim(axis);
        let padded = before.checked_add(dim).and_then(|n| n.checked_add(after)).ok_or_else(|| {
            Error::argument(
                "pad_axis",
                format!("padding {before} + {after} around axis {axis} of shape {} overflows", self.shape()),
            )
        })?;
        let shape = resized(self.shape(), axis, padded);
        crate::tensor::reserve_output("pad_axis", &shape, self.dtype(), self.device())?;
        let window = Window { wide: AxisSplit::new(&shape, axis), start: before, len: dim };
        let storage =
            Storage::assemble(self.device(), &[(&self.storage(), window)], shape.numel(), self.dtype())?;
        let out = Tensor::from_storage(storage, shape);
        record(out, &[self], || Box::new(PadBackward { axis, start: before, end: before + dim }))
    }
}

struct SliceBackward {
    axis: usize,
    before: usize,
    after: usize,
}

impl Backward for SliceBackward {
    fn name(&self) -> &'static str {
        "slice"
    }

    fn backward(&self, grad: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(grad.pad_axis(self.axis as isize, self.before, self.after)?)])
    }
}

struct PadBackward {
    axis: usize,
    start: usize,
    end: usize,
}

impl Backward for PadBackward {
    fn name(&self) -> &'static str {
        "pad_axis"
    }

    fn backward(&self, grad: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(grad.slice(self.axis as isize, self.start, self.end)?)])
    }
}
