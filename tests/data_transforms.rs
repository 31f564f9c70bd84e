//! Data preparation: one-hot labels, scaling, shuffling, splitting and batching, and image
//! augmentation (folders of images: data_image_folders.rs).

#[path = "fixtures/close.rs"]
mod close;

use close::{assert_close, values};
use tessera::nn::NnError;
use tessera::nn::data::{
    Dataset, FillMode, ImageAugmenter, ImageTransform, MinMaxScaler, StandardScaler, labels_to_tensor,
    permutation, to_categorical,
};
use tessera::{DType, Device, Tensor};

const CPU: Device = Device::Cpu;

fn f32_tensor(values: &[f32], shape: &[usize]) -> Tensor {
    Tensor::from_slice(values, shape.to_vec(), &CPU).unwrap()
}

fn f64_tensor(values: &[f64], shape: &[usize]) -> Tensor {
    Tensor::from_slice(values, shape.to_vec(), &CPU).unwrap()
}

fn data_error<T: std::fmt::Debug>(result: tessera::nn::Result<T>) -> String {
    match result {
        Err(NnError::Data(message)) => message,
        other => panic!("expected a data error, got {other:?}"),
    }
}

// ---------------------------------------------------------------- labels

#[test]
fn to_categorical_sets_one_column_per_row() {
    let one_hot = to_categorical(&[2u8, 0, 1, 2], 3, &CPU).unwrap();
    assert_eq!(one_hot.dims(), &[4, 3]);
    assert_eq!(one_hot.dtype(), DType::F32);
    assert_eq!(values(&one_hot), [0., 0., 1., 1., 0., 0., 0., 1., 0., 0., 0., 1.]);
    // Any integer type works, usize from a directory as well as i64 from a computation.
    assert_eq!(values(&to_categorical(&[1usize], 2, &CPU).unwrap()), [0., 1.]);
    assert_eq!(values(&to_categorical(&[0i64], 1, &CPU).unwrap()), [1.]);
}

#[test]
fn to_categorical_rejects_labels_outside_the_classes() {
    let message = data_error(to_categorical(&[0u8, 1, 3], 3, &CPU));
    assert!(message.contains("label 3 at position 2 is out of range for 3 classes"), "{message}");
    let message = data_error(to_categorical(&[0i32, -1], 3, &CPU));
    assert!(message.contains("label -1 at position 1"), "{message}");
    assert!(data_error(to_categorical(&[0u8], 0, &CPU)).contains("num_classes"));
}

#[test]
fn labels_to_tensor_keeps_class_indices() {
    let labels = labels_to_tensor(&[9u8, 0, 4], &CPU).unwrap();
    assert_eq!(labels.dims(), &[3]);
    assert_eq!(values(&labels), [9., 0., 4.]);
    assert!(data_error(labels_to_tensor(&[1i8, -2], &CPU)).contains("label -2 at position 1"));
}

// ---------------------------------------------------------------- scaling

#[test]
fn min_max_scaling_with_a_given_range() {
    let scaler = MinMaxScaler::new(0.0, 255.0).unwrap();
    let x = f32_tensor(&[0.0, 51.0, 127.5, 255.0], &[2, 2]);
    let scaled = scaler.transform(&x).unwrap();
    assert_eq!((scaled.dims(), scaled.dtype()), (x.dims(), DType::F32));
    assert_close(&values(&scaled), &[0.0, 0.2, 0.5, 1.0], 1e-7);
    for (min, max) in [(1.0, 1.0), (2.0, 1.0), (0.0, f64::INFINITY), (f64::NAN, 1.0)] {
        assert!(data_error(MinMaxScaler::new(min, max)).contains("min < max"));
    }
}

#[test]
fn min_max_scaling_fitted_per_feature() {
    // Two features (last axis) with different ranges; the second is constant.
    let x = f64_tensor(&[1.0, 7.0, 3.0, 7.0, 2.0, 7.0], &[3, 2]);
    let scaler = MinMaxScaler::fit(&x).unwrap();
    assert_eq!((scaler.min(), scaler.max()), (&[1.0, 7.0][..], &[3.0, 7.0][..]));
    // The constant feature maps to 0 instead of dividing by zero.
    assert_close(&values(&scaler.transform(&x).unwrap()), &[0.0, 0.0, 1.0, 0.0, 0.5, 0.0], 1e-12);
    let message = data_error(scaler.transform(&f64_tensor(&[1.0, 2.0, 3.0], &[1, 3])));
    assert!(message.contains("fitted on 2 features"), "{message}");
    assert!(data_error(MinMaxScaler::fit(&f64_tensor(&[], &[0, 2]))).contains("empty"));
}

#[test]
fn standard_scaling_uses_the_population_deviation_per_feature() {
    let x = f32_tensor(&[1.0, 10.0, 5.0, 3.0, 30.0, 5.0, 2.0, 20.0, 5.0], &[3, 3]);
    let scaler = StandardScaler::fit(&x).unwrap();
    assert_close(scaler.mean(), &[2.0, 20.0, 5.0], 1e-12);
    let std = (2.0f64 / 3.0).sqrt();
    // The constant third feature gets Keras's floor of 1e-7 rather than 0.
    assert_close(scaler.std(), &[std, 10.0 * std, 1e-7], 1e-12);
    let z = 1.0 / std;
    let expected = [-z, -z, 0.0, z, z, 0.0, 0.0, 0.0, 0.0];
    assert_close(&values(&scaler.transform(&x).unwrap()), &expected, 1e-6);
}

#[test]
fn standard_scaling_stays_accurate_for_a_large_mean() {
    // Offsets 0, 1, 2 on top of 1e9: a sum-of-squares formula would lose every digit of the
    // variance in f64; the running update keeps it.
    let x = f64_tensor(&[1e9, 1e9 + 1.0, 1e9 + 2.0], &[3]);
    let scaler = StandardScaler::fit(&x).unwrap();
    assert_close(scaler.mean(), &[1e9 + 1.0], 1e-6);
    assert_close(scaler.std(), &[(2.0f64 / 3.0).sqrt()], 1e-9);
}

// ---------------------------------------------------------------- shuffling, splits, batches

/// Ten samples whose x rows are [i, 10 i] and whose y is i, so alignment can be checked.
fn numbered(n: usize) -> Dataset {
    let x: Vec<f32> = (0..n).flat_map(|i| [i as f32, 10.0 * i as f32]).collect();
    let y: Vec<f32> = (0..n).map(|i| i as f32).collect();
    Dataset::new(f32_tensor(&x, &[n, 2]), f32_tensor(&y, &[n])).unwrap()
}

#[test]
fn permutations_are_fixed_by_the_seed() {
    let p = permutation(1000, 7);
    let mut sorted = p.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..1000).collect::<Vec<_>>());
    assert_eq!(p, permutation(1000, 7));
    assert_ne!(p, permutation(1000, 8));
    assert_ne!(p, sorted);
    assert!(permutation(0, 7).is_empty());
    assert_eq!(permutation(1, 7), [0]);
}

#[test]
fn shuffling_moves_inputs_and_targets_together() {
    let data = numbered(50);
    let shuffled = data.shuffled(3).unwrap();
    let (x, y) = (values(&shuffled.x), values(&shuffled.y));
    let order: Vec<usize> = y.iter().map(|&v| v as usize).collect();
    assert_eq!(order, permutation(50, 3));
    for (k, &i) in y.iter().enumerate() {
        assert_eq!((x[2 * k], x[2 * k + 1]), (i, 10.0 * i), "row {k}");
    }
}

#[test]
fn datasets_need_as_many_targets_as_inputs() {
    let message = data_error(Dataset::new(f32_tensor(&[0.0; 6], &[3, 2]), f32_tensor(&[0.0; 2], &[2])));
    assert!(message.contains("x has shape (3, 2) and y has shape (2,)"), "{message}");
    assert!(Dataset::new(f32_tensor(&[1.0], &[]), f32_tensor(&[1.0], &[])).is_err());
}

#[test]
fn validation_split_takes_the_tail_as_keras_does() {
    let (train, validation) = numbered(10).split_validation(0.25).unwrap();
    // floor(10 * 0.75) = 7 samples train; the last 3 validate.
    assert_eq!(values(&train.y), [0., 1., 2., 3., 4., 5., 6.]);
    assert_eq!(values(&validation.y), [7., 8., 9.]);
    assert_eq!(values(&validation.x), [7., 70., 8., 80., 9., 90.]);
    for fraction in [0.0, 1.0, -0.1, f64::NAN] {
        assert!(data_error(numbered(10).split_validation(fraction)).contains("(0, 1)"));
    }
    assert!(data_error(numbered(1).split_validation(0.5)).contains("too few"));
}

#[test]
fn batches_cover_the_data_in_order_with_a_short_last_batch() {
    let data = numbered(10);
    let batches: Vec<Dataset> = data.batches(4).unwrap().collect::<Result<_, _>>().unwrap();
    assert_eq!(batches.iter().map(Dataset::len).collect::<Vec<_>>(), [4, 4, 2]);
    let ys: Vec<f64> = batches.iter().flat_map(|b| values(&b.y)).collect();
    assert_eq!(ys, values(&data.y));
    assert_eq!(values(&batches[2].x), [8., 80., 9., 90.]);
    assert!(data_error(data.batches(0).map(|_| ())).contains("batch_size"));
}

// ---------------------------------------------------------------- augmentation

/// A `height x width` one-channel image with distinct values `r * width + c`.
fn ramp(height: usize, width: usize) -> Vec<f32> {
    (0..height * width).map(|v| v as f32).collect()
}

fn transform(t: ImageTransform, image: &[f32], height: usize, width: usize, fill: FillMode) -> Vec<f64> {
    t.apply(image, height, width, 1, fill).unwrap().into_iter().map(f64::from).collect()
}

#[test]
fn rotating_by_90_degrees_matches_numpy_rot90() {
    let (h, w) = (4, 4);
    let image = ramp(h, w);
    let rotated = transform(
        ImageTransform { rotation_degrees: 90.0, ..ImageTransform::IDENTITY },
        &image,
        h,
        w,
        FillMode::Nearest,
    );
    // np.rot90 turns the content counter-clockwise: out[r][c] = in[c][w - 1 - r].
    let expected: Vec<f64> = (0..h).flat_map(|r| (0..w).map(move |c| (c * w + (w - 1 - r)) as f64)).collect();
    // cos(90 degrees) is 6e-17 in f64, so samples land within 1e-15 of pixel centres.
    assert_close(&rotated, &expected, 1e-4);
}

#[test]
fn shifts_move_content_and_fill_the_gap() {
    let row = [1.0, 2.0, 3.0, 4.0];
    let right = ImageTransform { shift_cols: 1.0, ..ImageTransform::IDENTITY };
    assert_eq!(transform(right, &row, 1, 4, FillMode::Nearest), [1., 1., 2., 3.]);
    assert_eq!(transform(right, &row, 1, 4, FillMode::Constant(0.0)), [0., 1., 2., 3.]);
    // Half a pixel blends neighbours; at the edge the constant takes half the weight.
    let half = ImageTransform { shift_cols: -0.5, ..ImageTransform::IDENTITY };
    assert_eq!(transform(half, &row, 1, 4, FillMode::Nearest), [1.5, 2.5, 3.5, 4.]);
    assert_eq!(transform(half, &row, 1, 4, FillMode::Constant(-2.0)), [1.5, 2.5, 3.5, 1.]);
    let column = [1.0, 2.0, 3.0];
    let down = ImageTransform { shift_rows: 2.0, ..ImageTransform::IDENTITY };
    assert_eq!(transform(down, &column, 3, 1, FillMode::Constant(9.0)), [9., 9., 1.]);
}

#[test]
fn zoom_below_one_magnifies_about_the_centre() {
    // Five equal rows 0..5: a square image, whose centre Keras's is (2, 2).
    let rows = [0.0, 1.0, 2.0, 3.0, 4.0].repeat(5);
    let first_row = |t, fill| transform(t, &rows, 5, 5, fill)[..5].to_vec();
    let zoom_in = ImageTransform { zoom_cols: 0.5, ..ImageTransform::IDENTITY };
    assert_eq!(first_row(zoom_in, FillMode::Nearest), [1., 1.5, 2., 2.5, 3.]);
    let zoom_out = ImageTransform { zoom_cols: 2.0, ..ImageTransform::IDENTITY };
    assert_eq!(first_row(zoom_out, FillMode::Constant(0.0)), [0., 0., 2., 4., 0.]);
}

#[test]
fn flips_and_brightness_are_exact() {
    let image = ramp(2, 3);
    let flip = ImageTransform { flip_horizontal: true, brightness: Some(0.5), ..ImageTransform::IDENTITY };
    // Keras's brightness shift halves whole levels and cuts the result: 5 becomes 2.
    assert_eq!(transform(flip, &image, 2, 3, FillMode::Nearest), [1., 0., 0., 2., 2., 1.]);
    let rgb: Vec<f32> = (0..12).map(|v| v as f32).collect();
    let flipped = flip.apply(&rgb, 2, 2, 3, FillMode::Nearest).unwrap();
    // Channels travel with their pixel.
    assert_eq!(flipped, [1., 2., 2., 0., 0., 1., 4., 5., 5., 3., 3., 4.]);
    assert!(flip.apply(&rgb, 2, 2, 2, FillMode::Nearest).is_err());
}

#[test]
fn fill_mode_decides_what_rotated_corners_show() {
    let ones = vec![1.0; 8 * 8];
    let turn = ImageTransform { rotation_degrees: 45.0, ..ImageTransform::IDENTITY };
    // Nearest (Keras's default) repeats the edges: a constant image stays constant.
    assert_close(&transform(turn, &ones, 8, 8, FillMode::Nearest), &[1.0; 64], 1e-6);
    let constant = transform(turn, &ones, 8, 8, FillMode::Constant(0.0));
    assert_eq!(constant[0], 0.0, "the corner comes from outside the image");
    assert_close(&constant[27..29], &[1.0, 1.0], 1e-6);
}

#[test]
fn the_identity_augmenter_changes_nothing() {
    let images = Tensor::uniform([3, 5, 4, 2], 0.0, 1.0, 11, DType::F64, &CPU).unwrap();
    let out = ImageAugmenter::new(1).augment(&images, 0).unwrap();
    assert_eq!((out.dims(), out.dtype()), (images.dims(), DType::F64));
    // Through f32 and back: exact to f32 precision.
    assert_close(&values(&out), &values(&images), 1e-7);
}

fn full_augmenter(seed: u64) -> ImageAugmenter {
    ImageAugmenter::new(seed)
        .rotation_range(20.0)
        .width_shift_range(0.1)
        .height_shift_range(0.2)
        .zoom_range(0.15)
        .horizontal_flip(true)
        .brightness_range(0.8, 1.2)
}

#[test]
fn augmentation_is_reproducible_per_seed_and_image_index() {
    // Pixel levels 0..255: Keras's brightness shift cuts values to whole levels.
    let images = Tensor::uniform([6, 8, 8, 1], 0.0, 255.0, 5, DType::F32, &CPU).unwrap();
    let augmenter = full_augmenter(42);
    let whole = values(&augmenter.augment(&images, 100).unwrap());
    assert_eq!(whole, values(&augmenter.augment(&images, 100).unwrap()));
    // In two pieces, with the right first indices, the batch comes out the same.
    let head = augmenter.augment(&images.slice(0, 0, 2).unwrap(), 100).unwrap();
    let tail = augmenter.augment(&images.slice(0, 2, 6).unwrap(), 102).unwrap();
    assert_eq!([values(&head), values(&tail)].concat(), whole);
    assert_ne!(whole, values(&full_augmenter(43).augment(&images, 100).unwrap()));
    assert_ne!(whole, values(&augmenter.augment(&images, 0).unwrap()));
    assert_ne!(whole, values(&images));
}

#[test]
fn random_parameters_stay_in_their_ranges_and_fill_them() {
    let augmenter = full_augmenter(9);
    let draws: Vec<ImageTransform> =
        (0..2000).map(|i| augmenter.random_transform(i, 28, 40).unwrap()).collect();
    let check = |name: &str, get: &dyn Fn(&ImageTransform) -> f64, low: f64, high: f64| {
        let v: Vec<f64> = draws.iter().map(get).collect();
        let (min, max) = v.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
        assert!(min >= low && max <= high, "{name}: [{min}, {max}] outside [{low}, {high}]");
        // 2000 uniform draws come within 1% of the range ends with near certainty (1 - 0.99^2000).
        let margin = 0.01 * (high - low);
        assert!(
            min < low + margin && max > high - margin,
            "{name}: [{min}, {max}] does not fill [{low}, {high}]"
        );
    };
    check("rotation", &|t| t.rotation_degrees, -20.0, 20.0);
    check("shift_rows", &|t| t.shift_rows, -0.2 * 28.0, 0.2 * 28.0);
    check("shift_cols", &|t| t.shift_cols, -0.1 * 40.0, 0.1 * 40.0);
    check("zoom_rows", &|t| t.zoom_rows, 0.85, 1.15);
    check("zoom_cols", &|t| t.zoom_cols, 0.85, 1.15);
    check("brightness", &|t| t.brightness.unwrap_or(f64::NAN), 0.8, 1.2);
    // Half are flipped: 1000 expected, standard deviation 22; allow 4.5 of them.
    let flips = draws.iter().filter(|t| t.flip_horizontal).count();
    assert!((900..=1100).contains(&flips), "{flips} flips in 2000");
    // Rows and columns zoom independently, as in Keras's ImageDataGenerator.
    assert!(draws.iter().any(|t| (t.zoom_rows - t.zoom_cols).abs() > 0.1));
}

#[test]
fn bad_augmentation_settings_are_errors() {
    let images = Tensor::zeros([1, 2, 2, 1], DType::F32, &CPU).unwrap();
    let bad = [
        (ImageAugmenter::new(0).rotation_range(-1.0), "rotation_range"),
        (ImageAugmenter::new(0).width_shift_range(1.5), "width_shift_range"),
        (ImageAugmenter::new(0).height_shift_range(f64::NAN), "height_shift_range"),
        (ImageAugmenter::new(0).zoom_range(1.0), "zoom_range"),
        (ImageAugmenter::new(0).brightness_range(1.2, 0.8), "brightness_range"),
    ];
    for (augmenter, name) in bad {
        assert!(data_error(augmenter.augment(&images, 0)).contains(name), "{name}");
        assert!(augmenter.random_transform(0, 2, 2).is_err(), "{name}");
    }
    let flat = Tensor::zeros([2, 4], DType::F32, &CPU).unwrap();
    assert!(data_error(ImageAugmenter::new(0).augment(&flat, 0)).contains("rank 4"));
}
