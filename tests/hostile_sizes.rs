//! Hostile sizes: shapes whose element or byte counts overflow, or that no host could hold,
//! given to every tensor constructor, to reshape and broadcast, and to layers as units, filters
//! and kernel sizes. Each must be refused with an error naming the op (or layer) and the size,
//! before anything is allocated; never a panic, an abort or a tensor of the wrong size.

mod common;

use common::hostile::Suite;
use tessera::nn::data::to_categorical;
use tessera::nn::{BatchNormalization, Conv2D, Conv2DTranspose, Dense, Flatten, GRU, LSTM, Model, SimpleRNN};
use tessera::tensor_core::cpu::{host_memory_limit, set_host_memory_limit};
use tessera::{DType, Device, Shape, Tensor};

const CPU: &Device = &Device::Cpu;
const F32: DType = DType::F32;

/// 2^32: two of these multiply past u64.
const HUGE: usize = 1 << 32;
/// 2^40 elements: 4 TiB of f32, far past any host, but a representable count.
const TERA: usize = 1 << 40;

/// Ok(None) when `t` has `dims`, a description of what it has otherwise.
fn has_dims(t: &Tensor, dims: &[usize]) -> Option<String> {
    (t.dims() != dims).then(|| format!("dims {:?}, expected {dims:?}", t.dims()))
}

/// One test, not several: the host memory limit is the process's, and the cases below set it.
#[test]
fn hostile_sizes_are_refused_before_anything_is_allocated() {
    let mut suite = Suite::new("hostile sizes");

    // Without a limit, sizes past the address space are still refused cleanly: the counts are
    // checked, and the allocation is fallible.
    set_host_memory_limit(None);
    suite.error("zeros of 2^60 f32 without a limit", &["zeros", "4611686018427387904 bytes"], || {
        Tensor::zeros([1usize << 60], F32, CPU)
    });
    suite.error("arange of 2^60 without a limit", &["arange", "4611686018427387904 bytes"], || {
        Tensor::arange(1 << 60, F32, CPU)
    });
    suite.error(
        "ones of 2^62 f64: the byte count overflows",
        &["ones", "more bytes than memory can address"],
        || Tensor::ones([1usize << 62], DType::F64, CPU),
    );

    // With a limit (what a service taking sizes from users sets), everything above it is refused
    // up front, whatever the machine's overcommit policy would have let through.
    set_host_memory_limit(Some(1 << 30));
    suite.correct("the limit reads back", || {
        let limit = host_memory_limit()?;
        Ok::<_, tessera::Error>((limit != Some(1 << 30)).then(|| format!("limit {limit:?}")))
    });

    // Every constructor, with a product that overflows and with one that fits but cannot be held.
    let overflowing = [HUGE, HUGE];
    suite.error("zeros (2^32, 2^32)", &["zeros", "4294967296, 4294967296", "more elements"], move || {
        Tensor::zeros(overflowing, F32, CPU)
    });
    suite.error("ones (2^32, 2^32)", &["ones", "4294967296"], move || Tensor::ones(overflowing, F32, CPU));
    suite.error("full (2^32, 2^32)", &["full", "4294967296"], move || {
        Tensor::full(overflowing, 7.0, F32, CPU)
    });
    suite.error("uniform (2^32, 2^32)", &["uniform", "4294967296"], move || {
        Tensor::uniform(overflowing, 0.0, 1.0, 1, F32, CPU)
    });
    suite.error("normal (2^32, 2^32)", &["normal", "4294967296"], move || {
        Tensor::normal(overflowing, 0.0, 1.0, 1, F32, CPU)
    });
    suite.error("from_vec of nothing as (2^63, 2)", &["from_vec", "9223372036854775808"], || {
        Tensor::from_vec(Vec::<f32>::new(), [1usize << 63, 2], CPU)
    });
    suite.error("from_slice of nothing as (2^62, 4)", &["from_slice", "4611686018427387904"], || {
        Tensor::from_slice::<f64>(&[], [1usize << 62, 4], CPU)
    });
    suite.error(
        "from_vec of nothing as (0, 2^63, 4): a zero excuses no overflow",
        &["from_vec", "more elements"],
        || Tensor::from_vec(Vec::<f32>::new(), [0, 1usize << 63, 4], CPU),
    );
    suite.error("zeros of 2^40", &["zeros", "4398046511104 bytes", "limit"], || {
        Tensor::zeros([TERA], F32, CPU)
    });
    suite.error("ones of 2^40 f64", &["ones", "8796093022208 bytes", "limit"], || {
        Tensor::ones([TERA], DType::F64, CPU)
    });
    suite.error("full of (2^20, 2^20)", &["full", "(1048576, 1048576)", "limit"], || {
        Tensor::full([1usize << 20, 1 << 20], 1.0, F32, CPU)
    });
    suite.error("arange(2^40)", &["arange", "4398046511104 bytes", "limit"], || {
        Tensor::arange(TERA, F32, CPU)
    });
    suite.error(
        "uniform of 2^31 f32 (within a random stream)",
        &["uniform", "8589934592 bytes", "limit"],
        || Tensor::uniform([1usize << 31], 0.0, 1.0, 3, F32, CPU),
    );
    suite.error("normal of 2^31 f64", &["normal", "17179869184 bytes", "limit"], || {
        Tensor::normal([1usize << 31], 0.0, 1.0, 3, DType::F64, CPU)
    });
    suite.error("uniform of 2^33 f32", &["uniform", "34359738368 bytes", "limit"], || {
        Tensor::uniform([1usize << 33], 0.0, 1.0, 3, F32, CPU)
    });
    suite.error("zeros of rank 40, each dimension 2", &["zeros", "limit"], || {
        Tensor::zeros(vec![2; 40], F32, CPU)
    });

    // Sizes within the limit still work, exactly.
    suite.correct("zeros (2, 0, 2^62) is empty and fine", || {
        let t = Tensor::zeros([2, 0, 1usize << 61], F32, CPU)?;
        Ok::<_, tessera::Error>(
            has_dims(&t, &[2, 0, 1 << 61]).or_else(|| (t.numel() != 0).then(|| "not empty".into())),
        )
    });
    suite.correct("zeros (1000, 1000) within the limit", || {
        let t = Tensor::zeros([1000, 1000], F32, CPU)?;
        let sum = t.sum_all()?.item()?;
        Ok::<_, tessera::Error>(
            has_dims(&t, &[1000, 1000]).or_else(|| (sum != 0.0).then(|| format!("sum {sum}"))),
        )
    });
    suite.correct("arange(10)", || {
        let values = Tensor::arange(10, F32, CPU)?.to_vec::<f32>()?;
        let expected: Vec<f32> = (0..10).map(|i| i as f32).collect();
        Ok::<_, tessera::Error>((values != expected).then(|| format!("{values:?}")))
    });

    // Reshape and broadcast to shapes that overflow or do not fit.
    suite.error("reshape to (2^63 + 3, 2)", &["reshape", "9223372036854775811, 2"], || {
        Tensor::zeros([6], F32, CPU)?.reshape([(1usize << 63) + 3, 2])
    });
    suite.error("reshape of 6 into (2^32, 2^32, 0)", &["reshape", "4294967296"], move || {
        Tensor::zeros([6], F32, CPU)?.reshape([HUGE, HUGE, 0])
    });
    suite.error(
        "reshape of 6 into (2^62, 4): wraps to 0 in a plain product",
        &["reshape", "more elements"],
        || Tensor::zeros([0], F32, CPU)?.reshape([1usize << 62, 4]),
    );
    suite.correct("reshape (2, 3) into (3, 2)", || {
        let t = Tensor::arange(6, F32, CPU)?.reshape([2, 3])?.reshape([3, 2])?;
        Ok::<_, tessera::Error>(has_dims(&t, &[3, 2]))
    });
    suite.error("broadcast (1, 1) to (2^40, 2^40)", &["broadcast_to", "1099511627776"], || {
        Tensor::zeros([1, 1], F32, CPU)?.broadcast_to(&Shape::new([TERA, TERA]))
    });
    suite.error(
        "broadcast (1, 1) to (2^20, 2^20): fits the count, not the limit",
        &["broadcast_to", "limit"],
        || Tensor::zeros([1, 1], F32, CPU)?.broadcast_to(&Shape::new([1 << 20, 1 << 20])),
    );
    suite.error("broadcasting shapes (2^40, 1) and (1, 2^40)", &["add", "more elements"], || {
        Shape::new([TERA, 1]).broadcast("add", &Shape::new([1, TERA]))
    });

    // Layers: weight shapes derived from absurd units, filters and kernel sizes.
    let build = |layer: Box<dyn tessera::nn::Layer>| Model::sequential(vec![layer]);
    suite.error(
        "Dense(10^9) on 784 features",
        &["dense", "kernel", "(784, 1000000000)", "limit"],
        move || build(Box::new(Dense::new(1_000_000_000).input_shape(&[784]))),
    );
    suite.error(
        "Dense(2^62) on 8 features: the kernel's count overflows",
        &["dense", "kernel", "more elements"],
        move || build(Box::new(Dense::new(1 << 62).input_shape(&[8]))),
    );
    suite.error("Dense(2^40) on 1 feature", &["dense", "(1, 1099511627776)", "limit"], move || {
        build(Box::new(Dense::new(1 << 40).input_shape(&[1])))
    });
    suite.error("Dense(10) on 2^40 features", &["dense", "kernel"], move || {
        build(Box::new(Dense::new(10).input_shape(&[1 << 40])))
    });
    suite.error("Conv2D(10^9 filters)", &["conv2d", "kernel", "1000000000"], move || {
        build(Box::new(Conv2D::new(1_000_000_000, (3, 3)).input_shape(&[8, 8, 3])))
    });
    suite.error("Conv2D(8, 2^31 x 2^31 kernel)", &["conv2d"], move || {
        build(Box::new(Conv2D::new(8, (1 << 31, 1 << 31)).input_shape(&[8, 8, 3])))
    });
    suite.error("Conv2D(8, 3x3) on 2^40 channels", &["conv2d", "kernel"], move || {
        build(Box::new(Conv2D::new(8, (3, 3)).input_shape(&[8, 8, 1 << 40])))
    });
    suite.error("Conv2D on (2^32, 2^32, 2^32) images", &["conv2d"], move || {
        build(Box::new(Conv2D::new(2, (3, 3)).input_shape(&[HUGE, HUGE, HUGE])))
    });
    suite.error("SimpleRNN(10^9)", &["simple_rnn", "1000000000"], move || {
        build(Box::new(SimpleRNN::new(1_000_000_000).input_shape(&[5, 4])))
    });
    suite.error("LSTM(10^9)", &["lstm", "4000000000"], move || {
        build(Box::new(LSTM::new(1_000_000_000).input_shape(&[5, 4])))
    });
    suite.error("GRU(2^63)", &["gru", "overflow"], move || {
        build(Box::new(GRU::new(1 << 63).input_shape(&[5, 4])))
    });
    suite.error("Conv2DTranspose on (2^32, 2^32, 2^32) images", &["conv2d_transpose"], move || {
        build(Box::new(Conv2DTranspose::new(2, 3).strides(2).input_shape(&[HUGE, HUGE, HUGE])))
    });
    suite.error("BatchNormalization over 2^40 channels", &["batch_normalization", "limit"], move || {
        build(Box::new(BatchNormalization::new().input_shape(&[1 << 40])))
    });
    suite.error("Flatten of (2^32, 2^32)", &["flatten", "(None, 4294967296, 4294967296)"], move || {
        build(Box::new(Flatten::new().input_shape(&[HUGE, HUGE])))
    });
    suite.error("Flatten of (2^32, 2^32) then Dense", &["flatten", "more features"], move || {
        Model::sequential(vec![Box::new(Flatten::new().input_shape(&[HUGE, HUGE])), Box::new(Dense::new(1))])
    });
    suite.correct("Dense(3) on 4 features builds as before", move || {
        let model = build(Box::new(Dense::new(3).input_shape(&[4])))?;
        let dims: Vec<Vec<usize>> = model.weights().iter().map(|w| w.value().dims().to_vec()).collect();
        Ok::<_, tessera::nn::NnError>((dims != [vec![4, 3], vec![3]]).then(|| format!("{dims:?}")))
    });

    // Data helpers that size their output by a user's number.
    suite.error(
        "to_categorical with 2^62 classes",
        &["to_categorical", "4611686018427387904 classes"],
        || to_categorical(&[0u8, 1], 1 << 62, CPU),
    );
    suite.error(
        "to_categorical with 2^40 classes",
        &["to_categorical", "1099511627776 classes", "limit"],
        || to_categorical(&[0u8, 1], TERA, CPU),
    );
    suite.correct("to_categorical with 3 classes", || {
        let values = to_categorical(&[2u8, 0], 3, CPU)?.to_vec::<f32>()?;
        Ok::<_, tessera::nn::NnError>(
            (values != [0.0, 0.0, 1.0, 1.0, 0.0, 0.0]).then(|| format!("{values:?}")),
        )
    });

    // On a GPU the counts are checked before dispatch too; what fits the counts meets the
    // adapter's buffer limits.
    if let Some(gpu) = common::gpu() {
        let device = gpu.clone();
        suite.error("GPU: zeros (2^32, 2^32)", &["zeros", "4294967296"], move || {
            Tensor::zeros(overflowing, F32, &device)
        });
        let device = gpu.clone();
        suite.error("GPU: ones of 2^62 f64", &["ones", "more bytes than memory can address"], move || {
            Tensor::ones([1usize << 62], DType::F64, &device)
        });
        let device = gpu.clone();
        suite.error(
            "GPU: from_vec of nothing as (2^63, 2)",
            &["from_vec", "9223372036854775808"],
            move || Tensor::from_vec(Vec::<f32>::new(), [1usize << 63, 2], &device),
        );
        let device = gpu.clone();
        suite.error("GPU: arange(2^40)", &["arange"], move || Tensor::arange(TERA, F32, &device));
        let device = gpu.clone();
        suite.error("GPU: reshape to (2^63 + 3, 2)", &["reshape", "9223372036854775811"], move || {
            Tensor::zeros([6], F32, &device)?.reshape([(1usize << 63) + 3, 2])
        });
    }

    set_host_memory_limit(None);
    suite.finish();
}
