//! The notes' vanishing gradient problem, measured: the size of the loss gradient at each layer
//! of a deep network, from the output back to the input, and what it does to training.
//!
//! Two networks of the same depth (15 hidden Dense layers of 64 units and a softmax head) see
//! the same Fashion-MNIST images, flattened to 784 pixels:
//!
//! - sigmoid activations with Keras's default Glorot-uniform kernels. Backpropagation multiplies
//!   the gradient by each layer's sigmoid derivative, at most 1/4, so it shrinks layer after
//!   layer: the first layers get gradients orders of magnitude smaller than the last, SGD
//!   barely moves them, and the network does not learn.
//! - relu activations with He-normal kernels (variance 2/fan-in, the notes' "2/n" for relu):
//!   relu passes the gradient through unchanged where it is active, and He's variance keeps its
//!   size from layer to layer, so every layer gets a gradient of similar size and SGD trains
//!   the whole network.
//!
//! It prints the L2 norm of the gradient with respect to each layer's kernel on one batch at
//! initialization (`Model::gradient_norms`), then trains both networks with plain SGD (Keras's
//! default learning rate, 0.01) and prints their validation accuracy per epoch. Pictures:
//! `gradient_norms.png` (both networks' norms on a log scale, by layer) and `training.png`
//! (validation accuracy by epoch).
//!
//! Run with `cargo run --release --example vanishing_gradients [-- --fast] [--cpu] [--out DIR]`;
//! `--fast` uses fewer images and epochs, `--cpu` keeps everything off the GPU, and the
//! pictures go to `DIR` (default `examples-output/vanishing_gradients/`).
//! On a software Vulkan driver (Mesa's lavapipe) `--cpu` is several times faster: the
//! networks are small, so a step is many small dispatches, each with a fixed cost.

mod common;

use std::path::PathBuf;

use clap::Parser;
use common::RunMode;
use tessera::nn::data::FashionMnist;
use tessera::nn::viz::{LinePlot, save_plots};
use tessera::nn::{Dense, FitOptions, Layer, Model};
use tessera::{Device, Tensor};

/// Seeds the weights and the shuffling, so every run prints the same numbers.
const SEED: u64 = 11;
/// Hidden layers of each network (the softmax head comes on top).
const HIDDEN_LAYERS: usize = 15;
const UNITS: usize = 64;
const CLASSES: usize = 10;
const PIXELS: usize = 28 * 28;

#[derive(Parser, Debug, Clone)]
#[command(about = "Per-layer gradient norms of a deep sigmoid network and a relu/He one")]
struct Options {
    #[command(flatten)]
    mode: RunMode,
    /// Where to write the pictures.
    #[arg(long, default_value = "examples-output/vanishing_gradients")]
    out: PathBuf,
}

impl Options {
    /// Training images; the gradients at initialization are taken on the first 256.
    fn train_images(&self) -> usize {
        self.mode.pick(3000, 20000)
    }

    /// Test images, for the validation accuracy.
    fn test_images(&self) -> usize {
        self.mode.pick(1000, 5000)
    }

    fn epochs(&self) -> usize {
        self.mode.pick(3, 5)
    }
}

/// Images in the batch the gradient norms are taken on.
const NORM_BATCH: usize = 256;

/// One layer's kernel and the norm of the loss gradient with respect to it.
struct KernelGradient {
    layer: String,
    /// The kernel's shape, [inputs, units].
    shape: Vec<usize>,
    norm: f64,
}

impl KernelGradient {
    /// The root mean square of the gradient's elements: what SGD moves a typical weight by
    /// (times the learning rate), comparable between kernels of different sizes.
    fn per_weight(&self) -> f64 {
        self.norm / (self.shape.iter().product::<usize>() as f64).sqrt()
    }
}

/// One network: its kernel gradients at initialization, layer by layer from the input, and
/// how it trained.
struct Network {
    label: &'static str,
    kernels: Vec<KernelGradient>,
    /// Validation accuracy after each epoch of SGD.
    val_accuracy: Vec<f64>,
}

impl Network {
    /// The first layer's figure over the last layer's.
    fn first_over_last(&self, figure: impl Fn(&KernelGradient) -> f64) -> f64 {
        match (self.kernels.first(), self.kernels.last()) {
            (Some(first), Some(last)) => figure(first) / figure(last),
            _ => f64::NAN,
        }
    }

    fn final_accuracy(&self) -> f64 {
        self.val_accuracy.last().copied().unwrap_or(f64::NAN)
    }
}

struct Outcome {
    device: Device,
    train_images: usize,
    sigmoid: Network,
    relu: Network,
    pictures: Vec<PathBuf>,
}

/// A network of [`HIDDEN_LAYERS`] Dense layers with `activation` and kernels drawn by
/// `initializer`, and a softmax head, compiled for SGD on class ids.
fn deep_network(activation: &str, initializer: &str, device: &Device) -> anyhow::Result<Model> {
    let mut layers: Vec<Box<dyn Layer>> = Vec::new();
    for i in 0..HIDDEN_LAYERS {
        let mut layer = Dense::new(UNITS).activation(activation).kernel_initializer(initializer);
        if i == 0 {
            layer = layer.input_shape(&[PIXELS]);
        }
        layers.push(Box::new(layer));
    }
    layers.push(Box::new(Dense::new(CLASSES).activation("softmax").kernel_initializer(initializer)));
    let mut model = Model::sequential(layers)?;
    model.to_device(device)?;
    model.compile("sgd", "sparse_categorical_crossentropy", &["accuracy"])?;
    Ok(model)
}

/// Flattened images and their class ids.
struct Split {
    x: Tensor,
    y: Tensor,
}

fn load(images: usize, test: bool, device: &Device) -> anyhow::Result<Split> {
    let data = FashionMnist::load_default()?;
    let part = if test { data.test } else { data.train };
    let (x, y) = part.first(images).to_scaled_tensors(device)?;
    let n = x.dims()[0];
    Ok(Split { x: x.reshape([n, PIXELS])?, y })
}

/// Measures `model`'s kernel gradients on the first [`NORM_BATCH`] images of `train`, then
/// trains it.
fn study(
    label: &'static str,
    mut model: Model,
    train: &Split,
    test: &Split,
    epochs: usize,
) -> anyhow::Result<Network> {
    let n = NORM_BATCH.min(train.x.dims()[0]);
    let (x, y) = (train.x.slice(0, 0, n)?, train.y.slice(0, 0, n)?);
    let mut kernels = Vec::new();
    for (name, norm) in model.gradient_norms(&x, &y)? {
        let Some(layer) = name.strip_suffix("/kernel") else { continue };
        let shape = model
            .layer(layer)
            .and_then(|l| l.weights().into_iter().find(|w| w.name() == "kernel"))
            .map(|w| w.value().dims().to_vec())
            .unwrap_or_default();
        kernels.push(KernelGradient { layer: layer.to_string(), shape, norm });
    }
    let history = model.fit(
        &train.x,
        &train.y,
        FitOptions::default()
            .batch_size(32)
            .epochs(epochs)
            .seed(SEED)
            .validation_data(&test.x, &test.y)
            .verbose(0),
    )?;
    let val_accuracy = history.get("val_accuracy").unwrap_or_default().to_vec();
    Ok(Network { label, kernels, val_accuracy })
}

fn run(options: &Options) -> anyhow::Result<Outcome> {
    let device = options.mode.device()?;
    let train = load(options.train_images(), false, &device)?;
    let test = load(options.test_images(), true, &device)?;
    let epochs = options.epochs();

    tessera::nn::set_random_seed(SEED);
    let sigmoid = deep_network("sigmoid", "glorot_uniform", &device)?;
    let sigmoid = study("sigmoid, Glorot uniform", sigmoid, &train, &test, epochs)?;
    tessera::nn::set_random_seed(SEED);
    let relu = study("relu, He normal", deep_network("relu", "he_normal", &device)?, &train, &test, epochs)?;

    let mut norms = LinePlot::new("Gradient norm of each layer's kernel, at initialization")
        .x_label("layer (1 = next to the input)")
        .y_label("L2 norm of d loss / d kernel")
        .log_y(true);
    let mut accuracy =
        LinePlot::new("Validation accuracy, training with SGD").x_label("epoch").y_label("accuracy");
    for network in [&sigmoid, &relu] {
        norms.add_series(
            network.label,
            network.kernels.iter().enumerate().map(|(i, k)| ((i + 1) as f64, k.norm)),
        );
        let epochs = network.val_accuracy.iter().enumerate().map(|(e, &a)| ((e + 1) as f64, a));
        accuracy.add_series(network.label, epochs);
    }
    let pictures = vec![options.out.join("gradient_norms.png"), options.out.join("training.png")];
    save_plots(&[norms], &pictures[0])?;
    save_plots(&[accuracy], &pictures[1])?;
    Ok(Outcome { device, train_images: train.x.dims()[0], sigmoid, relu, pictures })
}

fn main() -> anyhow::Result<()> {
    tessera::logging::init();
    let options = Options::parse();
    let outcome = run(&options)?;
    let (sigmoid, relu) = (&outcome.sigmoid, &outcome.relu);
    println!("device: {}", outcome.device);
    println!(
        "\n{HIDDEN_LAYERS} hidden Dense({UNITS}) layers and a Dense({CLASSES}, softmax) head. L2 norm of the \
         gradient of the loss\n(sparse categorical cross-entropy, {NORM_BATCH} Fashion-MNIST images) with \
         respect to each layer's kernel, at initialization:\n"
    );
    println!("  {:>5}  {:<9} {:>7}   {:>23}   {:>15}", "layer", "name", "kernel", sigmoid.label, relu.label);
    for (i, (s, r)) in sigmoid.kernels.iter().zip(&relu.kernels).enumerate() {
        let shape = s.shape.iter().map(usize::to_string).collect::<Vec<_>>().join("x");
        println!("  {:>5}  {:<9} {shape:>7}   {:>23.3e}   {:>15.3e}", i + 1, s.layer, s.norm, r.norm);
    }
    println!(
        "\n  first layer / last layer              {:>23.2e}   {:>15.2e}",
        sigmoid.first_over_last(|k| k.norm),
        relu.first_over_last(|k| k.norm)
    );
    println!(
        "  the same per weight (norm / √weights)  {:>23.2e}   {:>15.2e}",
        sigmoid.first_over_last(KernelGradient::per_weight),
        relu.first_over_last(KernelGradient::per_weight)
    );
    println!(
        "\n  (the first kernel has 784x64 weights, 12 times as many as a 64x64 one and 78 times as many as \
         the\n  64x10 head, so the same gradient per weight makes its norm 3.5 to 9 times larger)"
    );

    println!(
        "\nValidation accuracy while training on {} images with SGD (learning rate 0.01, batch 32):\n",
        outcome.train_images
    );
    println!("  {:>5}   {:>23}   {:>15}", "epoch", sigmoid.label, relu.label);
    for (e, (s, r)) in sigmoid.val_accuracy.iter().zip(&relu.val_accuracy).enumerate() {
        println!("  {:>5}   {s:>23.4}   {r:>15.4}", e + 1);
    }
    println!(
        "\n  after {} epochs: sigmoid {:.4}, relu/He {:.4} (10 classes: 0.10 is chance)\n",
        sigmoid.val_accuracy.len(),
        sigmoid.final_accuracy(),
        relu.final_accuracy()
    );
    for picture in &outcome.pictures {
        println!("wrote {}", picture.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_mode_shows_sigmoid_gradients_vanishing_and_relu_he_ones_not() {
        let out = std::env::temp_dir().join(format!("tessera-vanishing-gradients-{}", std::process::id()));
        let outcome = run(&Options { mode: RunMode::CHECK, out: out.clone() }).unwrap();
        let layers = HIDDEN_LAYERS + 1;
        assert_eq!((outcome.sigmoid.kernels.len(), outcome.relu.kernels.len()), (layers, layers));

        // Each sigmoid layer scales the gradient by its derivative, at most 1/4, so 15 layers
        // can shrink it by up to 4^15 ≈ 1e9; a factor of 100 is far inside that, yet already a
        // first layer that SGD barely moves.
        let sigmoid = outcome.sigmoid.first_over_last(|k| k.norm);
        assert!(sigmoid < 1e-2, "sigmoid first/last kernel gradient norm ratio {sigmoid:e}");
        // He initialization keeps the gradient's size from layer to layer. Within a factor of
        // 10 either way is "no vanishing" and still rules out the sigmoid's decay; per weight,
        // so that the first kernel's 78 times as many weights as the head's do not count as
        // growth (its norm alone is about 6 times the head's).
        let relu = outcome.relu.first_over_last(KernelGradient::per_weight);
        assert!((0.1..=10.0).contains(&relu), "relu/He first/last per-weight gradient ratio {relu:e}");

        // Chance is 0.10 on ten balanced classes. The sigmoid network, its early layers frozen
        // in effect, stays within 0.05 of it; the relu/He one learns (about 0.6 after three
        // epochs here), so 0.2 above the sigmoid's leaves room for slower runs.
        let (s, r) = (outcome.sigmoid.final_accuracy(), outcome.relu.final_accuracy());
        assert!(s < 0.15, "the deep sigmoid network reached {s} validation accuracy");
        assert!(r > s + 0.2, "relu/He {r} vs sigmoid {s} validation accuracy");

        for picture in &outcome.pictures {
            assert!(std::fs::metadata(picture).map(|m| m.len()).unwrap_or(0) > 0, "{}", picture.display());
        }
        std::fs::remove_dir_all(&out).unwrap();
    }
}
