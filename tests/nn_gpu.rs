//! The nn API on the GPU: the same model with the same weights gives the same outputs and the
//! same training updates on the GPU as on the CPU reference (relative L2 error at most 1e-4,
//! the tolerance of reductions and convolutions in the op-level checks).

mod common;

use tessera::nn::{
    BatchNormalization, Conv2D, Dense, Flatten, ForwardCtx, MaxPooling2D, Model, optimizers::Sgd,
    set_random_seed,
};
use tessera::{DType, Device, Tensor};

const TOLERANCE: f64 = 1e-4;

fn relative_l2(a: &[f64], b: &[f64]) -> f64 {
    let diff: f64 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum();
    let norm: f64 = a.iter().map(|x| x * x).sum();
    diff.sqrt() / norm.sqrt().max(1e-12)
}

/// A small CNN touching every layer kind the reference model uses, plus batch norm.
fn model(device: &Device) -> Model {
    set_random_seed(42);
    let mut model = Model::sequential(vec![
        Box::new(Conv2D::new(4, 3).padding("same").activation("relu").input_shape(&[9, 7, 2])),
        Box::new(BatchNormalization::new()),
        Box::new(MaxPooling2D::new()),
        Box::new(Conv2D::new(5, (3, 2)).activation("relu")),
        Box::new(Flatten::new()),
        Box::new(Dense::new(3).activation("softmax")),
    ])
    .unwrap();
    model
        .compile(
            Sgd { learning_rate: 0.1, ..Sgd::default() },
            "sparse_categorical_crossentropy",
            &["accuracy"],
        )
        .unwrap();
    model.to_device(device).unwrap();
    model
}

fn weights(model: &Model) -> Vec<Vec<f64>> {
    model.weights().iter().map(|w| w.value().to_vec_f64().unwrap()).collect()
}

#[test]
fn the_same_model_agrees_on_cpu_and_gpu() {
    let Some(gpu) = common::gpu() else { return };
    let x = Tensor::uniform([5, 9, 7, 2], -1.0, 1.0, 7, DType::F32, &Device::Cpu).unwrap();
    let y = Tensor::from_vec(vec![0.0f32, 2.0, 1.0, 1.0, 0.0], [5], &Device::Cpu).unwrap();
    let (mut on_cpu, mut on_gpu) = (model(&Device::Cpu), model(&gpu));
    assert_eq!(weights(&on_cpu), weights(&on_gpu), "same seed, same initial weights");

    let infer = |m: &Model, x: &Tensor| {
        m.forward(&[x.to(m.device()).unwrap()], &mut ForwardCtx::inference()).unwrap()
    };
    let (a, b) = (infer(&on_cpu, &x).to_vec_f64().unwrap(), infer(&on_gpu, &x).to_vec_f64().unwrap());
    assert!(relative_l2(&a, &b) <= TOLERANCE, "outputs differ: {a:?} vs {b:?}");

    // Three training steps: gradients, batch statistics and SGD updates all have to agree.
    for _ in 0..3 {
        let cpu_logs = on_cpu.train_on_batch(&x, &y).unwrap();
        let gpu_logs = on_gpu.train_on_batch(x.to(&gpu).unwrap(), y.to(&gpu).unwrap()).unwrap();
        let (l1, l2) = (cpu_logs["loss"], gpu_logs["loss"]);
        assert!((l1 - l2).abs() <= TOLERANCE * l1.abs(), "losses differ: {l1} vs {l2}");
    }
    for (i, (a, b)) in weights(&on_cpu).iter().zip(weights(&on_gpu)).enumerate() {
        let error = relative_l2(a, &b);
        assert!(
            error <= TOLERANCE,
            "weight {i} ({}) differs after training: {error:e}",
            on_cpu.weights()[i].name()
        );
    }
}

/// Every loss, and its gradient with respect to the predictions, at an odd shape (7 x 13): the
/// GPU against the CPU reference, in f32.
#[test]
fn every_loss_and_its_gradient_agree_with_the_cpu() {
    use tessera::Tape;
    use tessera::nn::losses::Loss;
    let Some(gpu) = common::gpu() else { return };
    let uniform = |low: f64, high: f64, seed: u64| {
        Tensor::uniform(vec![7, 13], low, high, seed, DType::F32, &Device::Cpu).unwrap()
    };
    let probs = uniform(0.05, 1.0, 1);
    let probs = probs.div(&probs.sum(&[-1], true).unwrap()).unwrap();
    let logits = uniform(-3.0, 3.0, 2);
    let soft = uniform(0.0, 1.0, 3);
    let ids: Vec<f32> = (0..7).map(|i| ((i * 5) % 13) as f32).collect();
    let ids = Tensor::from_vec(ids, [7], &Device::Cpu).unwrap();
    let one_hot = Tensor::arange(13, DType::F32, &Device::Cpu)
        .unwrap()
        .reshape([1, 13])
        .unwrap()
        .eq(&ids.reshape([7, 1]).unwrap())
        .unwrap();
    let cases = [
        (Loss::MeanSquaredError, &soft, &logits),
        (Loss::MeanAbsoluteError, &soft, &logits),
        (Loss::BinaryCrossentropy { from_logits: false, label_smoothing: 0.0 }, &one_hot, &probs),
        (Loss::BinaryCrossentropy { from_logits: true, label_smoothing: 0.0 }, &soft, &logits),
        (Loss::CategoricalCrossentropy { from_logits: false, label_smoothing: 0.0 }, &soft, &probs),
        (Loss::CategoricalCrossentropy { from_logits: true, label_smoothing: 0.0 }, &soft, &logits),
        (Loss::SparseCategoricalCrossentropy { from_logits: false }, &ids, &probs),
        (Loss::SparseCategoricalCrossentropy { from_logits: true }, &ids, &logits),
        (Loss::Hinge, &one_hot, &logits),
        (Loss::KlDivergence, &soft, &probs),
        (Loss::MeanAbsolutePercentageError, &soft, &probs),
        (Loss::MeanSquaredLogarithmicError, &soft, &probs),
        (Loss::SquaredHinge, &one_hot, &logits),
        (Loss::CategoricalHinge, &one_hot, &logits),
        (Loss::LogCosh, &soft, &logits),
        (Loss::Poisson, &soft, &probs),
        (Loss::CosineSimilarity, &soft, &logits),
    ];
    for (loss, y_true, y_pred) in cases {
        let run = |device: &Device| {
            let tape = Tape::new();
            let p = tape.watch(&y_pred.to(device).unwrap());
            let value = loss.compute(&y_true.to(device).unwrap(), &p).unwrap();
            let grad = tape.backward(&value).unwrap().get(&p).unwrap().to_vec_f64().unwrap();
            (value.item().unwrap(), grad)
        };
        let ((cpu_loss, cpu_grad), (gpu_loss, gpu_grad)) = (run(&Device::Cpu), run(&gpu));
        assert!(
            (cpu_loss - gpu_loss).abs() <= TOLERANCE * cpu_loss.abs().max(1.0),
            "{loss}: {cpu_loss} vs {gpu_loss}"
        );
        let error = relative_l2(&cpu_grad, &gpu_grad);
        assert!(error <= TOLERANCE, "{loss}: gradient relative L2 error {error:.2e}");
    }
}

/// The activation layers with settings of their own (PReLU with trained slopes, ReLU capped and
/// thresholded, LeakyReLU, a Softmax layer before the loss): three SGD steps agree on both
/// devices.
#[test]
fn activation_layers_agree_on_cpu_and_gpu() {
    use tessera::nn::{Initializer, LeakyReLU, PReLU, ReLU, Softmax};
    let Some(gpu) = common::gpu() else { return };
    let build = |device: &Device| {
        set_random_seed(7);
        let mut model = Model::sequential(vec![
            Box::new(Dense::new(12).input_shape(&[5])),
            Box::new(PReLU::new().alpha_initializer(Initializer::random_uniform())),
            Box::new(ReLU::new().max_value(1.5).negative_slope(0.1).threshold(0.2)),
            Box::new(Dense::new(6)),
            Box::new(LeakyReLU::new().negative_slope(0.01)),
            Box::new(Dense::new(3)),
            Box::new(Softmax::new()),
        ])
        .unwrap();
        model
            .compile(Sgd { learning_rate: 0.1, ..Sgd::default() }, "sparse_categorical_crossentropy", &[])
            .unwrap();
        model.to_device(device).unwrap();
        model
    };
    let x = Tensor::uniform([9, 5], -2.0, 2.0, 8, DType::F32, &Device::Cpu).unwrap();
    let y =
        Tensor::from_vec(vec![0.0f32, 2.0, 1.0, 1.0, 0.0, 2.0, 2.0, 1.0, 0.0], [9], &Device::Cpu).unwrap();
    trains_alike(build, &gpu, &x, &y);
}

/// A small convolutional autoencoder (the notes' denoising shape): Conv2D, MaxPooling2D,
/// UpSampling2D, Reshape; three SGD steps on mean squared error agree on both devices.
#[test]
fn an_upsampling_autoencoder_agrees_on_cpu_and_gpu() {
    use tessera::nn::{Reshape, UpSampling2D};
    let Some(gpu) = common::gpu() else { return };
    let build = |device: &Device| {
        set_random_seed(11);
        let mut model = Model::sequential(vec![
            Box::new(Conv2D::new(3, 3).padding("same").activation("relu").input_shape(&[6, 10, 1])),
            Box::new(MaxPooling2D::new()),
            Box::new(UpSampling2D::new()),
            Box::new(Conv2D::new(1, 3).padding("same").activation("sigmoid")),
            Box::new(Reshape::new(&[-1])),
        ])
        .unwrap();
        model.compile(Sgd { learning_rate: 0.5, ..Sgd::default() }, "mse", &[]).unwrap();
        model.to_device(device).unwrap();
        model
    };
    let x = Tensor::uniform([4, 6, 10, 1], 0.0, 1.0, 12, DType::F32, &Device::Cpu).unwrap();
    let y = x.reshape([4, 60]).unwrap();
    trains_alike(build, &gpu, &x, &y);
}

/// An Embedding feeding a Dense head: the rows' gradients (summed where ids repeat) and the
/// updates agree on both devices over three SGD steps.
#[test]
fn an_embedding_model_agrees_on_cpu_and_gpu() {
    use tessera::nn::Embedding;
    let Some(gpu) = common::gpu() else { return };
    let build = |device: &Device| {
        set_random_seed(13);
        let mut model = Model::sequential(vec![
            Box::new(Embedding::new(17, 5).input_shape(&[6])),
            Box::new(Flatten::new()),
            Box::new(Dense::new(3).activation("softmax")),
        ])
        .unwrap();
        model
            .compile(Sgd { learning_rate: 0.5, ..Sgd::default() }, "sparse_categorical_crossentropy", &[])
            .unwrap();
        model.to_device(device).unwrap();
        model
    };
    let ids: Vec<f32> = (0..8 * 6).map(|i| ((i * 7) % 17 % 9) as f32).collect();
    let x = Tensor::from_vec(ids, [8, 6], &Device::Cpu).unwrap();
    let y = Tensor::from_vec(vec![0.0f32, 1.0, 2.0, 0.0, 1.0, 2.0, 0.0, 1.0], [8], &Device::Cpu).unwrap();
    trains_alike(build, &gpu, &x, &y);
}

/// Keras's optimizer options (clipping, decoupled weight decay, a schedule) run as tensor ops
/// around the fused update, on packed GPU buffers: each agrees with the CPU, here under a
/// label-smoothed cross-entropy on a softmax (its logits path).
#[test]
fn optimizer_options_agree_on_cpu_and_gpu() {
    use tessera::nn::losses::Loss;
    use tessera::nn::optimizers::schedules::CosineDecay;
    use tessera::nn::optimizers::{AdamW, Configured, OptimizerOptions, RmsProp};
    let Some(gpu) = common::gpu() else { return };
    let x = Tensor::uniform([6, 5], -1.0, 1.0, 3, DType::F32, &Device::Cpu).unwrap();
    let y = Tensor::from_vec(
        vec![1.0f32, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
        [6, 3],
        &Device::Cpu,
    )
    .unwrap();
    let optimizers: Vec<Configured> = vec![
        AdamW::default().learning_rate_schedule(CosineDecay::new(0.05, 5)).global_clipnorm(0.1),
        Sgd { learning_rate: 0.5, momentum: 0.9, nesterov: false }.clipnorm(0.2).weight_decay(0.1),
        RmsProp::default().clipvalue(0.01),
    ];
    for optimizer in optimizers {
        let build = |device: &Device| {
            set_random_seed(5);
            let mut model = Model::sequential(vec![
                Box::new(Dense::new(4).activation("tanh").input_shape(&[5])),
                Box::new(Dense::new(3).activation("softmax")),
            ])
            .unwrap();
            let loss = Loss::CategoricalCrossentropy { from_logits: false, label_smoothing: 0.2 };
            model.compile(optimizer.clone(), loss, &[]).unwrap();
            model.to_device(device).unwrap();
            model
        };
        trains_alike(build, &gpu, &x, &y);
    }
}

/// LSTM and GRU at odd sizes (a batch of 3 sequences of 5 steps of 7 features, 9 units), one
/// going backwards, and a GRU with the reset gate first, feeding a softmax head: the fused cells, their backward kernels and the
/// per-step products agree on both devices over three SGD steps.
#[test]
fn recurrent_layers_agree_on_cpu_and_gpu() {
    use tessera::nn::{GRU, LSTM};
    let Some(gpu) = common::gpu() else { return };
    let build = |device: &Device| {
        set_random_seed(17);
        let mut model = Model::sequential(vec![
            Box::new(LSTM::new(9).input_shape(&[5, 7]).return_sequences(true)),
            Box::new(GRU::new(9).go_backwards(true).return_sequences(true).bias_initializer("random_normal")),
            Box::new(GRU::new(9).reset_after(false).bias_initializer("random_normal")),
            Box::new(Dense::new(3).activation("softmax")),
        ])
        .unwrap();
        model
            .compile(Sgd { learning_rate: 0.5, ..Sgd::default() }, "sparse_categorical_crossentropy", &[])
            .unwrap();
        model.to_device(device).unwrap();
        model
    };
    let x = Tensor::uniform([3, 5, 7], -1.0, 1.0, 18, DType::F32, &Device::Cpu).unwrap();
    let y = Tensor::from_vec(vec![2.0f32, 0.0, 1.0], [3], &Device::Cpu).unwrap();
    trains_alike(build, &gpu, &x, &y);
}

/// A Conv2DTranspose decoder (strided `same`, then a 2x3 `valid` window) agrees on both
/// devices over three SGD steps on mean squared error.
#[test]
fn a_transposed_convolution_decoder_agrees_on_cpu_and_gpu() {
    use tessera::nn::{Conv2DTranspose, Reshape};
    let Some(gpu) = common::gpu() else { return };
    let build = |device: &Device| {
        set_random_seed(19);
        let mut model = Model::sequential(vec![
            Box::new(Conv2D::new(3, 3).strides(2).padding("same").activation("relu").input_shape(&[7, 5, 2])),
            Box::new(Conv2DTranspose::new(4, 3).strides(2).padding("same").activation("relu")),
            Box::new(Conv2DTranspose::new(1, (2, 3)).activation("sigmoid")),
            Box::new(Reshape::new(&[-1])),
        ])
        .unwrap();
        model.compile(Sgd { learning_rate: 0.5, ..Sgd::default() }, "mse", &[]).unwrap();
        model.to_device(device).unwrap();
        model
    };
    let x = Tensor::uniform([3, 7, 5, 2], 0.0, 1.0, 20, DType::F32, &Device::Cpu).unwrap();
    // 4x3 after the strided convolution, 8x6 after the first transposed one, 9x8 after the last.
    let y = Tensor::uniform([3, 72], 0.0, 1.0, 21, DType::F32, &Device::Cpu).unwrap();
    trains_alike(build, &gpu, &x, &y);
}

/// Conv2DTranspose with an `output_padding`, at odd sizes in both paddings, agrees on both
/// devices over three SGD steps.
#[test]
fn a_transposed_convolution_with_output_padding_agrees_on_cpu_and_gpu() {
    use tessera::nn::{Conv2DTranspose, Reshape};
    let Some(gpu) = common::gpu() else { return };
    let build = |device: &Device| {
        set_random_seed(23);
        let mut model = Model::sequential(vec![
            Box::new(
                Conv2DTranspose::new(3, (3, 2))
                    .strides((2, 3))
                    .padding("same")
                    .output_padding((1, 2))
                    .activation("tanh")
                    .input_shape(&[3, 5, 2]),
            ),
            Box::new(Conv2DTranspose::new(1, (2, 3)).strides(3).output_padding((2, 1)).activation("sigmoid")),
            Box::new(Reshape::new(&[-1])),
        ])
        .unwrap();
        model.compile(Sgd { learning_rate: 0.5, ..Sgd::default() }, "mse", &[]).unwrap();
        model.to_device(device).unwrap();
        model
    };
    let x = Tensor::uniform([3, 3, 5, 2], -1.0, 1.0, 24, DType::F32, &Device::Cpu).unwrap();
    // 6x14 after the first layer ((3-1)*2 + 3 % 2 + 1, (5-1)*3 + 2 % 2 + 2), then
    // ((6-1)*3 + 2 + 2) x ((14-1)*3 + 3 + 1) = 19x43.
    let y = Tensor::uniform([3, 19 * 43], 0.0, 1.0, 25, DType::F32, &Device::Cpu).unwrap();
    trains_alike(build, &gpu, &x, &y);
}

/// MobileNet's building blocks (ZeroPadding2D, DepthwiseConv2D strided and not, with a depth
/// multiplier, global pooling keeping its axes) agree on both devices over three SGD steps on 7x9
/// images of 3 channels.
#[test]
fn depthwise_separable_blocks_agree_on_cpu_and_gpu() {
    use tessera::nn::{DepthwiseConv2D, GlobalAveragePooling2D, Reshape, ZeroPadding2D};
    let Some(gpu) = common::gpu() else { return };
    let build = |device: &Device| {
        set_random_seed(23);
        let mut model = Model::sequential(vec![
            Box::new(
                DepthwiseConv2D::new(3)
                    .strides(2)
                    .padding("same")
                    .depth_multiplier(2)
                    .bias_initializer("random_normal")
                    .activation("relu")
                    .input_shape(&[7, 9, 3]),
            ),
            Box::new(ZeroPadding2D::new().padding(((0, 1), (1, 2)))),
            Box::new(DepthwiseConv2D::new((3, 2)).strides((2, 1)).activation("tanh")),
            Box::new(Conv2D::new(4, 1).use_bias(false)),
            Box::new(GlobalAveragePooling2D::new().keepdims(true)),
            Box::new(Reshape::new(&[-1])),
        ])
        .unwrap();
        model.compile(Sgd { learning_rate: 0.5, ..Sgd::default() }, "mse", &[]).unwrap();
        model.to_device(device).unwrap();
        model
    };
    let x = Tensor::uniform([3, 7, 9, 3], -1.0, 1.0, 24, DType::F32, &Device::Cpu).unwrap();
    let y = Tensor::uniform([3, 4], 0.0, 1.0, 25, DType::F32, &Device::Cpu).unwrap();
    trains_alike(build, &gpu, &x, &y);
}

/// Builds the model `build` makes on the CPU and on `gpu`, takes three training steps on `x`,
/// `y` with each, and asserts that the losses and the final weights agree within [`TOLERANCE`].
fn trains_alike(build: impl Fn(&Device) -> Model, gpu: &Device, x: &Tensor, y: &Tensor) {
    let (mut on_cpu, mut on_gpu) = (build(&Device::Cpu), build(gpu));
    for _ in 0..3 {
        let l1 = on_cpu.train_on_batch(x, y).unwrap()["loss"];
        let l2 = on_gpu.train_on_batch(x.to(gpu).unwrap(), y.to(gpu).unwrap()).unwrap()["loss"];
        assert!((l1 - l2).abs() <= TOLERANCE * l1.abs(), "losses differ: {l1} vs {l2}");
    }
    for (i, (a, b)) in weights(&on_cpu).iter().zip(weights(&on_gpu)).enumerate() {
        let error = relative_l2(a, &b);
        assert!(
            error <= TOLERANCE,
            "weight {i} ({}) differs after training: {error:e}",
            on_cpu.weights()[i].name()
        );
    }
}
