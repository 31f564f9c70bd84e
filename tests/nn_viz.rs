//! Pictures: image grids and line plots are written as PNG files of the expected size, tiles
//! land where the layout puts them with the grey levels their scale gives, and bad input is an
//! error, not a panic.

use nn::viz::{Caption, ImageGrid, LinePlot, Scale, history_plots, save_plots};
use tessera::nn::{self, Dense, FitOptions, Model};
use tessera::{Device, Tensor};

fn temp_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("tessera-viz-{}-{name}", std::process::id()))
}

fn read_rgb(path: &std::path::Path) -> image::RgbImage {
    image::open(path).unwrap().to_rgb8()
}

#[test]
fn grid_tiles_are_scaled_and_placed() {
    let path = temp_path("grid.png");
    // Two 2x3 tiles enlarged 5x, no captions: the first spans [0, 1] as given, the second is
    // scaled on its own so its minimum is black and its maximum white.
    let mut grid = ImageGrid::new(2).scale(5);
    grid.push(&[0.0, 0.5, 1.0, 1.0, 0.5, 0.0], 2, 3, Scale::Range(0.0, 1.0), None).unwrap();
    grid.push(&[-3.0, 0.0, 0.0, 0.0, 0.0, 5.0], 2, 3, Scale::PerImage, None).unwrap();
    grid.save(&path).unwrap();
    let png = read_rgb(&path);
    // 6 px padding around and between 15x10 tiles.
    assert_eq!(png.dimensions(), (6 + 2 * (15 + 6), 6 + 10 + 6));
    let grey = |x: u32, y: u32| png.get_pixel(x, y).0;
    assert_eq!(grey(6, 6), [0, 0, 0], "first tile, first pixel is 0.0");
    assert_eq!(grey(6 + 5, 6), [128, 128, 128], "0.5 rounds to 128");
    assert_eq!(grey(6 + 14, 6 + 4), [255, 255, 255], "1.0 is white, across the 5x5 block");
    assert_eq!(grey(6 + 14, 6 + 5), [0, 0, 0], "second row starts again at 1.0, 0.5, 0.0 reversed");
    let second = 6 + 15 + 6;
    assert_eq!(grey(second, 6), [0, 0, 0], "the second tile's minimum is black");
    assert_eq!(grey(second + 14, 6 + 9), [255, 255, 255], "and its maximum white");
    assert_eq!(grey(3, 3), [255, 255, 255], "padding is white");
    std::fs::remove_file(path).unwrap();
}

#[test]
fn conv_kernels_and_feature_maps_become_grids() {
    let kernel =
        Tensor::from_vec((0..3 * 3 * 2 * 4).map(|v| v as f32).collect(), [3, 3, 2, 4], &Device::Cpu).unwrap();
    // One row per output filter, one tile per input channel.
    let grid = ImageGrid::from_conv_kernel(&kernel, 8).unwrap();
    assert_eq!(grid.len(), 8);
    let maps = Tensor::from_vec(vec![0.5f32; 5 * 7 * 3], [1, 5, 7, 3], &Device::Cpu).unwrap();
    assert_eq!(ImageGrid::from_feature_maps(&maps, 4).unwrap().len(), 3);

    let not_a_kernel = Tensor::from_vec(vec![0.0f32; 6], [2, 3], &Device::Cpu).unwrap();
    let err = ImageGrid::from_conv_kernel(&not_a_kernel, 8).err().unwrap().to_string();
    assert!(err.contains("[height, width, in, out]") && err.contains("[2, 3]"), "{err}");
}

#[test]
fn captions_and_titles_widen_the_picture() {
    let path = temp_path("captioned.png");
    let mut grid = ImageGrid::new(3).title("predicted / true");
    for i in 0..4 {
        let caption = Caption::colored(format!("class {i}"), [0, 128, 0]);
        grid.push(&[i as f32; 28 * 28], 28, 28, Scale::Range(0.0, 3.0), Some(caption)).unwrap();
    }
    grid.save(&path).unwrap();
    let (width, height) = read_rgb(&path).dimensions();
    // Without a font the text is left out, and the layout is the bare grid's.
    assert!(width >= 6 + 3 * (28 * 4 + 6), "width {width}");
    assert!(height >= 6 + 2 * (28 * 4 + 6), "height {height}");
    std::fs::remove_file(path).unwrap();
}

#[test]
fn grid_mistakes_are_errors() {
    let mut grid = ImageGrid::new(4);
    let err = grid.push(&[0.0; 5], 2, 3, Scale::PerImage, None).unwrap_err().to_string();
    assert!(err.contains("needs 6 values, got 5"), "{err}");
    let err = grid.save(temp_path("empty.png")).unwrap_err().to_string();
    assert!(err.contains("at least one tile"), "{err}");
}

#[test]
fn plots_are_written_one_panel_per_plot() {
    let path = temp_path("plots.png");
    let mut linear = LinePlot::new("loss").x_label("epoch").y_label("loss");
    linear.add_series("training", [(1.0, 0.9), (2.0, 0.5), (3.0, 0.4)]);
    linear.add_series("validation", [(1.0, 0.95), (2.0, 0.6), (3.0, f64::NAN)]);
    // A log axis drops the points it cannot show (y <= 0) instead of failing.
    let mut log = LinePlot::new("gradient norm").log_y(true);
    log.add_series("sigmoid", [(1.0, 1e-9), (2.0, 1e-5), (3.0, 0.0)]);
    save_plots(&[linear, log], &path).unwrap();
    assert_eq!(read_rgb(&path).dimensions(), (2 * 560, 400));
    std::fs::remove_file(path).unwrap();

    let err = save_plots(&[], temp_path("none.png")).unwrap_err().to_string();
    assert!(err.contains("nothing to plot"), "{err}");
    let mut empty = LinePlot::new("empty");
    empty.add_series("nothing", [(1.0, f64::NAN)]);
    let err = save_plots(&[empty], temp_path("empty-plot.png")).unwrap_err().to_string();
    assert!(err.contains("has no points"), "{err}");
}

#[test]
fn history_gives_a_panel_per_quantity_with_its_validation_curve() {
    nn::set_random_seed(3);
    let mut model =
        Model::sequential(vec![Box::new(Dense::new(1).input_shape(&[2]).activation("sigmoid"))]).unwrap();
    model.compile("sgd", "binary_crossentropy", &["accuracy"]).unwrap();
    let x = Tensor::from_vec(vec![0.0f32, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0], [4, 2], &Device::Cpu).unwrap();
    let y = Tensor::from_vec(vec![1.0f32, 1.0, 1.0, 0.0], [4, 1], &Device::Cpu).unwrap();
    let history =
        model.fit(&x, &y, FitOptions::default().epochs(2).validation_split(0.5).verbose(0)).unwrap();
    let plots = history_plots(&history);
    assert_eq!(plots.len(), 2, "loss and accuracy");
    let path = temp_path("history.png");
    save_plots(&plots, &path).unwrap();
    assert_eq!(read_rgb(&path).dimensions(), (2 * 560, 400));
    std::fs::remove_file(path).unwrap();
}
