//! The notes' logic gates, from the first artificial neuron to a network with a hidden layer:
//!
//! 1. A McCulloch–Pitts neuron: binary inputs, weights fixed at 1, and a threshold θ on their
//!    sum (output 1 when `x1 + x2 >= θ`). θ = 2 makes it an AND gate, θ = 1 an OR gate. Nothing
//!    is learned: the threshold is chosen by hand.
//! 2. A perceptron, Rosenblatt's neuron with learnable weights and a bias:
//!    `sigmoid(w1·x1 + w2·x2 + b)`, read as 1 above 0.5 (a step at 0 on the weighted sum).
//!    Trained with `fit` on the four rows of a truth table, it learns AND and OR.
//! 3. XOR: no line separates XOR's ones from its zeros, so a single perceptron gets at most 3
//!    of the 4 rows right however it is trained; one hidden layer (Dense(8, tanh) then
//!    Dense(1, sigmoid)) learns all four.
//!
//! Run with `cargo run --release --example logic_gates [-- --fast] [--cpu]`; `--fast` trains
//! for fewer epochs, `--cpu` keeps everything off the GPU.

mod common;

use clap::Parser;
use common::RunMode;
use tessera::nn::optimizers::Adam;
use tessera::nn::{Activation, Dense, FitOptions, Model};
use tessera::{Device, Tensor};

/// The inputs of a two-input gate, in truth-table order.
const INPUTS: [[f32; 2]; 4] = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];

/// Seeds the weights and the shuffling, so every run prints the same numbers.
const SEED: u64 = 7;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Gate {
    And,
    Or,
    Xor,
}

impl Gate {
    fn name(self) -> &'static str {
        match self {
            Gate::And => "AND",
            Gate::Or => "OR",
            Gate::Xor => "XOR",
        }
    }

    /// The gate's output for each row of [`INPUTS`].
    fn truth_table(self) -> [f32; 4] {
        INPUTS.map(|[a, b]| {
            let (a, b) = (a == 1.0, b == 1.0);
            let out = match self {
                Gate::And => a && b,
                Gate::Or => a || b,
                Gate::Xor => a != b,
            };
            if out { 1.0 } else { 0.0 }
        })
    }
}

#[derive(Parser, Debug, Clone)]
#[command(about = "McCulloch–Pitts neuron, perceptron and XOR with a hidden layer")]
struct Options {
    #[command(flatten)]
    mode: RunMode,
}

impl Options {
    /// Epochs of full-batch training per model: a full batch is the whole truth table, so an
    /// epoch is one step.
    fn epochs(&self) -> usize {
        self.mode.pick(300, 1000)
    }
}

/// A McCulloch–Pitts gate: its threshold and its output on each row of [`INPUTS`].
struct ThresholdGate {
    gate: Gate,
    threshold: f64,
    outputs: Vec<f32>,
}

/// A trained model on one gate: its outputs on each row of [`INPUTS`] and how training went.
struct TrainedGate {
    gate: Gate,
    /// The sigmoid output for each row.
    outputs: Vec<f32>,
    /// Rows where `output > 0.5` matches the truth table.
    correct: usize,
    first_loss: f64,
    last_loss: f64,
    /// The perceptron's (w1, w2, b); none for a model with a hidden layer.
    weights: Option<[f32; 3]>,
}

struct Outcome {
    device: Device,
    epochs: usize,
    mcculloch_pitts: Vec<ThresholdGate>,
    /// Single perceptrons trained on AND, OR and XOR.
    perceptrons: Vec<TrainedGate>,
    /// The network with a hidden layer, trained on XOR.
    hidden_xor: TrainedGate,
}

fn inputs(device: &Device) -> anyhow::Result<Tensor> {
    Ok(Tensor::from_vec(INPUTS.concat(), [4, 2], device)?)
}

/// A McCulloch–Pitts neuron as a layer: each input weighs 1, no bias, and a step at `threshold`.
fn mcculloch_pitts(gate: Gate, threshold: f64, device: &Device) -> anyhow::Result<ThresholdGate> {
    let mut neuron = Model::sequential(vec![Box::new(
        Dense::new(1)
            .input_shape(&[2])
            .use_bias(false)
            .kernel_initializer("ones")
            .activation(Activation::Step(threshold)),
    )])?;
    neuron.to_device(device)?;
    let outputs = neuron.predict(&inputs(device)?, 4)?.to_vec::<f32>()?;
    Ok(ThresholdGate { gate, threshold, outputs })
}

/// Trains `model` (one sigmoid output) on `gate`'s truth table with `fit` and reads back what
/// it learned.
fn train(mut model: Model, gate: Gate, epochs: usize, device: &Device) -> anyhow::Result<TrainedGate> {
    model.to_device(device)?;
    // A large step suits four samples and a convex (single-layer) or nearly convex loss.
    model.compile(Adam { learning_rate: 0.05, ..Adam::default() }, "binary_crossentropy", &["accuracy"])?;
    let x = inputs(device)?;
    let y = Tensor::from_vec(gate.truth_table().to_vec(), [4, 1], device)?;
    let history =
        model.fit(&x, &y, FitOptions::default().batch_size(4).epochs(epochs).seed(SEED).verbose(0))?;
    let losses = history.get("loss").unwrap_or_default();
    let outputs = model.predict(&x, 4)?.to_vec::<f32>()?;
    let correct =
        outputs.iter().zip(gate.truth_table()).filter(|&(&p, target)| (p > 0.5) == (target == 1.0)).count();
    let weights = match model.weights().as_slice() {
        [kernel, bias] if kernel.numel() == 2 => {
            let (w, b) = (kernel.value().to_vec::<f32>()?, bias.value().to_vec::<f32>()?);
            Some([w[0], w[1], b[0]])
        }
        _ => None,
    };
    Ok(TrainedGate {
        gate,
        outputs,
        correct,
        first_loss: losses.first().copied().unwrap_or(f64::NAN),
        last_loss: losses.last().copied().unwrap_or(f64::NAN),
        weights,
    })
}

fn perceptron() -> anyhow::Result<Model> {
    Ok(Model::sequential(vec![Box::new(Dense::new(1).input_shape(&[2]).activation("sigmoid"))])?)
}

fn hidden_layer_net() -> anyhow::Result<Model> {
    Ok(Model::sequential(vec![
        Box::new(Dense::new(8).input_shape(&[2]).activation("tanh")),
        Box::new(Dense::new(1).activation("sigmoid")),
    ])?)
}

fn run(options: &Options) -> anyhow::Result<Outcome> {
    let device = options.mode.device()?;
    let epochs = options.epochs();
    let mcculloch_pitts =
        vec![mcculloch_pitts(Gate::And, 2.0, &device)?, mcculloch_pitts(Gate::Or, 1.0, &device)?];
    let mut perceptrons = Vec::new();
    for gate in [Gate::And, Gate::Or, Gate::Xor] {
        tessera::nn::set_random_seed(SEED);
        perceptrons.push(train(perceptron()?, gate, epochs, &device)?);
    }
    tessera::nn::set_random_seed(SEED);
    let hidden_xor = train(hidden_layer_net()?, Gate::Xor, epochs, &device)?;
    Ok(Outcome { device, epochs, mcculloch_pitts, perceptrons, hidden_xor })
}

fn bit(value: f32) -> u8 {
    u8::from(value == 1.0)
}

fn print_trained(label: &str, trained: &TrainedGate) {
    let outputs: Vec<String> = trained.outputs.iter().map(|p| format!("{p:.3}")).collect();
    let targets: Vec<String> = trained.gate.truth_table().iter().map(|&t| bit(t).to_string()).collect();
    println!(
        "  {label:<26} {:<4} {:<8} {:<24} {}/4   {:.4} -> {:.4}",
        trained.gate.name(),
        targets.join(" "),
        outputs.join(" "),
        trained.correct,
        trained.first_loss,
        trained.last_loss
    );
}

fn main() -> anyhow::Result<()> {
    tessera::logging::init();
    let options = Options::parse();
    let outcome = run(&options)?;
    println!("device: {}", outcome.device);

    println!(
        "\n1. McCulloch–Pitts neuron: y = 1 if x1 + x2 >= θ, else 0 (weights fixed at 1, nothing learned)"
    );
    let header: Vec<String> =
        outcome.mcculloch_pitts.iter().map(|g| format!("{} (θ = {})", g.gate.name(), g.threshold)).collect();
    let header: String = header.iter().map(|h| format!("{h:<12}")).collect();
    println!("  x1  x2  sum   {}", header.trim_end());
    for (row, [a, b]) in INPUTS.iter().enumerate() {
        let cells: String =
            outcome.mcculloch_pitts.iter().map(|g| format!("{:<12}", bit(g.outputs[row]))).collect();
        println!("  {:>2}  {:>2}  {:>3}   {}", bit(*a), bit(*b), a + b, cells.trim_end());
    }

    println!(
        "\n2-3. Trained with fit: Adam (lr 0.05), binary cross-entropy, {} full-batch epochs; \
         output p read as 1 when p > 0.5",
        outcome.epochs
    );
    println!(
        "  {:<26} {:<4} {:<8} {:<24} {:<5} loss first -> last",
        "model", "gate", "target", "p for 00 01 10 11", "right"
    );
    for trained in &outcome.perceptrons {
        print_trained("perceptron", trained);
    }
    print_trained("Dense(8, tanh) + Dense(1)", &outcome.hidden_xor);

    println!("\n  learned perceptrons, y = step(w1·x1 + w2·x2 + b):");
    for trained in &outcome.perceptrons {
        if let Some([w1, w2, b]) = trained.weights {
            println!("  {:<4} w1 = {w1:>7.3}  w2 = {w2:>7.3}  b = {b:>7.3}", trained.gate.name());
        }
    }
    println!(
        "\nXOR is not linearly separable: the single perceptron gets {}/4, the hidden layer {}/4.",
        outcome.perceptrons[2].correct, outcome.hidden_xor.correct
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_mode_shows_what_each_neuron_can_and_cannot_do() {
        let outcome = run(&Options { mode: RunMode::CHECK }).unwrap();
        for gate in &outcome.mcculloch_pitts {
            // A fixed threshold on a sum of 0s and 1s: exact, no tolerance.
            assert_eq!(gate.outputs, gate.gate.truth_table(), "McCulloch–Pitts {}", gate.gate.name());
        }
        let [and, or, xor] = &outcome.perceptrons[..] else { panic!("three perceptrons") };
        assert_eq!((and.gate, and.correct), (Gate::And, 4));
        assert_eq!((or.gate, or.correct), (Gate::Or, 4));
        // No line separates XOR's classes, so no single perceptron can get all four right.
        assert_eq!(xor.gate, Gate::Xor);
        assert!(xor.correct <= 3, "a single perceptron got {}/4 on XOR", xor.correct);
        let hidden = &outcome.hidden_xor;
        assert_eq!(
            hidden.correct, 4,
            "the hidden layer got {}/4 on XOR: {:?}",
            hidden.correct, hidden.outputs
        );
        // The loss starts near ln 2 = 0.69 (outputs near 0.5); a net that has learned XOR
        // gives each row its class with probability above about 0.9, a loss below 0.1: a
        // factor of 5 leaves room for slower runs while ruling out a net stuck at 3/4 (whose
        // loss cannot fall below about 0.35).
        assert!(
            hidden.last_loss * 5.0 < hidden.first_loss,
            "XOR loss fell only from {} to {}",
            hidden.first_loss,
            hidden.last_loss
        );
    }
}
