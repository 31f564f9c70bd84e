//! Batch normalization over every axis but the channel axis, with Keras's semantics.
//!
//! Keras's BatchNormalization layer (which `nn` builds on these) defaults to `axis = -1`,
//! `momentum = 0.99` and `epsilon = 1e-3`, and after each training step updates its moving
//! statistics as `moving = moving * momentum + batch * (1 - momentum)`, with the biased batch
//! variance that [`Tensor::batch_norm_train`] returns.

use crate::autodiff::{Backward, record};
use crate::backend::{AxisSplit, BatchNormConfig};
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
        let (axis, _) = channel_layout(op, self, axis, &[("gamma", gamma), ("beta", beta)])?;
        let split = AxisSplit::new(self.shape(), axis);
        let count = split.outer * split.inner;
        if count == 0 {
            return Err(Error::shape(
                op,
                format!("input {} has no values per channel to average", self.shape()),
            ));
        }
        let p = BatchNormConfig { split, epsilon };
        let (y, mean, var) = self.storage().batch_norm_train(&gamma.storage(), &beta.storage(), p)?;
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
/// them; the gradients come from one fused backend op.
struct BatchNormTrainBackward {
    x: Tensor,
    gamma: Tensor,
    mean: Tensor,
    var: Tensor,
    params: BatchNormConfig,
}

impl Backward for BatchNormTrainBackward {
    fn name(&self) -> &'static str {
        "batch_norm_train"
    }

    fn backward(&self, grad: &Tensor, needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let (dx, d_gamma, d_beta) = self.x.storage().batch_norm_backward(
            &self.gamma.storage(),
            &self.mean.storage(),
            &self.var.storage(),
            &grad.storage(),
            self.params,
        )?;
        let channels = self.gamma.shape();
        Ok(vec![
            needs[0].then(|| Tensor::from_storage(dx, self.x.shape().clone())),
            Some(Tensor::from_storage(d_gamma, channels.clone())),
            Some(Tensor::from_storage(d_beta, channels.clone())),
        ])
    }
}
