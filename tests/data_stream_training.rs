//! Training from a folder stream with augmentation inside `fit_stream`: two runs with the same
//! seeds end with bit-identical weights however many threads read the images, and the GPU
//! (lavapipe in CI) trains from the stream to the CPU reference's weights (relative L2 error
//! at most 1e-4, the tolerance of the nn-level GPU checks).

mod common;
#[path = "fixtures/scratch.rs"]
mod scratch;

use image::{Rgb, RgbImage};
use scratch::Scratch;
use tessera::Device;
use tessera::nn::data::{DirectoryOptions, FillMode, ImageAugmenter, ImageDataGenerator};
use tessera::nn::{Conv2D, Dense, FitOptions, Flatten, Model, optimizers::Sgd, set_random_seed};

const TOLERANCE: f64 = 1e-4;

/// 40 images of 10 x 9 pixels in three classes, each class with its own colour and stripes.
fn folder(scratch: &Scratch) {
    for i in 0..40u32 {
        let class = i % 3;
        let image = RgbImage::from_fn(9, 10, |x, y| {
            let stripe = if (x + class * y) % 3 == 0 { 120 } else { 0 };
            Rgb([(class * 60 + stripe) as u8, (i * 5 + y * 7) as u8, (x * 20) as u8])
        });
        let mut bytes = std::io::Cursor::new(Vec::new());
        image.write_to(&mut bytes, image::ImageFormat::Png).unwrap();
        scratch.write(&format!("class{class}/{i:02}.png"), bytes.get_ref());
    }
}

fn model(device: &Device) -> Model {
    set_random_seed(8);
    let mut model = Model::sequential(vec![
        Box::new(Conv2D::new(3, 3).activation("relu").input_shape(&[8, 8, 3])),
        Box::new(Flatten::new()),
        Box::new(Dense::new(3).activation("softmax")),
    ])
    .unwrap();
    model
        .compile(Sgd { learning_rate: 0.05, ..Sgd::default() }, "categorical_crossentropy", &["accuracy"])
        .unwrap();
    model.to_device(device).unwrap();
    model
}

/// The weights after two epochs from the folder through every augmentation, read by
/// `workers` threads with `prefetch` batches waiting.
fn train(scratch: &Scratch, device: &Device, workers: usize, prefetch: usize) -> Vec<Vec<f64>> {
    let augmenter = ImageAugmenter::new(21)
        .rotation_range(20.0)
        .width_shift_range(0.1)
        .height_shift_range(0.1)
        .shear_range(10.0)
        .zoom_range(0.2)
        .horizontal_flip(true)
        .vertical_flip(true)
        .brightness_range(0.8, 1.2)
        .fill_mode(FillMode::Reflect);
    let generator = ImageDataGenerator::new().rescale(1.0 / 255.0).augmentation(augmenter);
    let options = DirectoryOptions::default()
        .image_size(8, 8)
        .batch_size(6)
        .seed(4)
        .workers(workers)
        .prefetch(prefetch);
    let mut stream = generator.flow_from_directory(scratch.path(), options).unwrap();
    let mut model = model(device);
    model.fit_stream(&mut stream, FitOptions::default().epochs(2).seed(5).verbose(0)).unwrap();
    model.weights().iter().map(|w| w.value().to_vec_f64().unwrap()).collect()
}

#[test]
fn seeded_runs_repeat_bit_for_bit_whatever_the_threads() {
    let scratch = Scratch::new("stream-repeat");
    folder(&scratch);
    let one = train(&scratch, &Device::Cpu, 1, 1);
    assert_eq!(one, train(&scratch, &Device::Cpu, 4, 7), "the weights depend on the threads");
    let initial =
        model(&Device::Cpu).weights().iter().map(|w| w.value().to_vec_f64().unwrap()).collect::<Vec<_>>();
    assert_ne!(one, initial, "training changed nothing");
}

#[test]
fn the_gpu_trains_from_a_stream_as_the_cpu_does() {
    let Some(gpu) = common::gpu() else { return };
    let scratch = Scratch::new("stream-gpu");
    folder(&scratch);
    let (cpu, gpu) = (train(&scratch, &Device::Cpu, 2, 2), train(&scratch, &gpu, 2, 2));
    for (i, (c, g)) in cpu.iter().zip(&gpu).enumerate() {
        let diff: f64 = c.iter().zip(g).map(|(a, b)| (a - b) * (a - b)).sum();
        let norm: f64 = c.iter().map(|a| a * a).sum();
        let error = diff.sqrt() / norm.sqrt().max(1e-12);
        assert!(error <= TOLERANCE, "weight {i}: relative L2 error {error:e} between the CPU and the GPU");
    }
}

/// A user's stream of fixed batches, the last one given in `batches`.
struct FixedBatches(Vec<tessera::nn::data::HostBatch>);

impl tessera::nn::data::BatchStream for FixedBatches {
    fn steps_per_epoch(&self) -> usize {
        self.0.len()
    }

    fn epoch(
        &mut self,
        _epoch: usize,
    ) -> tessera::nn::Result<Box<dyn Iterator<Item = tessera::nn::Result<tessera::nn::data::HostBatch>> + '_>>
    {
        Ok(Box::new(self.0.iter().cloned().map(Ok)))
    }
}

/// A batch whose targets or weights count other samples than its inputs is an error naming the
/// batch and the tensor, before the model trains on it.
#[test]
fn a_stream_batch_with_mismatched_counts_is_an_error() {
    use tessera::nn::data::HostBatch;
    use tessera::{DType, Tensor};
    let cpu = Device::Cpu;
    let x = Tensor::zeros([4, 3], DType::F32, &cpu).unwrap();
    let batch = |targets: usize, weights: Option<usize>| HostBatch {
        inputs: vec![x.clone()],
        targets: Some(Tensor::zeros([targets, 2], DType::F32, &cpu).unwrap()),
        sample_weights: weights.map(|n| Tensor::ones([n], DType::F32, &cpu).unwrap()),
    };
    let mut model = Model::sequential(vec![Box::new(Dense::new(2).input_shape(&[3]))]).unwrap();
    model.compile(Sgd::default(), "mse", &[]).unwrap();
    let fit = |model: &mut Model, batches| {
        let mut stream = FixedBatches(batches);
        model.fit_stream(&mut stream, FitOptions::default().verbose(0)).unwrap_err().to_string()
    };
    let error = fit(&mut model, vec![batch(4, None), batch(3, None)]);
    assert!(error.contains("batch 1 of the stream") && error.contains("y has shape (3, 2)"), "{error}");
    let error = fit(&mut model, vec![batch(4, Some(5))]);
    assert!(
        error.contains("batch 0 of the stream") && error.contains("sample_weight has shape (5,)"),
        "{error}"
    );
}
