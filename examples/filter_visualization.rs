//! The notes' filter visualization: what input pattern makes a convolutional filter fire the
//! most, found by gradient ascent on the input image, as in François Chollet's "How
//! convolutional neural networks see the world" that the notes follow.
//!
//! A small CNN (Conv2D 16 3x3, max pooling, Conv2D 32 3x3, max pooling, Dense softmax) is
//! trained briefly on Fashion-MNIST. Then, for each of several filters of the second
//! convolutional layer:
//!
//! 1. start from a grey image with a little random noise;
//! 2. take the mean activation of that filter over the image as the objective, and its
//!    gradient with respect to the input pixels (a tape watching the input image);
//! 3. normalize the gradient by its root mean square, as Chollet does, so that each step has
//!    the same size however strong the filter's response, and step the image up the gradient
//!    (gradient ascent);
//! 4. repeat: the image becomes the pattern the filter detects, drawn with its own range from
//!    black to white (the ascent is free to leave [0, 1], as in Chollet's code).
//!
//! The filters of the first layer are small enough to look at directly: their 3x3 kernels are
//! drawn too. Pictures: `filters.png` (the input patterns found for the second layer's
//! filters) and `first_layer_kernels.png`. It prints each filter's mean activation before and
//! after the ascent.
//!
//! Run with `cargo run --release --example filter_visualization [-- --fast] [--cpu] [--out DIR]`;
//! `--fast` trains on fewer images and visualizes fewer filters, `--cpu` keeps everything off
//! the GPU, and the pictures go to `DIR` (default `examples-output/filter_visualization/`).
//! On a software Vulkan driver (Mesa's lavapipe) `--cpu` is several times faster: the
//! networks are small, so a step is many small dispatches, each with a fixed cost.

mod common;

use std::path::PathBuf;

use clap::Parser;
use common::RunMode;
use tessera::nn::data::FashionMnist;
use tessera::nn::optimizers::Adam;
use tessera::nn::viz::{Caption, ImageGrid, Scale};
use tessera::nn::{Conv2D, Dense, EvaluateOptions, FitOptions, Flatten, ForwardCtx, MaxPooling2D, Model};
use tessera::{DType, Device, Tape, Tensor};

/// Seeds the weights, the shuffling and the starting noise, so every run prints the same numbers.
const SEED: u64 = 3;
const SIDE: usize = 28;
/// Filters of the second convolutional layer.
const FILTERS: usize = 32;
/// The starting image: grey (0.5) with uniform noise of this half-width, Chollet's 128 ± 10 out
/// of 255 scaled to pixels in [0, 1].
const NOISE: f64 = 0.04;
/// How far each ascent step moves the image, in root-mean-square pixel change.
const STEP: f64 = 0.02;
/// Steps of gradient ascent: 40 of [`STEP`] move pixels by up to about 0.8, enough for the
/// pattern to dominate the starting noise.
const ASCENT_STEPS: usize = 40;

#[derive(Parser, Debug, Clone)]
#[command(about = "Convolutional filter visualization by gradient ascent on the input image")]
struct Options {
    #[command(flatten)]
    mode: RunMode,
    /// Where to write the pictures.
    #[arg(long, default_value = "examples-output/filter_visualization")]
    out: PathBuf,
}

impl Options {
    fn train_images(&self) -> usize {
        self.mode.pick(2000, 20000)
    }

    fn test_images(&self) -> usize {
        self.mode.pick(500, 5000)
    }

    fn epochs(&self) -> usize {
        self.mode.pick(1, 3)
    }

    /// The second layer's filters to visualize: the first 8, or all.
    fn filters(&self) -> usize {
        self.mode.pick(8, FILTERS)
    }
}

/// One filter's visualization.
struct Filter {
    index: usize,
    /// Its mean activation over the starting grey image and over the final one.
    before: f64,
    after: f64,
    /// The image found, SIDE x SIDE pixels.
    pattern: Vec<f32>,
}

impl Filter {
    /// How many times stronger the filter fires on the pattern than on the grey start; none
    /// for a filter silent on the start (every position's relu at 0): its gradient is zero,
    /// so the ascent cannot move, and the image stays grey.
    fn gain(&self) -> Option<f64> {
        (self.before > 0.0).then(|| self.after / self.before)
    }
}

struct Outcome {
    device: Device,
    train_images: usize,
    test_accuracy: f64,
    /// The trained model's layer count and test accuracy once the feature maps were taken:
    /// looking inside leaves it whole.
    layers_after: usize,
    test_accuracy_after: f64,
    steps: usize,
    filters: Vec<Filter>,
    pictures: Vec<PathBuf>,
}

/// The CNN, compiled for class ids.
fn cnn(device: &Device) -> anyhow::Result<Model> {
    let mut model = Model::sequential(vec![
        Box::new(Conv2D::new(16, 3).padding("same").activation("relu").input_shape(&[SIDE, SIDE, 1])),
        Box::new(MaxPooling2D::new()),
        Box::new(Conv2D::new(FILTERS, 3).padding("same").activation("relu")),
        Box::new(MaxPooling2D::new()),
        Box::new(Flatten::new()),
        Box::new(Dense::new(10).activation("softmax")),
    ])?;
    model.to_device(device)?;
    model.compile(Adam::default(), "sparse_categorical_crossentropy", &["accuracy"])?;
    Ok(model)
}

/// Each image's objective: the mean over positions of its filter's activation, where
/// `selector` (images, 1, 1, channels) is 1 at image i's filter and 0 elsewhere.
fn mean_activations(features: &Model, images: &Tensor, selector: &Tensor) -> anyhow::Result<Tensor> {
    let maps = features.forward(std::slice::from_ref(images), &mut ForwardCtx::inference())?;
    Ok(maps.mul(selector)?.sum(&[-1], false)?.mean(&[1, 2], false)?)
}

/// Gradient ascent on one image per filter in `filters`, all in one batch: each image's
/// objective depends on that image alone, so the gradient of their sum with respect to the
/// batch holds each image's own gradient.
fn ascend(features: &Model, filters: &[usize], steps: usize, device: &Device) -> anyhow::Result<Vec<Filter>> {
    let n = filters.len();
    let mut one_hot = vec![0.0f32; n * FILTERS];
    for (i, &f) in filters.iter().enumerate() {
        one_hot[i * FILTERS + f] = 1.0;
    }
    let selector = Tensor::from_vec(one_hot, [n, 1, 1, FILTERS], device)?;
    let shape = [n, SIDE, SIDE, 1];
    let mut images = Tensor::uniform(shape, 0.5 - NOISE, 0.5 + NOISE, SEED, DType::F32, device)?;
    let before = tessera::no_grad(|| mean_activations(features, &images, &selector))?.to_vec_f64()?;
    for _ in 0..steps {
        let tape = Tape::new();
        let watched = tape.watch(&images);
        let objective = mean_activations(features, &watched, &selector)?.sum_all()?;
        let gradient =
            tape.backward(&objective)?.get(&watched).cloned().ok_or_else(|| {
                anyhow::anyhow!("the filters' activations do not depend on the input image")
            })?;
        // Chollet's normalization: divide each image's gradient by its root mean square (the
        // 1e-5 keeps a filter that does not respond at all from dividing by zero).
        let rms = gradient.square()?.mean(&[1, 2, 3], true)?.sqrt()?.add_scalar(1e-5)?;
        images = images.add(&gradient.div(&rms)?.mul_scalar(STEP)?)?;
    }
    let after = tessera::no_grad(|| mean_activations(features, &images, &selector))?.to_vec_f64()?;
    let pixels = images.to_vec::<f32>()?;
    Ok(filters
        .iter()
        .enumerate()
        .map(|(i, &index)| Filter {
            index,
            before: before[i],
            after: after[i],
            pattern: pixels[i * SIDE * SIDE..(i + 1) * SIDE * SIDE].to_vec(),
        })
        .collect())
}

fn run(options: &Options) -> anyhow::Result<Outcome> {
    let device = options.mode.device()?;
    let data = FashionMnist::load_default()?;
    let (x, y) = data.train.first(options.train_images()).to_scaled_tensors(&device)?;
    let (test_x, test_y) = data.test.first(options.test_images()).to_scaled_tensors(&device)?;

    tessera::nn::set_random_seed(SEED);
    let mut model = cnn(&device)?;
    model.fit(&x, &y, FitOptions::default().batch_size(64).epochs(options.epochs()).seed(SEED).verbose(0))?;
    let test_accuracy =
        model.evaluate(&test_x, &test_y, EvaluateOptions::default().batch_size(256).verbose(0))?["accuracy"];

    std::fs::create_dir_all(&options.out)?;
    let pictures = vec![options.out.join("filters.png"), options.out.join("first_layer_kernels.png")];
    let first = model
        .layer("conv2d")
        .and_then(|l| l.weights().into_iter().find(|w| w.name() == "kernel"))
        .ok_or_else(|| anyhow::anyhow!("the CNN has no first convolutional kernel"))?;
    ImageGrid::from_conv_kernel(first.value(), 8)?
        .title("First layer: the 16 learned 3x3 kernels")
        .save(&pictures[1])?;

    // Keras's Model(model.input, model.get_layer("conv2d_1").output): a sub-model whose output
    // is the second convolution's feature maps, over the trained model's own weights.
    let graph = model.graph()?;
    let features = Model::functional(&[&graph.input()?], &graph.layer_output("conv2d_1")?)?;
    let filters: Vec<usize> = (0..options.filters()).collect();
    let steps = ASCENT_STEPS;
    let filters = ascend(&features, &filters, steps, &device)?;
    let test_accuracy_after =
        model.evaluate(&test_x, &test_y, EvaluateOptions::default().batch_size(256).verbose(0))?["accuracy"];

    let mut grid = ImageGrid::new(8).title(format!(
        "Second layer: the input that most activates each filter ({steps} steps of gradient ascent)"
    ));
    for filter in &filters {
        let caption = match filter.gain() {
            Some(gain) => format!("filter {}: x{gain:.0}", filter.index),
            None => format!("filter {}: silent", filter.index),
        };
        grid.push(&filter.pattern, SIDE, SIDE, Scale::PerImage, Some(Caption::plain(caption)))?;
    }
    grid.save(&pictures[0])?;
    Ok(Outcome {
        device,
        train_images: x.dims()[0],
        test_accuracy,
        layers_after: model.layers().len(),
        test_accuracy_after,
        steps,
        filters,
        pictures,
    })
}

fn main() -> anyhow::Result<()> {
    tessera::logging::init();
    let options = Options::parse();
    let outcome = run(&options)?;
    println!("device: {}", outcome.device);
    println!(
        "\nCNN trained on {} Fashion-MNIST images: test accuracy {:.4}",
        outcome.train_images, outcome.test_accuracy
    );
    println!(
        "\nMean activation of each filter of conv2d_1 over the input image, before and after {} steps of \
         gradient ascent\nfrom grey noise:\n",
        outcome.steps
    );
    println!("  {:>6}  {:>10}  {:>10}  {:>8}", "filter", "before", "after", "ratio");
    for f in &outcome.filters {
        let gain = f.gain().map_or_else(|| "silent".to_string(), |g| format!("{g:.1}"));
        println!("  {:>6}  {:>10.4}  {:>10.4}  {gain:>8}", f.index, f.before, f.after);
    }
    if outcome.filters.iter().any(|f| f.gain().is_none()) {
        println!(
            "\n  silent: the filter's relu is 0 at every position of the grey start, so its gradient is \
             zero and the ascent cannot begin"
        );
    }
    println!(
        "\nthe CNN afterwards: {} layers, test accuracy {:.4} (the sub-model only read its weights)",
        outcome.layers_after, outcome.test_accuracy_after
    );
    println!();
    for picture in &outcome.pictures {
        println!("wrote {}", picture.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_mode_finds_inputs_that_excite_every_filter() {
        let out = std::env::temp_dir().join(format!("tessera-filter-visualization-{}", std::process::id()));
        let outcome = run(&Options { mode: RunMode::CHECK, out: out.clone() }).unwrap();
        assert_eq!(outcome.filters.len(), 8);
        // The trained model is whole after the sub-model looked inside it: all six layers, and
        // the same test accuracy to the last bit.
        assert_eq!(outcome.layers_after, 6);
        assert_eq!(outcome.test_accuracy_after.to_bits(), outcome.test_accuracy.to_bits());
        // A step in a random direction leaves a filter's mean activation where it was, on
        // average; 40 steps up the gradient took every one of these filters 2.7-fold or more
        // here, and 2-fold leaves room for slower runs.
        for f in &outcome.filters {
            assert!(
                f.after > 2.0 * f.before && f.before > 0.0,
                "filter {}: {} -> {}",
                f.index,
                f.before,
                f.after
            );
        }
        for picture in &outcome.pictures {
            assert!(std::fs::metadata(picture).map(|m| m.len()).unwrap_or(0) > 0, "{}", picture.display());
        }
        std::fs::remove_dir_all(&out).unwrap();
    }
}
