//! Depthwise 2-D convolution of NHWC image batches: each channel convolved with kernels of its
//! own, in one pass over the images (no window data written out).

use super::conv::{check_kernel_channels, of_images};
use crate::autodiff::{Backward, record};
use crate::backend::{Conv2dGeometry, Padding};
use crate::{Error, Result, Tensor};

impl Tensor {
    /// Depthwise convolution (cross-correlation, as in Keras) of an NHWC batch (N, H, W, C)
    /// with a (KH, KW, C, M) kernel, giving (N, OH, OW, C * M): output channel `c * M + m` is
    /// input channel c under its kernel m, Keras's `DepthwiseConv2D` order. No bias: add one by
    /// broadcasting.
    pub fn depthwise_conv2d(
        &self,
        kernel: &Tensor,
        strides: (usize, usize),
        padding: Padding,
    ) -> Result<Tensor> {
        let op = "depthwise_conv2d";
        self.same_kind(op, kernel)?;
        let &[kh, kw, kc, multiplier] = kernel.dims() else {
            return Err(Error::shape(
                op,
                format!("expected a kernel of shape (KH, KW, C, M), got {}", kernel.shape()),
            ));
        };
        if multiplier == 0 {
            return Err(Error::shape(
                op,
                format!("kernel {} has no kernels per channel (M = 0)", kernel.shape()),
            ));
        }
        let (batch, geometry) = of_images(op, self, (kh, kw), strides, padding)?;
        check_kernel_channels(op, kernel, kc, self, geometry.channels)?;
        let out_channels = kc.checked_mul(multiplier).ok_or_else(|| {
            Error::shape(op, format!("{kc} channels times {multiplier} kernels each overflows"))
        })?;
        let shape = geometry.output_shape(batch, out_channels);
        crate::tensor::reserve_output(op, &shape, self.dtype(), self.device())?;
        let storage = self.storage().depthwise_conv2d(&kernel.storage(), &geometry, multiplier, batch)?;
        let out = Tensor::from_storage(storage, shape);
        record(out, &[self, kernel], || {
            Box::new(DepthwiseConv2dBackward {
                x: self.detach(),
                kernel: kernel.detach(),
                geometry,
                multiplier,
                batch,
            })
        })
    }
}

/// The gradients of [`Tensor::depthwise_conv2d`], from one backend call.
struct DepthwiseConv2dBackward {
    x: Tensor,
    kernel: Tensor,
    geometry: Conv2dGeometry,
    multiplier: usize,
    batch: usize,
}

impl Backward for DepthwiseConv2dBackward {
    fn name(&self) -> &'static str {
        "depthwise_conv2d"
    }

    fn backward(&self, grad: &Tensor, needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let (dx, dkernel) = self.x.storage().depthwise_conv2d_backward(
            &self.kernel.storage(),
            &grad.storage(),
            &self.geometry,
            self.multiplier,
            self.batch,
            [needs[0], needs[1]],
        )?;
        Ok(vec![
            dx.map(|d| Tensor::from_storage(d, self.x.shape().clone())),
            dkernel.map(|d| Tensor::from_storage(d, self.kernel.shape().clone())),
        ])
    }
}
