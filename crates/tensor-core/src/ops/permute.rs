//! Reordering axes: a permutation copies the data into the new row-major order.

use crate::autodiff::{Backward, record};
use crate::{Error, Result, Shape, Tensor};

impl Tensor {
    /// A copy whose axis `i` is this tensor's axis `axes[i]`; `axes` must be a permutation of
    /// `0..rank` (e.g. `[0, 3, 1, 2]` turns NHWC into NCHW).
    pub fn permute(&self, axes: &[usize]) -> Result<Tensor> {
        let rank = self.rank();
        let mut sorted = axes.to_vec();
        sorted.sort_unstable();
        if !sorted.into_iter().eq(0..rank) {
            return Err(Error::argument(
                "permute",
                format!(
                    "axes {axes:?} are not a permutation of 0..{rank} for a tensor of shape {}",
                    self.shape()
                ),
            ));
        }
        let dims: Vec<usize> = axes.iter().map(|&a| self.shape().dim(a)).collect();
        let storage = self.storage().permute(self.shape(), axes)?;
        let out = Tensor::from_storage(storage, Shape::new(dims));
        record(out, &[self], || {
            let mut inverse = vec![0; rank];
            for (i, &a) in axes.iter().enumerate() {
                inverse[a] = i;
            }
            Box::new(PermuteBackward { inverse })
        })
    }

    /// A copy with axes `a` and `b` swapped (negative axes count from the end).
    pub fn transpose(&self, a: isize, b: isize) -> Result<Tensor> {
        let a = self.shape().axis("transpose", a)?;
        let b = self.shape().axis("transpose", b)?;
        let mut axes: Vec<usize> = (0..self.rank()).collect();
        axes.swap(a, b);
        self.permute(&axes)
    }
}

struct PermuteBackward {
    inverse: Vec<usize>,
}

impl Backward for PermuteBackward {
    fn name(&self) -> &'static str {
        "permute"
    }

    fn backward(&self, grad: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(grad.permute(&self.inverse)?)])
    }
}
