//! Weight penalties added to the loss, as Keras's `kernel_regularizer`.

use tensor_core::Tensor;

use crate::Result;
use crate::layers::KerasName;

/// A penalty on a weight's values: `l1 * sum(|w|)`, `l2 * sum(w²)` (no factor 1/2, as Keras),
/// or both.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Regularizer {
    /// `l1 * sum(|w|)`.
    L1(f64),
    /// `l2 * sum(w²)`.
    L2(f64),
    /// Both penalties.
    L1L2 { l1: f64, l2: f64 },
}

impl Regularizer {
    /// The factor Keras's `"l1"`, `"l2"` and `"l1_l2"` use.
    pub const DEFAULT_FACTOR: f64 = 0.01;

    /// Keras's `L1()`: factor 0.01.
    pub fn l1() -> Regularizer {
        Regularizer::L1(Self::DEFAULT_FACTOR)
    }

    /// Keras's `L2()`: factor 0.01.
    pub fn l2() -> Regularizer {
        Regularizer::L2(Self::DEFAULT_FACTOR)
    }

    /// `l1_l2()` with both factors 0.01 (the defaults of the notes' `regularizers.l1_l2`).
    pub fn l1_l2() -> Regularizer {
        Regularizer::L1L2 { l1: Self::DEFAULT_FACTOR, l2: Self::DEFAULT_FACTOR }
    }

    /// The penalty for `weight`, a scalar tensor (differentiable when `weight` is watched).
    pub fn penalty(&self, weight: &Tensor) -> Result<Tensor> {
        let (l1, l2) = match *self {
            Regularizer::L1(l1) => (l1, 0.0),
            Regularizer::L2(l2) => (0.0, l2),
            Regularizer::L1L2 { l1, l2 } => (l1, l2),
        };
        let l1_term = || -> Result<Tensor> { Ok(weight.abs()?.sum_all()?.mul_scalar(l1)?) };
        let l2_term = || -> Result<Tensor> { Ok(weight.square()?.sum_all()?.mul_scalar(l2)?) };
        match (l1 != 0.0, l2 != 0.0) {
            (true, true) => Ok(l1_term()?.add(&l2_term()?)?),
            (true, false) => l1_term(),
            _ => l2_term(),
        }
    }
}

impl KerasName for Regularizer {
    const KIND: &'static str = "regularizer";
    const NAMES: &'static [&'static str] = &["l1", "l2", "l1_l2"];

    fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "l1" => Some(Regularizer::l1()),
            "l2" => Some(Regularizer::l2()),
            "l1_l2" | "l1l2" => Some(Regularizer::l1_l2()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use tensor_core::Device;

    use super::*;

    #[test]
    fn penalties_match_keras_formulas() {
        // w = [1, -2, 3]: sum|w| = 6, sum w² = 14. Exact up to one rounding of the factors.
        let w = Tensor::from_slice(&[1.0f64, -2.0, 3.0], [3], &Device::Cpu).unwrap();
        let value = |r: Regularizer| r.penalty(&w).unwrap().item().unwrap();
        assert!((value(Regularizer::l1()) - 0.06).abs() < 1e-15);
        assert!((value(Regularizer::L2(0.5)) - 7.0).abs() < 1e-15);
        assert!((value(Regularizer::L1L2 { l1: 0.1, l2: 0.01 }) - 0.74).abs() < 1e-15);
        assert_eq!(value(Regularizer::L1L2 { l1: 0.0, l2: 0.0 }), 0.0);
    }
}
