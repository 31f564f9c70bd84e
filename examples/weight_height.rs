//! The notes' supervised-learning example: classify people as male (0) or female (1) from
//! weight and height with a tiny dense network, trained with sparse categorical cross-entropy.
//! Line for line with the Keras original:
//!
//! ```python
//! model = Sequential([Dense(16, input_shape=(2,), activation="relu"),
//!                     Dense(32, activation="relu"),
//!                     Dense(2, activation="softmax")])
//! model.compile(Adam(lr=0.0001), loss="sparse_categorical_crossentropy", metrics=['accuracy'])
//! train_sample = [[150,67],[130,60],[200,65],[125,52],[230,72],[181,70]]   # weight, height
//! train_label = [1,1,0,1,0,0]                                             # male=0, female=1
//! model.fit(x=train_sample, y=train_label, batch_size=3, epochs=10, shuffle=True, verbose=2)
//! ```
//!
//! The inputs are left unscaled, as in the notes, so the first loss is large and ten epochs at
//! this small learning rate only start to bring it down; `--epochs` trains longer.
//!
//! Run with `cargo run --release --example weight_height [-- --fast] [--cpu] [--epochs N]`.
//! The data is six samples, so `--fast` changes nothing: the notes' run is already a few steps.

mod common;

use clap::Parser;
use common::RunMode;
use tessera::nn::optimizers::Adam;
use tessera::nn::{Dense, FitOptions, History, Model};
use tessera::{Device, Tensor};

#[derive(Parser, Debug, Clone)]
#[command(about = "The notes' weight/height classifier")]
struct Options {
    #[command(flatten)]
    mode: RunMode,
    /// Epochs to train (the notes train 10).
    #[arg(long, default_value_t = 10)]
    epochs: usize,
}

struct Outcome {
    device: Device,
    history: History,
    /// The trained model's class probabilities for each sample, row by row.
    probabilities: Vec<f32>,
}

/// weight (lb), height (in)
const TRAIN_SAMPLE: [[f32; 2]; 6] =
    [[150.0, 67.0], [130.0, 60.0], [200.0, 65.0], [125.0, 52.0], [230.0, 72.0], [181.0, 70.0]];
/// male = 0, female = 1
const TRAIN_LABEL: [f32; 6] = [1.0, 1.0, 0.0, 1.0, 0.0, 0.0];

fn run(options: &Options) -> anyhow::Result<Outcome> {
    let device = options.mode.device()?;
    let mut model = Model::sequential(vec![
        Box::new(Dense::new(16).input_shape(&[2]).activation("relu")),
        Box::new(Dense::new(32).activation("relu")),
        Box::new(Dense::new(2).activation("softmax")),
    ])?;
    model.to_device(&device)?;
    model.compile(
        Adam { learning_rate: 0.0001, ..Adam::default() },
        "sparse_categorical_crossentropy",
        &["accuracy"],
    )?;
    model.print_summary();

    let train_sample = Tensor::from_vec(TRAIN_SAMPLE.concat(), [6, 2], &device)?;
    let train_label = Tensor::from_vec(TRAIN_LABEL.to_vec(), [6], &device)?;
    // One line per epoch, as the notes' verbose=2, for the notes' ten epochs; a longer run
    // prints only its summary.
    let verbose = if options.epochs <= 10 { 2 } else { 0 };
    let history = model.fit(
        &train_sample,
        &train_label,
        FitOptions::default().batch_size(3).epochs(options.epochs).shuffle(true).verbose(verbose),
    )?;
    let probabilities = model.predict(&train_sample, 6)?.to_vec::<f32>()?;
    Ok(Outcome { device, history, probabilities })
}

fn main() -> anyhow::Result<()> {
    tessera::logging::init();
    let outcome = run(&Options::parse())?;
    let losses = outcome.history.get("loss").unwrap_or_default();
    let accuracies = outcome.history.get("accuracy").unwrap_or_default();
    println!(
        "\ndevice: {}; {} epochs: loss {:.4} -> {:.4}, accuracy {:.4} -> {:.4}",
        outcome.device,
        losses.len(),
        losses.first().copied().unwrap_or(f64::NAN),
        losses.last().copied().unwrap_or(f64::NAN),
        accuracies.first().copied().unwrap_or(f64::NAN),
        accuracies.last().copied().unwrap_or(f64::NAN),
    );
    println!("\n  weight  height  label   p(male)  p(female)");
    for ((sample, label), p) in TRAIN_SAMPLE.iter().zip(TRAIN_LABEL).zip(outcome.probabilities.chunks(2)) {
        let label = if label == 1.0 { "female" } else { "male" };
        println!("  {:>6}  {:>6}  {label:<6}  {:>7.3}  {:>9.3}", sample[0], sample[1], p[0], p[1]);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn losses(outcome: &Outcome) -> (f64, f64) {
        let losses = outcome.history.get("loss").unwrap();
        (losses[0], losses[losses.len() - 1])
    }

    #[test]
    fn the_notes_ten_epochs_bring_the_loss_down() {
        let outcome = run(&Options { mode: RunMode::CHECK, epochs: 10 }).unwrap();
        let (first, last) = losses(&outcome);
        // Unscaled inputs of 50 to 230 make the first loss large (about 22 with these seeds);
        // ten epochs at lr 1e-4 take about 12% off it. 5% is a margin a run that does not learn
        // (a flat or rising loss) cannot meet.
        assert!(last < first * 0.95, "loss went from {first} to {last}");
    }

    #[test]
    fn longer_training_classifies_all_six() {
        let outcome = run(&Options { mode: RunMode::CHECK, epochs: 300 }).unwrap();
        // The six samples are separable (every man here is heavier than every woman). With
        // these seeds all six are right from about epoch 100, and at 300 the closest sample
        // has its class at probability 0.55.
        let accuracy = outcome.history.get("accuracy").unwrap().last().copied().unwrap();
        assert_eq!(accuracy, 1.0, "probabilities {:?}", outcome.probabilities);
        let (first, last) = losses(&outcome);
        // The loss falls from about 22 to about 0.35 (a factor of 60); 20 leaves room for
        // other seeds while excluding a run that only reached the right side of 0.5.
        assert!(last < first / 20.0, "loss went from {first} to {last}");
    }
}
