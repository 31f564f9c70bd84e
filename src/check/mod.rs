//! The GPU health check: every op, forward and backward, run on a GPU and on the CPU reference
//! with the same inputs, compared by relative L2 error. `tessera check` prints the table; the
//! test suite asserts that every case passes.

mod cases_elementwise;
mod cases_layout;
mod cases_matmul;
mod cases_nn_ops;
mod cases_optim;
mod cases_spatial;

use std::fmt;

use tensor_core::{DType, Device, Result, Tape, Tensor};

/// Relative L2 error allowed for elementwise ops (one rounding per element, mostly).
pub const ELEMENTWISE_TOLERANCE: f64 = 1e-5;
/// Relative L2 error allowed for reductions, matmul, convolution and everything built on them
/// (summation order differs between the backends).
pub const REDUCTION_TOLERANCE: f64 = 1e-4;

/// The op under test, applied to a case's inputs on either device.
pub type CaseFn = Box<dyn Fn(&[Tensor]) -> Result<Tensor>>;

/// One comparison: an op applied to fixed inputs.
pub struct Case {
    pub op: &'static str,
    /// The input shapes, for the table.
    pub shapes: String,
    pub tolerance: f64,
    pub inputs: Vec<Tensor>,
    pub f: CaseFn,
    /// Whether to compare gradients too.
    pub backward: bool,
}

impl Case {
    /// A case for `f` on CPU f32 `inputs`, compared forward and backward.
    pub fn new(
        op: &'static str,
        tolerance: f64,
        inputs: Vec<Tensor>,
        f: impl Fn(&[Tensor]) -> Result<Tensor> + 'static,
    ) -> Case {
        let shapes = inputs.iter().map(|t| t.shape().to_string()).collect::<Vec<_>>().join(" ");
        Case { op, shapes, tolerance, inputs, f: Box::new(f), backward: true }
    }

    /// Compares the forward pass only (for ops without a gradient).
    pub fn forward_only(mut self) -> Case {
        self.backward = false;
        self
    }
}

/// The outcome of one case.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub op: &'static str,
    pub pass: &'static str,
    pub shapes: String,
    pub max_abs_error: f64,
    pub relative_error: f64,
    pub tolerance: f64,
    /// Set when the op failed to run at all on one of the devices.
    pub failure: Option<String>,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.failure.is_none() && self.relative_error <= self.tolerance
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.passed() { "pass" } else { "FAIL" };
        match &self.failure {
            Some(why) => write!(f, "{:<28} {:<8} {:<40} {verdict}: {why}", self.op, self.pass, self.shapes),
            None => write!(
                f,
                "{:<28} {:<8} {:<40} {:>10.2e} {:>10.2e} {:>9.0e}  {verdict}",
                self.op, self.pass, self.shapes, self.max_abs_error, self.relative_error, self.tolerance
            ),
        }
    }
}

/// The table header matching [`Outcome`]'s display.
pub fn header() -> String {
    format!(
        "{:<28} {:<8} {:<40} {:>10} {:>10} {:>9}  result",
        "op", "pass", "input shapes", "max abs", "rel L2", "tolerance"
    )
}

/// Every case, all op families.
pub fn cases() -> Vec<Case> {
    let mut all = Vec::new();
    all.extend(cases_elementwise::cases());
    all.extend(cases_layout::cases());
    all.extend(cases_matmul::cases());
    all.extend(cases_spatial::cases());
    all.extend(cases_nn_ops::cases());
    all.extend(cases_optim::cases());
    all
}

/// Runs every case on `gpu` against the CPU, reporting each as it finishes.
pub fn run(gpu: &Device, mut report: impl FnMut(&Outcome)) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    for case in cases() {
        for outcome in run_case(&case, gpu) {
            report(&outcome);
            outcomes.push(outcome);
        }
    }
    outcomes
}

/// The forward outcome and, for differentiable cases, one backward outcome per input.
pub fn run_case(case: &Case, gpu: &Device) -> Vec<Outcome> {
    let outcome = |pass: &'static str, result: Result<(Vec<f64>, Vec<f64>)>| match result {
        Ok((cpu, gpu)) => compare(case, pass, &cpu, &gpu),
        Err(e) => Outcome {
            op: case.op,
            pass,
            shapes: case.shapes.clone(),
            max_abs_error: f64::NAN,
            relative_error: f64::NAN,
            tolerance: case.tolerance,
            failure: Some(e.to_string()),
        },
    };
    let mut outcomes = vec![outcome("forward", forward_on_both(case, gpu))];
    if case.backward {
        match gradients_on_both(case, gpu) {
            Ok(pairs) => {
                for (i, (cpu, gpu)) in pairs.into_iter().enumerate() {
                    outcomes.push(outcome(BACKWARD_PASSES[i.min(BACKWARD_PASSES.len() - 1)], Ok((cpu, gpu))));
                }
            }
            Err(e) => outcomes.push(outcome("backward", Err(e))),
        }
    }
    outcomes
}

const BACKWARD_PASSES: [&str; 5] = ["grad 0", "grad 1", "grad 2", "grad 3", "grad 4+"];

fn on_device(inputs: &[Tensor], device: &Device) -> Result<Vec<Tensor>> {
    inputs.iter().map(|t| t.to(device)).collect()
}

fn forward_on_both(case: &Case, gpu: &Device) -> Result<(Vec<f64>, Vec<f64>)> {
    let cpu = (case.f)(&case.inputs)?.to_vec_f64()?;
    let gpu = (case.f)(&on_device(&case.inputs, gpu)?)?.to_vec_f64()?;
    Ok((cpu, gpu))
}

/// Gradients of sum(f(x) * w) for fixed random weights w, on both devices, per input.
fn gradients_on_both(case: &Case, gpu: &Device) -> Result<Vec<(Vec<f64>, Vec<f64>)>> {
    let grads = |inputs: &[Tensor], device: &Device| -> Result<Vec<Vec<f64>>> {
        let tape = Tape::new();
        let watched: Vec<Tensor> = inputs.iter().map(|t| tape.watch(t)).collect();
        let y = (case.f)(&watched)?;
        let w =
            Tensor::uniform(y.shape().clone(), -1.0, 1.0, 0x5eed, DType::F32, &Device::Cpu)?.to(device)?;
        let grads = tape.backward(&y.mul(&w)?.sum_all()?)?;
        watched
            .iter()
            .map(|t| match grads.get(t) {
                Some(g) => g.to_vec_f64(),
                None => Ok(vec![0.0; t.numel()]),
            })
            .collect()
    };
    let cpu = grads(&case.inputs, &Device::Cpu)?;
    let gpu = grads(&on_device(&case.inputs, gpu)?, gpu)?;
    Ok(cpu.into_iter().zip(gpu).collect())
}

fn compare(case: &Case, pass: &'static str, cpu: &[f64], gpu: &[f64]) -> Outcome {
    let mut outcome = Outcome {
        op: case.op,
        pass,
        shapes: case.shapes.clone(),
        max_abs_error: 0.0,
        relative_error: 0.0,
        tolerance: case.tolerance,
        failure: None,
    };
    if cpu.len() != gpu.len() {
        outcome.failure = Some(format!("{} values on the CPU, {} on the GPU", cpu.len(), gpu.len()));
        return outcome;
    }
    let (mut diff, mut norm) = (0.0f64, 0.0f64);
    for (&c, &g) in cpu.iter().zip(gpu) {
        let d = (c - g).abs();
        outcome.max_abs_error = outcome.max_abs_error.max(d);
        diff += d * d;
        norm += c * c;
    }
    // An all-zero reference compares absolutely (its norm is no scale to divide by).
    outcome.relative_error = diff.sqrt() / norm.sqrt().max(1e-12).max(if norm == 0.0 { 1.0 } else { 0.0 });
    if cpu.iter().chain(gpu).any(|v| v.is_nan()) {
        outcome.relative_error = f64::NAN;
        outcome.failure = Some("NaN in the output".into());
    }
    outcome
}

/// Seeded uniform f32 CPU tensor in [low, high) for case inputs.
pub(crate) fn input(shape: &[usize], low: f64, high: f64, seed: u64) -> Tensor {
    Tensor::uniform(shape.to_vec(), low, high, seed, DType::F32, &Device::Cpu).expect("valid case input")
}
