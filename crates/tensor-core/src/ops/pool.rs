//! Max, average and global average pooling of NHWC image batches.

use super::conv::{nhwc, of_images};
use crate::autodiff::{Backward, record};
use crate::backend::{Conv2dGeometry, Padding};
use crate::storage::Storage;
use crate::{Result, Tensor};

impl Tensor {
    /// The maximum of each `pool` window of an NHWC batch, per channel. Padding never wins,
    /// as if it were -inf (TensorFlow's rule).
    pub fn max_pool2d(
        &self,
        pool: (usize, usize),
        strides: (usize, usize),
        padding: Padding,
    ) -> Result<Tensor> {
        let (batch, g) = of_images("max_pool2d", self, pool, strides, padding)?;
        let (out, taps) = self.storage().max_pool(&g, batch)?;
        let out = Tensor::from_storage(out, g.output_shape(batch, g.channels));
        record(out, &[self], || Box::new(MaxPoolBackward { batch, geometry: g, taps }))
    }

    /// The mean of each `pool` window of an NHWC batch, per channel. A window overlapping
    /// `same` padding averages only the pixels it covers, as Keras does.
    pub fn avg_pool2d(
        &self,
        pool: (usize, usize),
        strides: (usize, usize),
        padding: Padding,
    ) -> Result<Tensor> {
        let (batch, g) = of_images("avg_pool2d", self, pool, strides, padding)?;
        let out =
            Tensor::from_storage(self.storage().avg_pool(&g, batch)?, g.output_shape(batch, g.channels));
        record(out, &[self], || Box::new(AvgPoolBackward { batch, geometry: g }))
    }

    /// The mean over height and width of an NHWC batch: (N, H, W, C) to (N, C).
    pub fn global_avg_pool2d(&self) -> Result<Tensor> {
        nhwc("global_avg_pool2d", self)?;
        self.mean(&[1, 2], false)
    }
}

/// Routes the output gradient to the tap of each window that won, which the forward pass
/// recorded (a window offset, so it needs no index wider than the window, whatever the batch).
struct MaxPoolBackward {
    batch: usize,
    geometry: Conv2dGeometry,
    taps: Storage,
}

impl Backward for MaxPoolBackward {
    fn name(&self) -> &'static str {
        "max_pool2d"
    }

    fn backward(&self, grad: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let (g, batch) = (&self.geometry, self.batch);
        let dx = grad.storage().max_pool_backward(&self.taps, g, batch)?;
        Ok(vec![Some(Tensor::from_storage(dx, g.input_shape(batch)))])
    }
}

struct AvgPoolBackward {
    batch: usize,
    geometry: Conv2dGeometry,
}

impl Backward for AvgPoolBackward {
    fn name(&self) -> &'static str {
        "avg_pool2d"
    }

    fn backward(&self, grad: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let (g, batch) = (&self.geometry, self.batch);
        let dx = grad.storage().avg_pool_backward(g, batch)?;
        Ok(vec![Some(Tensor::from_storage(dx, g.input_shape(batch)))])
    }
}
