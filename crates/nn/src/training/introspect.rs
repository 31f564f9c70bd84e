//! Looking inside a training step without taking it: how large the loss gradient is at each
//! weight, the figure that shows gradients vanishing in the early layers of a deep sigmoid
//! network, or exploding.

use tensor_core::Tensor;

use super::{Inputs, Targets};
use crate::io::named_weights;
use crate::{Model, Result};

impl Model {
    /// The gradient of the loss on the batch `x`, `y` (one target tensor per output; for several
    /// outputs the loss is their weighted sum) with respect to each trainable weight,
    /// named "layer/weight" in layer order (what `tf.GradientTape` or `jax.grad` give a Keras
    /// user). The loss is the compiled one, regularization included, computed as a training step
    /// computes it (dropout on, batch statistics in BatchNormalization, the dropout masks the
    /// next `train_on_batch` would draw); nothing changes: not the weights, not
    /// BatchNormalization's moving statistics, not the optimizer. A weight the loss does not
    /// depend on gets zeros; frozen weights are left out.
    pub fn gradients(
        &mut self,
        x: impl Into<Inputs>,
        y: impl Into<Targets>,
    ) -> Result<Vec<(String, Tensor)>> {
        self.named_gradients(x.into(), y.into(), "gradients")
    }

    /// The L2 norm of each of [`Model::gradients`], with the same names and the same promise
    /// that nothing changes. Keras users read the kernels' norms: `.ends_with("/kernel")` picks
    /// them out.
    pub fn gradient_norms(
        &mut self,
        x: impl Into<Inputs>,
        y: impl Into<Targets>,
    ) -> Result<Vec<(String, f64)>> {
        let gradients = self.named_gradients(x.into(), y.into(), "gradient_norms")?;
        if gradients.is_empty() {
            return Ok(Vec::new());
        }
        // Each sum of squares is reduced on the device and all are read back together: one
        // transfer however many weights there are.
        let squares = gradients
            .iter()
            .map(|(_, gradient)| gradient.square()?.sum_all()?.reshape([1]))
            .collect::<tensor_core::Result<Vec<_>>>()?;
        let sums = Tensor::concat(&squares.iter().collect::<Vec<_>>(), 0)?.to_vec_f64()?;
        Ok(gradients.into_iter().zip(sums).map(|((name, _), sum)| (name, sum.sqrt())).collect())
    }

    /// [`Model::gradients`] for `call` (named in errors).
    fn named_gradients(&mut self, x: Inputs, y: Targets, call: &str) -> Result<Vec<(String, Tensor)>> {
        let (inputs, targets, seed) = self.whole_batch(x, y, call)?;
        // The pass's state updates are dropped: looking changes nothing.
        let pass = self.backward_pass(&inputs, &targets, None, seed, call)?;
        named_weights(self)
            .into_iter()
            .filter(|(_, w)| w.trainable())
            .map(|(name, weight)| {
                let gradient = match pass.gradients.iter().find(|(id, _, _)| *id == weight.id()) {
                    Some((_, _, gradient)) => gradient.clone(),
                    None => weight.value().zeros_like()?,
                };
                Ok((name, gradient))
            })
            .collect()
    }
}
