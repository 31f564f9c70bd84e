//! Joining tensors end to end along one axis.

use crate::autodiff::{Backward, record};
use crate::backend::{AxisSplit, Window};
use crate::storage::Storage;
use crate::{Error, Result, Shape, Tensor};

impl Tensor {
    /// `tensors` joined in order along `axis` (negative axes count from the end); they must share
    /// dtype, device and every dimension but `axis`.
    pub fn concat(tensors: &[&Tensor], axis: isize) -> Result<Tensor> {
        let Some(first) = tensors.first() else {
            return Err(Error::argument("concat", "expected at least one tensor, got none"));
        };
        let axis = first.shape().axis("concat", axis)?;
        for (k, t) in tensors.iter().enumerate().skip(1) {
            first.same_kind("concat", t)?;
            let agrees = t.rank() == first.rank()
                && t.dims().iter().zip(first.dims()).enumerate().all(|(i, (a, b))| i == axis || a == b);
            if !agrees {
                return Err(Error::shape(
                    "concat",
                    format!(
                        "tensor {k} has shape {} but tensor 0 has shape {}; all dimensions except axis \
                         {axis} must agree",
                        t.shape(),
                        first.shape()
                    ),
                ));
            }
        }
        let mut dims = first.dims().to_vec();
        dims[axis] = tensors.iter().map(|t| t.shape().dim(axis)).sum();
        let shape = Shape::new(dims);
        let wide = AxisSplit::new(&shape, axis);
        let windows: Vec<Window> = tensors
            .iter()
            .scan(0, |start, t| {
                let len = t.shape().dim(axis);
                *start += len;
                Some(Window { wide, start: *start - len, len })
            })
            .collect();
        let guards: Vec<_> = tensors.iter().map(|t| t.storage()).collect();
        let parts: Vec<(&Storage, Window)> =
            guards.iter().map(|g| &**g).zip(windows.iter().copied()).collect();
        let storage = Storage::assemble(first.device(), &parts, shape.numel(), first.dtype())?;
        let out = Tensor::from_storage(storage, shape);
        record(out, tensors, || {
            Box::new(ConcatBackward {
                axis,
                ranges: windows.iter().map(|w| (w.start, w.start + w.len)).collect(),
            })
        })
    }
}

struct ConcatBackward {
    axis: usize,
    /// Each input's positions along `axis` in the output.
    ranges: Vec<(usize, usize)>,
}

impl Backward for ConcatBackward {
    fn name(&self) -> &'static str {
        "concat"
    }

    fn backward(&self, grad: &Tensor, needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        self.ranges
            .iter()
            .zip(needs)
            .map(|(&(start, end), &need)| {
                need.then(|| grad.slice(self.axis as isize, start, end)).transpose()
            })
            .collect()
    }
}
