//! Looking inside a training step without taking it: how large the loss gradient is at each
//! weight, the figure that shows gradients vanishing in the early layers of a deep sigmoid
//! network, or exploding.

use tensor_core::Tensor;

use super::Inputs;
use crate::io::named_weights;
use crate::{Model, Result, Weight};

impl Model {
    /// The L2 norm of the gradient of the loss on the batch `x`, `y` with respect to each
    /// trainable weight, named "layer/weight" ("dense_1/kernel", "dense_1/bias", ...) in layer
    /// order. The loss is the compiled one, regularization included, computed as a training
    /// step computes it (dropout on, batch statistics in BatchNormalization, the dropout masks
    /// the next `train_on_batch` would draw); nothing is updated, neither the weights nor the
    /// optimizer. A weight the loss does not depend on has norm 0; frozen weights are left out.
    ///
    /// Keras users read the kernels' norms: `.ends_with("/kernel")` picks them out.
    pub fn gradient_norms(&mut self, x: impl Into<Inputs>, y: &Tensor) -> Result<Vec<(String, f64)>> {
        let (inputs, targets, seed) = self.whole_batch(x.into(), y, "gradient_norms")?;
        let pass = self.backward_pass(&inputs, &targets, seed, "gradient_norms")?;

        let trainable: Vec<(String, &Weight)> =
            named_weights(self).into_iter().filter(|(_, w)| w.trainable()).collect();
        if trainable.is_empty() {
            return Ok(Vec::new());
        }
        // Each sum of squares is reduced on the device and all are read back together: one
        // transfer however many weights there are.
        let squares = trainable
            .iter()
            .map(|(_, weight)| match pass.gradients.iter().find(|(id, _, _)| *id == weight.id()) {
                Some((_, _, gradient)) => gradient.square()?.sum_all()?.reshape([1]),
                None => Tensor::zeros([1], weight.value().dtype(), weight.value().device()),
            })
            .collect::<tensor_core::Result<Vec<_>>>()?;
        let sums = Tensor::concat(&squares.iter().collect::<Vec<_>>(), 0)?.to_vec_f64()?;
        Ok(trainable.into_iter().zip(sums).map(|((name, _), sum)| (name, sum.sqrt())).collect())
    }
}
