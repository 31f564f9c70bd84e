//! Training from a folder stream keeps memory flat: one epoch over 4,000 PNGs (188 MiB once
//! decoded to f32) with augmentation and a small prefetch bound raises the process's peak
//! resident set by far less than the decoded dataset. The only test in its binary, so that no
//! other test's allocations share the process.

#[path = "fixtures/scratch.rs"]
mod scratch;

use image::{Rgb, RgbImage};
use scratch::Scratch;
use tessera::nn::data::{DirectoryOptions, ImageAugmenter, ImageDataGenerator, LabelMode};
use tessera::nn::{Dense, FitOptions, Flatten, Model, optimizers::Sgd};

const IMAGES: usize = 4000;
const SIDE: usize = 64;

/// A `/proc/self/status` field in bytes ("VmRSS", "VmHWM").
fn status_bytes(field: &str) -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(&format!("{field}:"))).unwrap();
    let kib: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

#[test]
fn one_epoch_from_disk_holds_far_less_than_the_decoded_dataset() {
    let scratch = Scratch::new("stream-memory");
    for i in 0..IMAGES {
        let image = RgbImage::from_fn(SIDE as u32, SIDE as u32, |x, y| {
            Rgb([(x as usize * 4 + i) as u8, (y as usize * 4) as u8, (i % 2 * 255) as u8])
        });
        let mut bytes = std::io::Cursor::new(Vec::new());
        image.write_to(&mut bytes, image::ImageFormat::Png).unwrap();
        scratch.write(&format!("{}/{i:04}.png", ["dark", "light"][i % 2]), bytes.get_ref());
    }
    let decoded = IMAGES * SIDE * SIDE * 3 * size_of::<f32>();
    let mut model = Model::sequential(vec![
        Box::new(Flatten::new().input_shape(&[SIDE, SIDE, 3])),
        Box::new(Dense::new(1).activation("sigmoid")),
    ])
    .unwrap();
    model.compile(Sgd::default(), "binary_crossentropy", &["accuracy"]).unwrap();
    let augmenter =
        ImageAugmenter::new(3).rotation_range(15.0).zoom_range(0.1).shear_range(5.0).horizontal_flip(true);
    let generator = ImageDataGenerator::new().rescale(1.0 / 255.0).augmentation(augmenter);
    let options = DirectoryOptions::default()
        .image_size(SIDE, SIDE)
        .label_mode(LabelMode::Binary)
        .batch_size(32)
        .workers(2)
        .prefetch(2);
    let mut stream = generator.flow_from_directory(scratch.path(), options).unwrap();

    // Writing "5" to clear_refs resets the peak to the current resident set (Linux 4.0+);
    // where it cannot, the peak so far stays in the figure, which only makes the test stricter.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = status_bytes("VmRSS");
    let history = model.fit_stream(&mut stream, FitOptions::default().epochs(1).verbose(0)).unwrap();
    let growth = status_bytes("VmHWM").saturating_sub(before);
    assert_eq!(history.get("loss").map(<[f64]>::len), Some(1));
    eprintln!("decoded dataset {} MiB, peak resident growth {} MiB", decoded >> 20, growth >> 20);
    // Two waiting batches of 32 images are 1.5 MiB; the bound leaves room for the allocator's
    // per-thread arenas and the model, and is a quarter of what holding the data would take.
    assert!(
        growth < decoded / 4,
        "the peak resident set grew by {growth} bytes; the decoded dataset is {decoded}"
    );
}
