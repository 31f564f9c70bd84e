//! Inputs and targets kept together, so that shuffling, splitting and batching move both alike.

use tensor_core::{Tensor, rng};

use crate::{NnError, Result};

/// A random permutation of `0..n`, fixed by `seed`: Fisher–Yates driven by the counter-based
/// generator of [`tensor_core::rng`]. Use one permutation for inputs and targets together (as
/// [`Dataset::shuffled`] does) so that pairs stay aligned.
pub fn permutation(n: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        // Lemire's multiply-shift maps 32 random bits onto 0..=i without a division. The
        // stream position is `i` truncated to 32 bits, which only repeats past 4 billion samples.
        let j = (u64::from(rng::random_bits(seed, i as u32)) * (i as u64 + 1)) >> 32;
        order.swap(i, j as usize);
    }
    order
}

/// Inputs `x` and targets `y` with one entry per sample along their first axis.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub x: Tensor,
    pub y: Tensor,
}

impl Dataset {
    /// Pairs `x` and `y`, which must hold the same number of samples (their first dimension).
    pub fn new(x: Tensor, y: Tensor) -> Result<Dataset> {
        match (x.dims().first(), y.dims().first()) {
            (Some(nx), Some(ny)) if nx == ny => Ok(Dataset { x, y }),
            _ => Err(NnError::Data(format!(
                "Dataset: x has shape {} and y has shape {}; both need the samples along their first axis, \
                 the same number of them",
                x.shape(),
                y.shape()
            ))),
        }
    }

    /// The number of samples.
    pub fn len(&self) -> usize {
        self.x.dims()[0]
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The samples at `indices`, in that order (an index may repeat).
    pub fn select(&self, indices: &[usize]) -> Result<Dataset> {
        Ok(Dataset { x: self.x.gather_rows(indices)?, y: self.y.gather_rows(indices)? })
    }

    /// The samples in the order of [`permutation`]`(self.len(), seed)`.
    pub fn shuffled(&self, seed: u64) -> Result<Dataset> {
        self.select(&permutation(self.len(), seed))
    }

    /// Samples `start..end`.
    fn range(&self, start: usize, end: usize) -> Result<Dataset> {
        Ok(Dataset { x: self.x.slice(0, start, end)?, y: self.y.slice(0, start, end)? })
    }

    /// Splits into (training, validation), the validation part being the last `fraction` of
    /// the samples, as Keras's `validation_split` takes them (the first
    /// `floor(len * (1 - fraction))` samples train). Shuffle first for a random split. Both
    /// parts must be non-empty.
    pub fn split_validation(&self, fraction: f64) -> Result<(Dataset, Dataset)> {
        if !(fraction > 0.0 && fraction < 1.0) {
            return Err(NnError::Data(format!(
                "split_validation: fraction must be in (0, 1), got {fraction}"
            )));
        }
        let n = self.len();
        let split_at = (n as f64 * (1.0 - fraction)).floor() as usize;
        if split_at == 0 || split_at == n {
            return Err(NnError::Data(format!(
                "split_validation: {n} samples are too few to hold out a fraction {fraction} \
                 with both parts non-empty"
            )));
        }
        Ok((self.range(0, split_at)?, self.range(split_at, n)?))
    }

    /// Consecutive batches of `batch_size` samples; the last holds the remainder.
    pub fn batches(&self, batch_size: usize) -> Result<impl Iterator<Item = Result<Dataset>> + '_> {
        if batch_size == 0 {
            return Err(NnError::Data("batches: batch_size must be at least 1".into()));
        }
        let n = self.len();
        Ok((0..n).step_by(batch_size).map(move |start| self.range(start, (start + batch_size).min(n))))
    }
}
