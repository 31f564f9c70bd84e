//! Max, average and global average pooling of NHWC image batches.

use super::conv::nhwc;
use crate::autodiff::{Backward, record};
use crate::cpu::{self, for_dtype};
use crate::gpu::kernels::pool::{self as gpu_pool, WinningTaps};
use crate::storage::Storage;
use crate::{Conv2dGeometry, Device, Error, Padding, Result, Shape, Tensor};

/// Where each max-pooling output came from, on the input's device: flat indices into the input
/// on the CPU; on a GPU, the winning tap of each window (which needs no index wider than the
/// window, whatever the size of the batch).
enum Argmax {
    Cpu(Vec<usize>),
    Gpu(WinningTaps),
}

impl Argmax {
    fn device(&self) -> Device {
        match self {
            Argmax::Cpu(_) => Device::Cpu,
            Argmax::Gpu(taps) => Device::Gpu(taps.device().clone()),
        }
    }
}

/// The output shape of pooling `batch` images with `g`.
fn pooled_shape(batch: usize, g: &Conv2dGeometry) -> Shape {
    Shape::new([batch, g.out_h, g.out_w, g.channels])
}

/// The input shape of pooling `batch` images with `g`.
fn image_shape(batch: usize, g: &Conv2dGeometry) -> Shape {
    Shape::new([batch, g.in_h, g.in_w, g.channels])
}

/// Max pooling without recording: the output and the argmax of every output element.
fn max_pool_forward(x: &Tensor, batch: usize, g: &Conv2dGeometry) -> Result<(Tensor, Argmax)> {
    let (storage, argmax) = match &*x.storage() {
        Storage::Cpu(s) => for_dtype!(x.dtype(), T => {
            let (out, argmax) = cpu::pool::max_pool::<T>(g, batch, s.typed());
            (Storage::Cpu(T::into_storage(out)), Argmax::Cpu(argmax))
        }),
        Storage::Gpu(s) => {
            let (out, taps) = gpu_pool::max_pool(s, g, batch)?;
            (Storage::Gpu(out), Argmax::Gpu(taps))
        }
    };
    Ok((Tensor::from_storage(storage, pooled_shape(batch, g)), argmax))
}

/// Routes a max-pooling output gradient to the input elements that won, untracked.
fn max_pool_backward(grad: &Tensor, argmax: &Argmax, batch: usize, g: &Conv2dGeometry) -> Result<Tensor> {
    let input = image_shape(batch, g);
    let storage = match (&*grad.storage(), argmax) {
        (Storage::Cpu(s), Argmax::Cpu(argmax)) => {
            Storage::Cpu(for_dtype!(grad.dtype(), T => T::into_storage(
                cpu::pool::max_pool_backward::<T>(s.typed(), argmax, input.numel())
            )))
        }
        (Storage::Gpu(s), Argmax::Gpu(taps)) => Storage::Gpu(gpu_pool::max_pool_backward(s, taps, g, batch)?),
        _ => {
            return Err(Error::Autodiff(format!(
                "max_pool2d: the output gradient is on {}, but the forward pass ran on {}",
                grad.device(),
                argmax.device()
            )));
        }
    };
    Ok(Tensor::from_storage(storage, input))
}

/// Average pooling without recording.
fn avg_pool_forward(x: &Tensor, batch: usize, g: &Conv2dGeometry) -> Result<Tensor> {
    let storage = match &*x.storage() {
        Storage::Cpu(s) => Storage::Cpu(for_dtype!(x.dtype(), T => T::into_storage(
            cpu::pool::avg_pool::<T>(g, batch, s.typed())
        ))),
        Storage::Gpu(s) => Storage::Gpu(gpu_pool::avg_pool(s, g, batch)?),
    };
    Ok(Tensor::from_storage(storage, pooled_shape(batch, g)))
}

/// Spreads an average-pooling output gradient over the windows, untracked.
fn avg_pool_backward(grad: &Tensor, batch: usize, g: &Conv2dGeometry) -> Result<Tensor> {
    let storage = match &*grad.storage() {
        Storage::Cpu(s) => Storage::Cpu(for_dtype!(grad.dtype(), T => T::into_storage(
            cpu::pool::avg_pool_backward::<T>(g, batch, s.typed())
        ))),
        Storage::Gpu(s) => Storage::Gpu(gpu_pool::avg_pool_backward(s, g, batch)?),
    };
    Ok(Tensor::from_storage(storage, image_shape(batch, g)))
}

impl Tensor {
    /// The maximum of each `pool` window of an NHWC batch, per channel. Padding never wins,
    /// as if it were -inf (TensorFlow's rule).
    pub fn max_pool2d(
        &self,
        pool: (usize, usize),
        strides: (usize, usize),
        padding: Padding,
    ) -> Result<Tensor> {
        let (batch, g) = Conv2dGeometry::of_images("max_pool2d", self, pool, strides, padding)?;
        let (out, argmax) = max_pool_forward(self, batch, &g)?;
        record(out, &[self], || Box::new(MaxPoolBackward { batch, geometry: g, argmax }))
    }

    /// The mean of each `pool` window of an NHWC batch, per channel. A window overlapping
    /// `same` padding averages only the pixels it covers, as Keras does.
    pub fn avg_pool2d(
        &self,
        pool: (usize, usize),
        strides: (usize, usize),
        padding: Padding,
    ) -> Result<Tensor> {
        let (batch, g) = Conv2dGeometry::of_images("avg_pool2d", self, pool, strides, padding)?;
        let out = avg_pool_forward(self, batch, &g)?;
        record(out, &[self], || Box::new(AvgPoolBackward { batch, geometry: g }))
    }

    /// The mean over height and width of an NHWC batch: (N, H, W, C) to (N, C).
    pub fn global_avg_pool2d(&self) -> Result<Tensor> {
        nhwc("global_avg_pool2d", self)?;
        self.mean(&[1, 2], false)
    }
}

struct MaxPoolBackward {
    batch: usize,
    geometry: Conv2dGeometry,
    argmax: Argmax,
}

impl Backward for MaxPoolBackward {
    fn name(&self) -> &'static str {
        "max_pool2d"
    }

    fn backward(&self, grad: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(max_pool_backward(grad, &self.argmax, self.batch, &self.geometry)?)])
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
        Ok(vec![Some(avg_pool_backward(grad, self.batch, &self.geometry)?)])
    }
}
