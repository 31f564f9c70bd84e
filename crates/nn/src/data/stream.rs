//! Data made batch by batch on the host, for `fit_stream`, `evaluate_stream` and
//! `predict_stream`: what Keras's `model.fit` takes as a `tf.data.Dataset` or a `Sequence`.

use tensor_core::Tensor;

use crate::Result;

/// One batch as a stream makes it: the model's inputs (one tensor per model input, the samples
/// along the first axis), the targets if the data is labelled, and per-sample loss weights if
/// any (shape `(batch,)`). The tensors may live on any device; training moves them to the
/// model's.
#[derive(Clone, Debug)]
pub struct HostBatch {
    pub inputs: Vec<Tensor>,
    pub targets: Option<Tensor>,
    pub sample_weights: Option<Tensor>,
}

/// A source of batches with a known number of steps per epoch, made anew for each epoch (a
/// shuffling stream reshuffles from its seed and the epoch, so a run repeats exactly).
///
/// Dropping an epoch's iterator before its end ends the epoch: a stream with worker threads
/// stops them then. Implement it to feed `fit_stream` from any source:
///
/// ```
/// use nn::data::{BatchStream, HostBatch};
/// use nn::{Device, Result, Tensor};
///
/// /// Batches of `y = 2x` made on the fly.
/// struct Doubling { batches: usize }
///
/// impl BatchStream for Doubling {
///     fn steps_per_epoch(&self) -> usize {
///         self.batches
///     }
///
///     fn epoch(&mut self, _epoch: usize) -> Result<Box<dyn Iterator<Item = Result<HostBatch>> + '_>> {
///         Ok(Box::new((0..self.batches).map(|b| {
///             let x: Vec<f32> = (0..4).map(|i| (b * 4 + i) as f32).collect();
///             let y: Vec<f32> = x.iter().map(|v| 2.0 * v).collect();
///             Ok(HostBatch {
///                 inputs: vec![Tensor::from_vec(x, [4, 1], &Device::Cpu)?],
///                 targets: Some(Tensor::from_vec(y, [4, 1], &Device::Cpu)?),
///                 sample_weights: None,
///             })
///         })))
///     }
/// }
/// ```
pub trait BatchStream {
    /// How many batches an epoch has (what the progress bar counts to). An epoch's iterator
    /// may end sooner; batches past this many are not read.
    fn steps_per_epoch(&self) -> usize;

    /// The batches of epoch `epoch` (counted from 0), in order.
    fn epoch(&mut self, epoch: usize) -> Result<Box<dyn Iterator<Item = Result<HostBatch>> + '_>>;
}
