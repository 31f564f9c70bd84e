//! Gradient checking: analytic gradients from the tape against central finite differences.
//!
//! Run in f64 on the CPU backend. The output of the function under test is projected onto fixed
//! random weights, so every output element contributes to the scalar being differentiated and
//! a rule that mixes up output positions cannot pass.

use std::fmt;

use crate::{DType, Device, Error, Result, Tape, Tensor, no_grad};

/// Step of the central difference. In f64, truncation (~h^2) and round-off (~1e-16/h) errors
/// both stay below 1e-9 for well-scaled functions.
pub const STEP: f64 = 1e-6;

/// Gradients below this magnitude are compared absolutely rather than relatively, so that
/// round-off noise on a zero gradient does not read as a large relative error.
pub const RELATIVE_FLOOR: f64 = 1e-3;

/// The outcome of one gradient check.
#[derive(Debug, Clone)]
pub struct GradCheck {
    pub name: String,
    /// `max |analytic - numeric| / max(|analytic|, |numeric|, RELATIVE_FLOOR)` over all inputs.
    pub max_relative_error: f64,
    /// Which element was worst, with both values.
    pub worst: String,
    /// Number of gradient elements compared.
    pub elements: usize,
}

impl GradCheck {
    /// Panics with the whole report when the error exceeds `bound` (for tests).
    pub fn assert_within(&self, bound: f64) {
        assert!(self.max_relative_error <= bound, "gradient check failed (bound {bound:e}): {self}");
    }
}

impl fmt::Display for GradCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: max relative error {:.3e} over {} elements (worst: {})",
            self.name, self.max_relative_error, self.elements, self.worst
        )
    }
}

/// Checks the gradients of `f` with respect to each of `inputs` (f64 CPU tensors).
pub fn check(name: &str, inputs: &[&Tensor], f: impl Fn(&[Tensor]) -> Result<Tensor>) -> Result<GradCheck> {
    let inputs: Vec<Tensor> = inputs.iter().map(|&x| x.clone()).collect();
    for x in &inputs {
        if x.dtype() != DType::F64 || x.device() != &Device::Cpu {
            return Err(Error::argument(
                "gradcheck",
                format!("inputs must be f64 on the CPU, got {} on {}", x.dtype(), x.device()),
            ));
        }
    }
    let probe = no_grad(|| f(&inputs))?;
    let weights = Tensor::uniform(probe.shape().clone(), -1.0, 1.0, 0x5eed, DType::F64, &Device::Cpu)?;
    let objective = |xs: &[Tensor]| -> Result<f64> { f(xs)?.mul(&weights)?.sum_all()?.item() };

    let tape = Tape::new();
    let watched: Vec<Tensor> = inputs.iter().map(|x| tape.watch(x)).collect();
    let loss = f(&watched)?.mul(&weights)?.sum_all()?;
    let grads = tape.backward(&loss)?;

    let mut report =
        GradCheck { name: name.to_string(), max_relative_error: 0.0, worst: "none".into(), elements: 0 };
    for (i, x) in inputs.iter().enumerate() {
        let analytic = match grads.get(&watched[i]) {
            Some(g) => g.to_vec::<f64>()?,
            None => vec![0.0; x.numel()],
        };
        let values = x.to_vec::<f64>()?;
        for k in 0..values.len() {
            let at = |delta: f64| -> Result<f64> {
                let mut shifted = values.clone();
                shifted[k] += delta;
                let mut xs = inputs.to_vec();
                xs[i] = Tensor::from_vec(shifted, x.shape().clone(), &Device::Cpu)?;
                no_grad(|| objective(&xs))
            };
            let numeric = (at(STEP)? - at(-STEP)?) / (2.0 * STEP);
            let error =
                (analytic[k] - numeric).abs() / analytic[k].abs().max(numeric.abs()).max(RELATIVE_FLOOR);
            report.elements += 1;
            if error > report.max_relative_error || error.is_nan() {
                report.max_relative_error = error;
                report.worst =
                    format!("input {i} element {k}: analytic {:.9e}, numeric {numeric:.9e}", analytic[k]);
            }
        }
    }
    Ok(report)
}
