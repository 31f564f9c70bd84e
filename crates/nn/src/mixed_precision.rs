//! Mixed precision as Keras's `mixed_float16` policy has it: the weights, their gradients and
//! the optimizer's state stay f32, while every layer computes in f16 — its inputs and a copy of
//! its weights cast to f16 for each pass, its outputs f16 — and the model's outputs come back as
//! f32 for the losses and metrics. A dynamic loss scale keeps small f16 gradients from flushing
//! to zero: the loss is multiplied by the scale before the backward pass and the gradients
//! divided by it after; a step whose gradients overflowed is skipped and the scale halved, and
//! after 2,000 good steps in a row it doubles (Keras's `LossScaleOptimizer` defaults).

use tensor_core::{DType, Tensor};

use crate::{NnError, Result};

/// How a model's layers compute, by Keras's policy names.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Policy {
    /// Everything in the weights' dtype.
    #[default]
    Float32,
    /// Layers compute in f16 from f32 weights, with loss scaling.
    MixedFloat16,
}

impl Policy {
    /// The policy Keras calls `name` (`"float32"` or `"mixed_float16"`).
    pub fn from_name(name: &str) -> Result<Policy> {
        match name {
            "float32" => Ok(Policy::Float32),
            "mixed_float16" => Ok(Policy::MixedFloat16),
            other => Err(NnError::Usage(format!(
                "unknown dtype policy \"{other}\": expected \"float32\" or \"mixed_float16\""
            ))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Policy::Float32 => "float32",
            Policy::MixedFloat16 => "mixed_float16",
        }
    }

    /// The dtype layers compute in, when it differs from their weights'.
    pub(crate) fn compute_dtype(self) -> Option<DType> {
        match self {
            Policy::Float32 => None,
            Policy::MixedFloat16 => Some(DType::F16),
        }
    }
}

/// The dynamic loss scale of a model trained in mixed precision.
#[derive(Clone, Debug, PartialEq)]
pub struct LossScale {
    scale: f64,
    /// Steps with finite gradients since the scale last changed.
    good_steps: u32,
}

impl LossScale {
    /// Keras's `initial_scale` (2^15) and `dynamic_growth_steps`.
    const INITIAL: f64 = 32_768.0;
    const GROWTH_STEPS: u32 = 2_000;

    pub(crate) fn new() -> LossScale {
        LossScale { scale: LossScale::INITIAL, good_steps: 0 }
    }

    /// The factor the loss is multiplied by before the backward pass.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// Records whether a step's gradients were finite, and says whether to apply them.
    pub(crate) fn after_step(&mut self, finite: bool) -> bool {
        if !finite {
            self.scale = (self.scale / 2.0).max(1.0);
            self.good_steps = 0;
            return false;
        }
        self.good_steps += 1;
        if self.good_steps == LossScale::GROWTH_STEPS {
            self.scale *= 2.0;
            self.good_steps = 0;
        }
        true
    }
}

/// Whether every gradient is finite: one sum over all of them, read back (an infinity or a NaN
/// anywhere makes it non-finite).
pub(crate) fn all_finite(gradients: &[(u64, Tensor, Tensor)]) -> Result<bool> {
    let mut total: Option<Tensor> = None;
    for (_, _, g) in gradients {
        let sum = g.sum_all()?;
        total = Some(match total {
            None => sum,
            Some(t) => t.add(&sum)?,
        });
    }
    match total {
        None => Ok(true),
        Some(t) => Ok(t.to_vec_f64()?.iter().all(|v| v.is_finite())),
    }
}

#[cfg(test)]
mod tests {
    use super::LossScale;

    #[test]
    fn the_loss_scale_halves_on_overflow_and_doubles_after_2000_good_steps() {
        let mut scale = LossScale::new();
        assert_eq!(scale.scale(), 32_768.0);
        assert!(!scale.after_step(false), "an overflowed step is skipped");
        assert_eq!(scale.scale(), 16_384.0);
        for _ in 0..1_999 {
            assert!(scale.after_step(true));
        }
        assert_eq!(scale.scale(), 16_384.0);
        assert!(scale.after_step(true));
        assert_eq!(scale.scale(), 32_768.0);
        // An overflow restarts the count; the scale never falls below 1.
        for _ in 0..40 {
            scale.after_step(false);
        }
        assert_eq!(scale.scale(), 1.0);
    }
}
