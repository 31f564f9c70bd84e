//! Conversion between dtypes as an op on the tape, so that gradients flow through it: mixed
//! precision computes in f16 from f32 weights, and each weight's gradient comes back through
//! its cast as f32.

use crate::autodiff::{Backward, record};
use crate::{DType, Result, Tensor};

impl Tensor {
    /// This tensor converted to `dtype` (rounded to nearest), differentiable: the gradient is
    /// converted back to this tensor's dtype. [`Tensor::to_dtype`] converts without recording.
    pub fn cast(&self, dtype: DType) -> Result<Tensor> {
        if dtype == self.dtype() {
            return Ok(self.clone());
        }
        let out = Tensor::from_storage(self.storage().cast(dtype)?, self.shape().clone());
        record(out, &[self], || Box::new(CastBackward { from: self.dtype() }))
    }
}

struct CastBackward {
    from: DType,
}

impl Backward for CastBackward {
    fn name(&self) -> &'static str {
        "cast"
    }

    fn backward(&self, grad: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(grad.cast(self.from)?)])
    }
}
