//! The GPU health check: every op, forward and backward, run on a GPU and on the CPU reference
//! with the same inputs, compared by relative L2 error. Products (matmul, dense layers,
//! convolutions) run once with the schedules the autotuner picks and once pinned to each schedule
//! it may pick on this adapter, so that every kernel variant is checked, not just today's
//! winners; the table names the variant each row ran. `tessera check` prints the table; the test
//! suite asserts that every case passes.

mod cases_elementwise;
mod cases_f16;
mod cases_layout;
mod cases_long;
mod cases_matmul;
mod cases_nn_ops;
mod cases_optim;
mod cases_products;
mod cases_recurrent;
mod cases_spatial;

use std::fmt;

use tensor_core::{DType, Device, Result, Tape, Tensor};

/// Relative L2 error allowed for elementwise ops (one rounding per element, mostly).
pub const ELEMENTWISE_TOLERANCE: f64 = 1e-5;
/// Relative L2 error allowed for reductions, matmul, convolution and everything built on them
/// (summation order differs between the backends).
pub const REDUCTION_TOLERANCE: f64 = 1e-4;
/// Relative L2 error allowed for results stored in f16: a few f16 roundings apart (its unit
/// roundoff is 2^-11 ≈ 4.9e-4), where the backends' f32 sums round to neighbouring values.
pub const F16_TOLERANCE: f64 = 2e-3;

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
    /// Whether the case runs products, to repeat with every product schedule.
    pub products: bool,
    /// Whether the case holds f16 tensors, which only adapters with `SHADER_F16` can.
    pub f16: bool,
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
        Case { op, shapes, tolerance, inputs, f: Box::new(f), backward: true, products: false, f16: false }
    }

    /// Repeats the case pinned to each product schedule of the adapter.
    pub fn with_every_product_schedule(mut self) -> Case {
        self.products = true;
        self
    }

    /// Marks a case that holds f16 tensors: it runs where the GPU has `SHADER_F16`.
    pub fn needing_f16(mut self) -> Case {
        self.f16 = true;
        self
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
    /// The product schedules the pass ran with (`-` when it ran no product).
    pub variant: String,
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
            Some(why) => write!(
                f,
                "{:<28} {:<8} {:<36} {:<18} {verdict}: {why}",
                self.op, self.pass, self.shapes, self.variant
            ),
            None => write!(
                f,
                "{:<28} {:<8} {:<36} {:<18} {:>10.2e} {:>10.2e} {:>9.0e}  {verdict}",
                self.op,
                self.pass,
                self.shapes,
                self.variant,
                self.max_abs_error,
                self.relative_error,
                self.tolerance
            ),
        }
    }
}

/// The table header matching [`Outcome`]'s display.
pub fn header() -> String {
    format!(
        "{:<28} {:<8} {:<36} {:<18} {:>10} {:>10} {:>9}  result",
        "op", "pass", "input shapes", "variant", "max abs", "rel L2", "tolerance"
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
    all.extend(cases_recurrent::cases());
    all.extend(cases_optim::cases());
    all.extend(cases_products::cases());
    all.extend(cases_long::cases());
    all.extend(cases_f16::cases());
    all
}

/// Runs every case on `gpu` (or those whose op name contains `only`) against the CPU, reporting
/// each as it finishes: first with the schedules the autotuner picks, then the product cases
/// pinned to each schedule in turn (f16 cases to those that take f16). f16 cases run where the
/// adapter has `SHADER_F16`.
pub fn run(gpu: &Device, only: Option<&str>, mut report: impl FnMut(&Outcome)) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    let mut record = |found: Vec<Outcome>| {
        found.iter().for_each(&mut report);
        outcomes.extend(found);
    };
    let has_f16 = matches!(gpu, Device::Gpu(d) if d.has_f16());
    let all: Vec<Case> = cases()
        .into_iter()
        .filter(|c| only.is_none_or(|o| c.op.contains(o)) && (has_f16 || !c.f16))
        .collect();
    for case in &all {
        record(run_case(case, gpu, None));
    }
    let Device::Gpu(device) = gpu else { return outcomes };
    let f16_schedules = device.f16_product_schedules();
    for schedule in device.product_schedules() {
        let takes_f16 = f16_schedules.contains(&schedule);
        for case in all.iter().filter(|c| c.products && (takes_f16 || !c.f16)) {
            record(run_case(case, gpu, Some(&schedule)));
        }
    }
    outcomes
}

/// The forward outcome and, for differentiable cases, one backward outcome per input; with
/// every product pinned to `schedule` when given.
pub fn run_case(case: &Case, gpu: &Device, schedule: Option<&str>) -> Vec<Outcome> {
    let Device::Gpu(device) = gpu else {
        return vec![failure(case, "forward", "-".into(), format!("{gpu} is not a GPU"))];
    };
    if let Err(e) = device.pin_product_schedule(schedule) {
        return vec![failure(case, "forward", schedule.unwrap_or("-").into(), e.to_string())];
    }
    // What the autotuner picked during a pass, read after it.
    let variant = || {
        let used = device.take_used_product_schedules();
        if used.is_empty() { "-".to_string() } else { used.join(", ") }
    };
    let outcome = |pass: &'static str, variant: String, result: Result<(Vec<f64>, Vec<f64>)>| match result {
        Ok((cpu, gpu)) => compare(case, pass, variant, &cpu, &gpu),
        Err(e) => failure(case, pass, variant, e.to_string()),
    };
    device.take_used_product_schedules();
    let forward = forward_on_both(case, gpu);
    let mut outcomes = vec![outcome("forward", variant(), forward)];
    if case.backward {
        let gradients = gradients_on_both(case, gpu);
        let variant = variant();
        match gradients {
            Ok(pairs) => {
                for (i, (cpu, gpu)) in pairs.into_iter().enumerate() {
                    let pass = BACKWARD_PASSES[i.min(BACKWARD_PASSES.len() - 1)];
                    outcomes.push(outcome(pass, variant.clone(), Ok((cpu, gpu))));
                }
            }
            Err(e) => outcomes.push(outcome("backward", variant, Err(e))),
        }
    }
    if let Err(e) = device.pin_product_schedule(None) {
        outcomes.push(failure(case, "unpin", "-".into(), e.to_string()));
    }
    outcomes
}

/// The outcome of a pass that failed to run.
fn failure(case: &Case, pass: &'static str, variant: String, why: String) -> Outcome {
    Outcome {
        op: case.op,
        pass,
        shapes: case.shapes.clone(),
        variant,
        max_abs_error: f64::NAN,
        relative_error: f64::NAN,
        tolerance: case.tolerance,
        failure: Some(why),
    }
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

fn compare(case: &Case, pass: &'static str, variant: String, cpu: &[f64], gpu: &[f64]) -> Outcome {
    let mut outcome = Outcome {
        op: case.op,
        pass,
        shapes: case.shapes.clone(),
        variant,
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
