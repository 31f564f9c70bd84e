//! Transfer learning as the notes do it: train a model on one task, keep its layers as a frozen
//! base, replace its head and train only the new head on a second, related task.
//!
//! - Task A: Fashion-MNIST's first five classes (T-shirt/top, Trouser, Pullover, Dress, Coat),
//!   with plenty of labelled images. A small CNN learns it.
//! - Task B: the other five classes (Sandal, Shirt, Sneaker, Bag, Ankle boot), with few labels.
//!   The task-A model's convolutional base (its layers up to `flatten`) becomes a sub-model,
//!   as Keras's `Model(model.input, model.get_layer("flatten").output)`, frozen
//!   (`set_trainable(false)`, Keras's `base.trainable = False`) and nested in a new model under a
//!   new head; only the head trains. The notes' VGG16 example does the same: the late layers are
//!   specific to the old task, the convolutions more general. The task-A model stays whole.
//!
//! The run prints the parameter counts (trainable / non-trainable) before and after freezing,
//! checks that every frozen weight (the task-A model's own, which the base shares) is
//! bit-for-bit what it was before fine-tuning, and reports
//! the new head's accuracy on task B's test images, next to the same head trained on the same
//! base left untrained (what the task-A training contributed).
//!
//! Run with `cargo run --release --example transfer_learning [-- --fast] [--cpu]`; `--fast` uses
//! fewer images and epochs, `--cpu` keeps everything off the GPU.

mod common;

use clap::Parser;
use common::RunMode;
use tessera::nn::data::FashionMnist;
use tessera::nn::{Apply, Conv2D, Dense, EvaluateOptions, FitOptions, Flatten, Input, MaxPooling2D, Model};
use tessera::{Device, Tensor};

/// Seeds the weights and the shuffling.
const SEED: u64 = 11;

/// Task A's classes (Fashion-MNIST labels), relabelled 0..5 in this order.
const TASK_A: [u8; 5] = [0, 1, 2, 3, 4];
/// Task B's classes, relabelled 0..5 in this order.
const TASK_B: [u8; 5] = [5, 6, 7, 8, 9];

/// The last layer of the convolutional base the new head goes on.
const BASE_OUTPUT: &str = "flatten";

#[derive(Parser, Debug, Clone)]
#[command(about = "Transfer learning: freeze a trained base, train a new head on a new task")]
struct Options {
    #[command(flatten)]
    mode: RunMode,
}

/// How much data and training a run uses.
struct Sizes {
    /// Both tasks' training images come from this many training images (about half of them
    /// are task A's).
    pool: usize,
    base_epochs: usize,
    /// Labelled images of task B the new head is trained on.
    head_images: usize,
    head_epochs: usize,
    /// Test images, split between the tasks by class.
    test: usize,
}

impl Options {
    fn sizes(&self) -> Sizes {
        if self.mode.fast {
            Sizes { pool: 3_000, base_epochs: 8, head_images: 300, head_epochs: 20, test: 1_000 }
        } else {
            Sizes { pool: 20_000, base_epochs: 10, head_images: 1_000, head_epochs: 20, test: 10_000 }
        }
    }
}

/// A weight's name within the model ("conv2d/kernel") and its values, copied to the host.
type HostWeight = (String, Vec<f32>);

struct Outcome {
    device: Device,
    base_images: usize,
    head_images: usize,
    base_test_images: usize,
    head_test_images: usize,
    base_accuracy: f64,
    /// The task-A model's summary, and its (trainable, non-trainable) parameter counts.
    summary_before: String,
    params_before: (usize, usize),
    /// The names of the head's layers that were removed.
    removed_head: Vec<String>,
    /// The task-A model's accuracy once the new head has trained on its shared, frozen base.
    base_accuracy_after: f64,
    /// The summary and counts once the base is frozen and the new head added.
    summary_after: String,
    params_after: (usize, usize),
    /// The frozen weights before fine-tuning, and after it.
    frozen_before: Vec<HostWeight>,
    frozen_after: Vec<HostWeight>,
    head_accuracy: f64,
    /// Task-B accuracy of the same new head on a frozen base that never trained on task A.
    untrained_base_accuracy: f64,
}

impl Outcome {
    /// The largest |after - before| over every frozen weight, and whether every value is
    /// bit-for-bit the same (NaNs and signed zeros included).
    fn frozen_change(&self) -> (f32, bool) {
        let mut max_delta = 0f32;
        let mut identical = self.frozen_before.len() == self.frozen_after.len();
        for ((name_a, a), (name_b, b)) in self.frozen_before.iter().zip(&self.frozen_after) {
            identical &= name_a == name_b && a.len() == b.len();
            for (x, y) in a.iter().zip(b) {
                identical &= x.to_bits() == y.to_bits();
                max_delta = max_delta.max((x - y).abs());
            }
        }
        (max_delta, identical)
    }
}

/// The task-A model: a convolutional base (Conv 8 3x3, pool, Conv 16 3x3, pool, Flatten) and
/// a classifier head (Dense 32, Dense 5 softmax), initialised the same on every call.
fn task_a_model(device: &Device) -> anyhow::Result<Model> {
    tessera::nn::set_random_seed(SEED);
    let mut model = Model::sequential(vec![
        Box::new(Conv2D::new(8, 3).activation("relu").input_shape(&[28, 28, 1])),
        Box::new(MaxPooling2D::new()),
        Box::new(Conv2D::new(16, 3).activation("relu")),
        Box::new(MaxPooling2D::new()),
        Box::new(Flatten::new()),
        Box::new(Dense::new(32).activation("relu")),
        Box::new(Dense::new(TASK_A.len()).activation("softmax")),
    ])?;
    model.to_device(device)?;
    model.compile("adam", "sparse_categorical_crossentropy", &["accuracy"])?;
    Ok(model)
}

/// Host copies of the model's weights, named by layer.
fn weight_copies(model: &Model) -> anyhow::Result<Vec<HostWeight>> {
    let mut copies = Vec::new();
    for layer in model.layers() {
        for weight in layer.weights() {
            copies.push((format!("{}/{}", layer.name(), weight.name()), weight.value().to_vec::<f32>()?));
        }
    }
    Ok(copies)
}

/// Keras's transfer-learning recipe: the trained model's layers up to [`BASE_OUTPUT`] as a
/// frozen sub-model (sharing the trained weights), nested under a new head for task B, compiled.
fn transfer_model(trained: &Model) -> anyhow::Result<Model> {
    let graph = trained.graph()?;
    let mut base = Model::functional(&[&graph.input()?], &graph.layer_output(BASE_OUTPUT)?)?;
    base.set_name("base");
    base.set_trainable(false);
    let inputs = Input::new(&[28, 28, 1]).symbolic()?;
    let features = base.apply(&[&inputs])?;
    let hidden = Dense::new(32).activation("relu").apply(&[&features])?;
    let outputs = Dense::new(TASK_B.len()).activation("softmax").apply(&[&hidden])?;
    let mut model = Model::functional(&[&inputs], &outputs)?;
    model.compile("adam", "sparse_categorical_crossentropy", &["accuracy"])?;
    Ok(model)
}

/// The layers of `trained` after [`BASE_OUTPUT`]: its task-A head, which the new model leaves out.
fn head_layers(trained: &Model) -> Vec<String> {
    let names: Vec<&str> = trained.layers().iter().map(|l| l.name()).collect();
    let after = names.iter().position(|&n| n == BASE_OUTPUT).map_or(names.len(), |k| k + 1);
    names[after..].iter().map(|n| n.to_string()).collect()
}

fn fit(model: &mut Model, x: &Tensor, y: &Tensor, epochs: usize) -> anyhow::Result<()> {
    model.fit(x, y, FitOptions::default().batch_size(32).epochs(epochs).seed(SEED).verbose(0))?;
    Ok(())
}

fn accuracy(model: &Model, x: &Tensor, y: &Tensor) -> anyhow::Result<f64> {
    let logs = model.evaluate(x, y, EvaluateOptions::default().batch_size(256).verbose(0))?;
    Ok(logs["accuracy"])
}

fn run(options: &Options) -> anyhow::Result<Outcome> {
    let device = options.mode.device()?;
    let sizes = options.sizes();
    let data = FashionMnist::load_default()?;
    let train = data.train.first(sizes.pool);
    let test = data.test.first(sizes.test);
    let (x_a, y_a) = train.select_classes(&TASK_A).to_scaled_tensors(&device)?;
    let (x_a_test, y_a_test) = test.select_classes(&TASK_A).to_scaled_tensors(&device)?;
    // Task A's model never sees these images: they are all of the other classes.
    let (x_b, y_b) = train.select_classes(&TASK_B).first(sizes.head_images).to_scaled_tensors(&device)?;
    let (x_b_test, y_b_test) = test.select_classes(&TASK_B).to_scaled_tensors(&device)?;

    let mut trained = task_a_model(&device)?;
    fit(&mut trained, &x_a, &y_a, sizes.base_epochs)?;
    let base_accuracy = accuracy(&trained, &x_a_test, &y_a_test)?;
    let summary_before = trained.summary();
    let params_before = trained.count_params();

    let mut model = transfer_model(&trained)?;
    let removed_head = head_layers(&trained);
    let summary_after = model.summary();
    let params_after = model.count_params();

    // The base shares the task-A model's weights: those are what must not move.
    let frozen_before = weight_copies(&trained)?;
    fit(&mut model, &x_b, &y_b, sizes.head_epochs)?;
    let frozen_after = weight_copies(&trained)?;
    let head_accuracy = accuracy(&model, &x_b_test, &y_b_test)?;
    let base_accuracy_after = accuracy(&trained, &x_a_test, &y_a_test)?;

    let mut untrained = transfer_model(&task_a_model(&device)?)?;
    fit(&mut untrained, &x_b, &y_b, sizes.head_epochs)?;
    let untrained_base_accuracy = accuracy(&untrained, &x_b_test, &y_b_test)?;

    Ok(Outcome {
        device,
        base_images: x_a.dims()[0],
        head_images: x_b.dims()[0],
        base_test_images: x_a_test.dims()[0],
        head_test_images: x_b_test.dims()[0],
        base_accuracy,
        base_accuracy_after,
        summary_before,
        params_before,
        removed_head,
        summary_after,
        params_after,
        frozen_before,
        frozen_after,
        head_accuracy,
        untrained_base_accuracy,
    })
}

fn class_names(classes: &[u8]) -> String {
    classes.iter().map(|&c| FashionMnist::CLASS_NAMES[usize::from(c)]).collect::<Vec<_>>().join(", ")
}

fn main() -> anyhow::Result<()> {
    tessera::logging::init();
    let o = run(&Options::parse())?;
    println!("device: {}", o.device);
    println!("task A: {}", class_names(&TASK_A));
    println!("task B: {}\n", class_names(&TASK_B));
    println!("1. the base model, trained on {} task-A images", o.base_images);
    print!("{}", o.summary_before);
    println!("   task-A test accuracy: {:.2}% ({} images)\n", 100.0 * o.base_accuracy, o.base_test_images);
    println!(
        "2. the layers up to {BASE_OUTPUT} as a frozen sub-model nested under a new head (task-A head {} left out)",
        o.removed_head.join(", ")
    );
    print!("{}", o.summary_after);
    println!("\n   {:<28} {:>10} {:>14}", "count_params", "trainable", "non-trainable");
    println!("   {:<28} {:>10} {:>14}", "before freezing", o.params_before.0, o.params_before.1);
    println!("   {:<28} {:>10} {:>14}", "frozen base + new head", o.params_after.0, o.params_after.1);
    println!("\n3. the new head trained on {} task-B images", o.head_images);
    let (max_delta, identical) = o.frozen_change();
    println!(
        "   the task-A model's weights {}: {} tensors, max |Δ| = {max_delta}; its task-A accuracy {:.2}%",
        if identical { "unchanged" } else { "CHANGED" },
        o.frozen_before.len(),
        100.0 * o.base_accuracy_after
    );
    println!(
        "   task-B test accuracy: {:.2}% ({} images; chance is {:.0}%)",
        100.0 * o.head_accuracy,
        o.head_test_images,
        100.0 / TASK_B.len() as f64
    );
    println!(
        "   the same new head on the same base left untrained: {:.2}%",
        100.0 * o.untrained_base_accuracy
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_mode_trains_a_new_head_on_a_frozen_base() {
        let o = run(&Options { mode: RunMode::CHECK }).unwrap();
        let (max_delta, identical) = o.frozen_change();
        // Frozen means untouched: every weight of the task-A model, whose convolutions the base
        // shares, bit for bit, no tolerance; and it is whole, so it still classifies task A
        // exactly as before.
        let names: Vec<&str> = o.frozen_before.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names[..4], ["conv2d/kernel", "conv2d/bias", "conv2d_1/kernel", "conv2d_1/bias"]);
        assert!(identical, "frozen weights moved by up to {max_delta}");
        assert_eq!(o.base_accuracy_after.to_bits(), o.base_accuracy.to_bits());
        assert_eq!(o.removed_head, ["dense", "dense_1"]);
        assert!(o.summary_after.contains("base (Functional)"), "{}", o.summary_after);
        // The base's parameters (two convolutions: 8 * (9 + 1) + 16 * (72 + 1)) become
        // non-trainable; only the new head (400 -> 32 -> 5, the old head's size) trains.
        let base = 8 * 10 + 16 * 73;
        assert_eq!(o.params_after, (o.params_before.0 - base, base));
        // Chance is 20% over five classes; the new head reaches about 89% with these seeds,
        // so 60% is a margin of 40 points over chance.
        assert!(o.head_accuracy > 0.6, "task-B test accuracy {}", o.head_accuracy);
    }
}
