//! Known answers for the transforms of `ImageAugmenter` beyond rotation, shift, zoom and the
//! horizontal flip (data_transforms.rs): shear, the vertical flip, and the reflect and wrap
//! fill modes, worked out by hand from the mappings their docs state.

use tessera::nn::data::{FillMode, ImageAugmenter, ImageTransform};

/// 0, 1, 2, ... over a one-channel `height x width` image, row-major.
fn ramp(height: usize, width: usize) -> Vec<f32> {
    (0..height * width).map(|v| v as f32).collect()
}

fn transform(t: ImageTransform, image: &[f32], height: usize, width: usize, fill: FillMode) -> Vec<f32> {
    t.apply(image, height, width, 1, fill).unwrap()
}

#[test]
fn a_right_angle_shear_reads_the_centre_row_along_diagonals() {
    // At s = 90 degrees the output pixel at offset (dr, dc) reads the input at offset
    // (dr cos s, dc - dr sin s) = (0, dc - dr): out[r][c] = in[1][c - r + 1] about the centre
    // (1, 1) of a 3 x 3 image, and the fill constant where c - r + 1 leaves 0..3.
    let image = ramp(3, 3);
    let shear = ImageTransform { shear_degrees: 90.0, ..ImageTransform::IDENTITY };
    let out = transform(shear, &image, 3, 3, FillMode::Constant(-1.0));
    // cos(90 degrees) is 6e-17 in f64: samples land within 1e-15 of pixel centres.
    let expected = [4., 5., -1., 3., 4., 5., -1., 3., 4.];
    for (o, e) in out.iter().zip(expected) {
        assert!((o - e).abs() <= 1e-5, "{out:?} vs {expected:?}");
    }
}

#[test]
fn a_thirty_degree_shear_slides_rows_by_half_their_offset() {
    // sin 30 = 1/2, cos 30 = 0.866: in a 3 x 3 image (centre (1, 1); a square image, as
    // Keras's centre is the image centre only then) the bottom row (dr = 1) reads input row
    // 1 + 0.866 and columns half a pixel to the left; the middle row reads itself.
    let image = ramp(3, 3);
    let shear = ImageTransform { shear_degrees: 30.0, ..ImageTransform::IDENTITY };
    let out = transform(shear, &image, 3, 3, FillMode::Nearest);
    assert_eq!(&out[3..6], [3., 4., 5.], "the centre row does not move");
    let cos = 30f64.to_radians().cos();
    // Input row 1 + cos s blends rows 1 and 2 (values 3 + c and 6 + c) with weight cos s on
    // row 2; column c - 0.5 blends columns c - 1 and c, clamped at the left edge.
    let value = |c: f64| 3.0 + 3.0 * cos + (c - 0.5).max(0.0);
    for c in 0..3 {
        let expected = value(c as f64);
        assert!((f64::from(out[6 + c]) - expected).abs() <= 1e-5, "column {c}: {} vs {expected}", out[6 + c]);
    }
}

#[test]
fn the_vertical_flip_mirrors_rows_after_the_geometry() {
    let image = ramp(3, 2);
    let flip = ImageTransform { flip_vertical: true, ..ImageTransform::IDENTITY };
    assert_eq!(transform(flip, &image, 3, 2, FillMode::Nearest), [4., 5., 2., 3., 0., 1.]);
    // After a shift down by one row (the top filled with 9), the flip puts the fill at the bottom.
    let shifted = ImageTransform { shift_rows: 1.0, ..flip };
    assert_eq!(transform(shifted, &image, 3, 2, FillMode::Constant(9.0)), [2., 3., 0., 1., 9., 9.]);
    let both = ImageTransform { flip_horizontal: true, ..flip };
    assert_eq!(transform(both, &image, 3, 2, FillMode::Nearest), [5., 4., 3., 2., 1., 0.]);
}

#[test]
fn reflect_and_wrap_fill_as_keras_documents_them() {
    // Keras: reflect is "abcddcba|abcd|dcbaabcd" and wrap "abcdabcd|abcd|abcdabcd". A row of
    // four shifted right by 3 shows, at columns 0..3, what sits at -3..0.
    let row = [1.0, 2.0, 3.0, 4.0];
    let right = ImageTransform { shift_cols: 3.0, ..ImageTransform::IDENTITY };
    assert_eq!(transform(right, &row, 1, 4, FillMode::Reflect), [3., 2., 1., 1.]);
    assert_eq!(transform(right, &row, 1, 4, FillMode::Wrap), [2., 3., 4., 1.]);
    // Shifted left by 6: columns 6..9, past a whole period of the reflection.
    let left = ImageTransform { shift_cols: -6.0, ..ImageTransform::IDENTITY };
    assert_eq!(transform(left, &row, 1, 4, FillMode::Reflect), [2., 1., 1., 2.]);
    assert_eq!(transform(left, &row, 1, 4, FillMode::Wrap), [3., 4., 1., 2.]);
    // Half a pixel past the edge blends the edge with its reflection (itself) or its wrap.
    let half = ImageTransform { shift_cols: 0.5, ..ImageTransform::IDENTITY };
    assert_eq!(transform(half, &row, 1, 4, FillMode::Reflect), [1., 1.5, 2.5, 3.5]);
    assert_eq!(transform(half, &row, 1, 4, FillMode::Wrap), [2.5, 1.5, 2.5, 3.5]);
    // Rows too: a column shifted down by 2 reflects / wraps vertically.
    let column = [1.0, 2.0, 3.0];
    let down = ImageTransform { shift_rows: 2.0, ..ImageTransform::IDENTITY };
    assert_eq!(transform(down, &column, 3, 1, FillMode::Reflect), [2., 1., 1.]);
    assert_eq!(transform(down, &column, 3, 1, FillMode::Wrap), [2., 3., 1.]);
}

#[test]
fn shear_and_vertical_flip_are_drawn_in_their_ranges_and_checked() {
    let augmenter = ImageAugmenter::new(4).shear_range(15.0).vertical_flip(true);
    let draws: Vec<ImageTransform> =
        (0..2000).map(|i| augmenter.random_transform(i, 8, 8).unwrap()).collect();
    let (min, max) = draws.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), t| {
        (a.min(t.shear_degrees), b.max(t.shear_degrees))
    });
    // 2000 uniform draws come within 1% of the range ends with near certainty.
    assert!(min >= -15.0 && max <= 15.0 && min < -14.7 && max > 14.7, "[{min}, {max}]");
    // Half are flipped: 1000 expected, standard deviation 22; allow 4.5 of them.
    let flips = draws.iter().filter(|t| t.flip_vertical).count();
    assert!((900..=1100).contains(&flips), "{flips} vertical flips in 2000");
    assert!(draws.iter().all(|t| !t.flip_horizontal), "only the flip asked for");
    // The other parameters do not move when shear and the vertical flip are switched on.
    let plain = ImageAugmenter::new(4).rotation_range(10.0);
    let more = plain.clone().shear_range(15.0).vertical_flip(true);
    let (a, b) = (plain.random_transform(7, 8, 8).unwrap(), more.random_transform(7, 8, 8).unwrap());
    assert_eq!(a.rotation_degrees, b.rotation_degrees);
    let error = ImageAugmenter::new(0).shear_range(-1.0).random_transform(0, 2, 2).unwrap_err().to_string();
    assert!(error.contains("shear_range"), "{error}");
}

/// The 4 x 5 ramp through Keras's own `ImageDataGenerator().apply_transform` (Keras 3.15.1,
/// numpy 2.4.6, scipy's `affine_transform`, order 1, fill "nearest"): a non-square image shows
/// Keras's centre, row (width - 1) / 2 = 2 and column (height - 1) / 2 = 1.5. Keras's
/// `{"tx": 1, "ty": 2}` reads the input 1 column right and 2 rows down: shift_cols -1,
/// shift_rows -2 here.
#[test]
fn affine_transforms_match_keras_apply_transform() {
    let image = ramp(4, 5);
    let cases = [
        (
            ImageTransform { rotation_degrees: 90.0, ..ImageTransform::IDENTITY },
            [
                6., 11., 16., 18.5, 18.5, 5., 10., 15., 17.5, 17.5, 4., 9., 14., 16.5, 16.5, 3., 8., 13.,
                15.5, 15.5,
            ],
        ),
        (
            ImageTransform { zoom_rows: 0.5, zoom_cols: 0.5, ..ImageTransform::IDENTITY },
            [
                5.75, 6.25, 6.75, 7.25, 7.75, 8.25, 8.75, 9.25, 9.75, 10.25, 10.75, 11.25, 11.75, 12.25,
                12.75, 13.25, 13.75, 14.25, 14.75, 15.25,
            ],
        ),
        (
            ImageTransform { shift_rows: -2.0, shift_cols: -1.0, ..ImageTransform::IDENTITY },
            [
                11., 12., 13., 14., 14., 16., 17., 18., 19., 19., 16., 17., 18., 19., 19., 16., 17., 18.,
                19., 19.,
            ],
        ),
        (
            ImageTransform { shear_degrees: 30.0, ..ImageTransform::IDENTITY },
            [
                2.339746, 3.339746, 4.339746, 5.339746, 5.339746, 6.169873, 7.169873, 8.169873, 9.169873,
                9.669873, 10., 11., 12., 13., 14., 14.330127, 14.830127, 15.830127, 16.830128, 17.830128,
            ],
        ),
    ];
    for (t, keras) in cases {
        let out = transform(t, &image, 4, 5, FillMode::Nearest);
        // Keras samples in f64 and stores f32; the sampling here blends in f32: 1e-4 of 20.
        for (o, k) in out.iter().zip(keras) {
            assert!((o - k).abs() <= 1e-4, "{t:?}: {out:?} vs Keras {keras:?}");
        }
    }
}

/// Keras 3.15.1's `apply_brightness_shift(x, factor, False)` (Pillow 13.0.0) on a 2 x 3 RGB
/// image: values cut to whole levels, scaled, cut and clipped at 255; an image reaching below
/// 0 is stretched to 0..=255 first and back after.
#[test]
fn brightness_matches_keras_apply_brightness_shift() {
    let inside: Vec<f32> = vec![
        0.6, 15.3, 30.0, 44.699997, 59.399998, 74.1, 88.799995, 103.5, 118.2, 132.90001, 147.6, 162.3, 177.0,
        191.7, 206.40001, 221.1, 235.8, 250.5,
    ];
    let shift = |image: &[f32], factor: f64| {
        ImageTransform { brightness: Some(factor), ..ImageTransform::IDENTITY }
            .apply(image, 2, 3, 3, FillMode::Nearest)
            .unwrap()
    };
    let brighter =
        [0., 19., 39., 57., 76., 96., 114., 133., 153., 171., 191., 210., 230., 248., 255., 255., 255., 255.];
    assert_eq!(shift(&inside, 1.3), brighter);
    let darker =
        [0., 10., 21., 30., 41., 51., 61., 72., 82., 92., 102., 113., 123., 133., 144., 154., 164., 175.];
    assert_eq!(shift(&inside, 0.7), darker);
    let below: Vec<f32> = inside.iter().map(|v| v - 100.0).collect();
    let keras = [
        -99.4, -80.78, -61.18, -42.56, -22.96, -4.340004, 14.279999, 33.879997, 53.480003, 72.1, 91.700005,
        110.32, 128.94, 148.53998, 150.5, 150.5, 150.5, 150.5,
    ];
    for (o, k) in shift(&below, 1.3).iter().zip(keras) {
        // Both compute in f32; the stretch's rounding may differ by an ulp or two of 150.
        assert!((o - k).abs() <= 1e-4, "{o} vs Keras {k}");
    }
}
