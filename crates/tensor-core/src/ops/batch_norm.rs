//! Batch normalization over every axis but the channel axis, with Keras's semantics.
//!
//! Keras's BatchNormalization layer (which `nn` builds on these) defaults to `axis = -1`,
//! `momentum = 0.99` and `epsilon = 1e-3`, and after each training step updates its moving
//! statistics as `moving = moving * momentum + batch * (1 - momentum)`, with the biased batch
//! variance that [`Tensor::batch_norm_train`] returns.

use crate::autodiff::{Backward, record};
use crate::cpu::batch_norm::BatchNormParams;
use crate::cpu::layout::AxisSplit;
use crate::cpu::{self, for_dtype};
use crate::gpu;
use crate::storage::Storage;
use crate::{Error, Result, Shape, Tensor};

/// The channel axis of `x` and the shape (1, .., C, .., 1) that per-channel vectors broadcast
/// from, after checking that each of `per_channel` (name, tensor) is a (C,) vector like `x`.
fn channel_layout(
    op: &'static str,
    x: &Tensor,
    axis: isize,
    per_channel: &[(&str, &Tensor)],
) -> Result<(usize, Shape)> {
    let axis = x.shape().axis(op, axis)?;
    let channels = x.shape().dim(axis);
    for (name, t) in per_channel {
        x.same_kind(op, t)?;
        if t.dims() != [channels] {
            return Err(Error::shape(
                op,
                format!(
                    "expected {name} of shape ({channels},) for input {} on axis {axis}, got {}",
                    x.shape(),
                    t.shape()
                ),
            ));
        }
    }
    let mut dims = vec![1; x.rank()];
    dims[axis] = channels;
    Ok((axis, Shape::new(dims)))
}

fn check_epsilon(op: &'static str, epsilon: f64) -> Result<()> {
    if epsilon.is_finite() && epsilon >= 0.0 {
        Ok(())
    } else {
        Err(Error::argument(op, format!("epsilon must be finite and >= 0, got {epsilon}")))
    }
}

impl Tensor {
    /// Normalizes with the batch's own statistics over every axis but `axis` (the channel axis;
    /// -1, the last, is Keras's default): `gamma * (x - mean) / sqrt(var + epsilon) + beta`.
    /// Returns the output and the per-channel batch mean and biased variance; those two are
    /// untracked, since they only feed the moving averages. One recorded op, whose backward
    /// gives the gradients of `self`, `gamma` and `beta`.
    pub fn batch_norm_train(
        &self,
        gamma: &Tensor,
        beta: &Tensor,
        axis: isize,
        epsilon: f64,
    ) -> Result<(Tensor, Tensor, Tensor)> {
        let op = "batch_norm_train";
        check_epsilon(op, epsilon)?;
        let (axis, channel_shape) = channel_layout(op, self, axis, &[("gamma", gamma), ("beta", beta)])?;
        let split = AxisSplit::new(self.shape(), axis);
        let count = split.outer * split.inner;
        if count == 0 {
            return Err(Error::shape(
                op,
                format!("input {} has no values per channel to average", self.shape()),
            ));
        }
        let p = BatchNormParams { split, epsilon };
        let (y, mean, var) = match (&*self.storage(), &*gamma.storage(), &*beta.storage()) {
            (Storage::Cpu(x), Storage::Cpu(g), Storage::Cpu(b)) => for_dtype!(self.dtype(), T => {
                let (y, mean, var) = cpu::batch_norm::batch_norm_train::<T>(p, x.typed(), g.typed(), b.typed());
                (Storage::Cpu(T::into_storage(y)), Storage::Cpu(T::into_storage(mean)), Storage::Cpu(T::into_storage(var)))
            }),
            (Storage::Gpu(x), Storage::Gpu(g), Storage::Gpu(b)) => {
                let (y, mean, var) = gpu::kernels::batch_norm::batch_norm_train(p, x, g, b)?;
                (Storage::Gpu(y), Storage::Gpu(mean), Storage::Gpu(var))
            }
            _ => return Err(super::mixed_devices(op, self, gamma)),
        };
        let channels = Shape::new([split.len]);
        let mean = Tensor::from_storage(mean, channels.clone());
        let var = Tensor::from_storage(var, channels);
        let y = record(Tensor::from_storage(y, self.shape().clone()), &[self, gamma, beta], || {
            Box::new(BatchNormTrainBackward {
                x: self.detach(),
                gamma: gamma.detach(),
                mean: mean.clone(),
                var: var.clone(),
                params: p,
                axis,
                channel_shape,
            })
        })?;
        Ok((y, mean, var))
    }

    /// Normalizes with given statistics (the moving mean and variance, in inference):
    /// `gamma * (x - mean) / sqrt(var + epsilon) + beta` along the channel `axis`.
    /// Differentiable with respect to every input.
    pub fn batch_norm_infer(
        &self,
        gamma: &Tensor,
        beta: &Tensor,
        moving_mean: &Tensor,
        moving_var: &Tensor,
        axis: isize,
        epsilon: f64,
    ) -> Result<Tensor> {
        let op = "batch_norm_infer";
        check_epsilon(op, epsilon)?;
        let per_channel =
            [("gamma", gamma), ("beta", beta), ("moving_mean", moving_mean), ("moving_var", moving_var)];
        let (_, shape) = channel_layout(op, self, axis, &per_channel)?;
        let scale = gamma.div(&moving_var.add_scalar(epsilon)?.sqrt()?)?.reshape(shape.clone())?;
        self.sub(&moving_mean.reshape(shape.clone())?)?.mul(&scale)?.add(&beta.reshape(shape)?)
    }
}

/// Saves the input, gamma and the batch statistics, all (C,) vectors as the forward pass saw
/// them. On a GPU the gradients come from one fused kernel; elsewhere they are composed from
/// tensor ops (the rule the CPU gradient checks vouch for, and the GPU kernel is compared with).
struct BatchNormTrainBackward {
    x: Tensor,
    gamma: Tensor,
    mean: Tensor,
    var: Tensor,
    params: BatchNormParams,
    axis: usize,
    /// (1, .., C, .., 1), for broadcasting the per-channel vectors against `x`.
    channel_shape: Shape,
}

impl BatchNormTrainBackward {
    /// The gradients of x (when `needs_x`), gamma and beta, composed from tensor ops:
    /// with x_hat = (x - mean) * rstd, d_beta = sum(g), d_gamma = sum(g * x_hat) and
    /// dx = gamma * rstd / M * (M * g - d_beta - x_hat * d_gamma), summing over every axis but
    /// the channel axis (M values per channel).
    fn composed(&self, grad: &Tensor, needs_x: bool) -> Result<(Option<Tensor>, Tensor, Tensor)> {
        let shape = &self.channel_shape;
        let count = (self.params.split.outer * self.params.split.inner) as f64;
        let reduced: Vec<isize> =
            (0..self.x.rank()).filter(|&a| a != self.axis).map(|a| a as isize).collect();
        let gamma = self.gamma.with_shape(shape.clone());
        let rstd = self.var.add_scalar(self.params.epsilon)?.powf(-0.5)?.with_shape(shape.clone());
        let x_hat = self.x.sub(&self.mean.with_shape(shape.clone()))?.mul(&rstd)?;
        let d_beta = grad.sum(&reduced, true)?;
        let d_gamma = grad.mul(&x_hat)?.sum(&reduced, true)?;
        let d_x = needs_x
            .then(|| {
                let centered = grad.mul_scalar(count)?.sub(&d_beta)?.sub(&x_hat.mul(&d_gamma)?)?;
                centered.mul(&gamma.mul(&rstd)?.mul_scalar(1.0 / count)?)
            })
            .transpose()?;
        let channels = self.gamma.shape().clone();
        Ok((d_x, d_gamma.with_shape(channels.clone()), d_beta.with_shape(channels)))
    }
}

impl Backward for BatchNormTrainBackward {
    fn name(&self) -> &'static str {
        "batch_norm_train"
    }

    fn backward(&self, grad: &Tensor, needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let fused = match (
            &*self.x.storage(),
            &*self.gamma.storage(),
            &*self.mean.storage(),
            &*self.var.storage(),
            &*grad.storage(),
        ) {
            (
                Storage::Gpu(x),
                Storage::Gpu(gamma),
                Storage::Gpu(mean),
                Storage::Gpu(var),
                Storage::Gpu(g),
            ) => Some(gpu::kernels::batch_norm::batch_norm_train_grad(self.params, x, gamma, mean, var, g)?),
            _ => None,
        };
        let (d_x, d_gamma, d_beta) = match fused {
            Some((d_x, d_gamma, d_beta)) => {
                let channels = self.gamma.shape();
                (
                    needs[0].then(|| Tensor::from_storage(Storage::Gpu(d_x), self.x.shape().clone())),
                    Tensor::from_storage(Storage::Gpu(d_gamma), channels.clone()),
                    Tensor::from_storage(Storage::Gpu(d_beta), channels.clone()),
                )
            }
            None => self.composed(grad, needs[0])?,
        };
        Ok(vec![d_x, Some(d_gamma), Some(d_beta)])
    }
}
