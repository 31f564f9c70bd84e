//! The IDX reader: the real Fashion-MNIST files of Debian's dataset-fashion-mnist package, and
//! small generated files, raw and gzip-compressed, broken in every way the reader must report.

#[path = "fixtures/scratch.rs"]
mod scratch;

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use scratch::Scratch;
use tessera::Device;
use tessera::nn::NnError;
use tessera::nn::data::{FashionMnist, IdxImages, Mnist, read_idx_images, read_idx_labels};

const IMAGES_MAGIC: u32 = 0x0000_0803;
const LABELS_MAGIC: u32 = 0x0000_0801;

/// An IDX file: big-endian magic and dimensions, then `data`.
fn idx_bytes(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut bytes = magic.to_be_bytes().to_vec();
    dims.iter().for_each(|d| bytes.extend(d.to_be_bytes()));
    bytes.extend_from_slice(data);
    bytes
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// Three 2x3 images with distinct pixels, and their labels.
fn small_images() -> IdxImages {
    IdxImages { n: 3, rows: 2, cols: 3, pixels: (0..18).map(|p| p * 14).collect() }
}

fn small_image_file() -> Vec<u8> {
    let images = small_images();
    idx_bytes(IMAGES_MAGIC, &[3, 2, 3], &images.pixels)
}

const SMALL_LABELS: [u8; 3] = [2, 0, 1];

/// The message of a data error, failing the test on any other outcome.
fn data_error<T: std::fmt::Debug>(result: tessera::nn::Result<T>) -> String {
    match result {
        Err(NnError::Data(message)) => message,
        other => panic!("expected a data error, got {other:?}"),
    }
}

/// Runs `check` on the error from reading `bytes` as images, written raw and gzip-compressed,
/// so that every corruption is caught whichever way the file is stored.
fn image_error_both_ways(scratch: &Scratch, name: &str, bytes: &[u8], check: impl Fn(&str)) {
    for (suffix, content) in [("", bytes.to_vec()), (".gz", gzip(bytes))] {
        let path = scratch.write(&format!("{name}{suffix}"), &content);
        let message = data_error(read_idx_images(&path));
        assert!(message.starts_with(&path.display().to_string()), "no path in: {message}");
        check(&message);
    }
}

#[test]
fn fashion_mnist_from_the_debian_package_has_the_published_layout() {
    let data = FashionMnist::load_default().unwrap_or_else(|e| {
        panic!("{e} (the package dataset-fashion-mnist provides the files these tests read)")
    });
    for (part, n, first_labels) in [
        (&data.train, 60_000, [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]),
        (&data.test, 10_000, [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]),
    ] {
        assert_eq!((part.images.n, part.images.rows, part.images.cols), (n, 28, 28));
        assert_eq!(part.images.pixels.len(), n * 28 * 28);
        assert_eq!(part.labels.len(), n);
        assert_eq!(part.labels[..10], first_labels);
        // Fashion-MNIST is balanced: every class holds a tenth of each part.
        for class in 0..10u8 {
            assert_eq!(part.labels.iter().filter(|&&l| l == class).count(), n / 10, "class {class}");
        }
        assert_eq!(part.images.pixels.iter().max(), Some(&255));
    }
    // The first training image is an ankle boot whose pixels sum to 76,247.
    assert_eq!(FashionMnist::CLASS_NAMES[usize::from(data.train.labels[0])], "Ankle boot");
    let first: u64 = data.train.images.pixels[..784].iter().map(|&p| u64::from(p)).sum();
    assert_eq!(first, 76_247);

    let x = data.test.images.to_tensor(&Device::Cpu).unwrap();
    assert_eq!(x.dims(), &[10_000, 28, 28, 1]);
    let values = x.to_vec::<f32>().unwrap();
    assert!(values.iter().zip(&data.test.images.pixels).all(|(&v, &p)| v == f32::from(p)));
}

#[test]
fn slices_class_subsets_and_scaled_tensors_keep_images_with_their_labels() {
    let data = FashionMnist::load_default().unwrap().test.first(10);
    assert_eq!(data.labels, [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]);
    assert_eq!(data.images.pixels.len(), 10 * 784);

    // Ankle boots (9) become label 0 and trousers (1) label 1, in the order they come.
    let subset = data.select_classes(&[9, 1]);
    assert_eq!(subset.labels, [0, 1, 1, 1]);
    assert_eq!(subset.images.n, 4);
    assert_eq!(subset.images.pixels[..784], data.images.pixels[..784]);
    assert_eq!(subset.images.pixels[784..2 * 784], data.images.pixels[2 * 784..3 * 784]);
    assert!(data.select_classes(&[]).labels.is_empty());

    let (x, y) = subset.to_scaled_tensors(&Device::Cpu).unwrap();
    assert_eq!(x.dims(), &[4, 28, 28, 1]);
    let pixels = x.to_vec::<f32>().unwrap();
    assert!(pixels.iter().zip(&subset.images.pixels).all(|(&v, &p)| v == f32::from(p) / 255.0));
    assert_eq!(y.to_vec::<f32>().unwrap(), [0.0, 1.0, 1.0, 1.0]);
    assert_eq!(data.first(100).labels.len(), 10, "first(n) past the end keeps what there is");
}

#[test]
fn raw_and_gzip_files_read_the_same_whatever_their_names() {
    let scratch = Scratch::new("idx-both-ways");
    let raw = small_image_file();
    let labels = idx_bytes(LABELS_MAGIC, &[3], &SMALL_LABELS);
    // Compression is recognised by content: a raw file named .gz and a gzip file without the
    // suffix both read correctly.
    let paths = [
        scratch.write("raw-images", &raw),
        scratch.write("raw-named.gz", &raw),
        scratch.write("gzip-images", &gzip(&raw)),
        scratch.write("gzip-images.gz", &gzip(&raw)),
    ];
    for path in &paths {
        assert_eq!(read_idx_images(path).unwrap(), small_images(), "{}", path.display());
    }
    assert_eq!(read_idx_labels(scratch.write("labels", &labels)).unwrap(), SMALL_LABELS);
    assert_eq!(read_idx_labels(scratch.write("labels.gz", &gzip(&labels))).unwrap(), SMALL_LABELS);
}

#[test]
fn mnist_directory_accepts_uncompressed_files_and_pairs_images_with_labels() {
    let scratch = Scratch::new("idx-mnist-dir");
    let images = small_image_file();
    let labels = idx_bytes(LABELS_MAGIC, &[3], &SMALL_LABELS);
    scratch.write("train-images-idx3-ubyte", &images);
    scratch.write("train-labels-idx1-ubyte.gz", &gzip(&labels));
    scratch.write("t10k-images-idx3-ubyte.gz", &gzip(&images));
    scratch.write("t10k-labels-idx1-ubyte", &labels);
    let data = Mnist::load(scratch.path()).unwrap();
    assert_eq!(data.train.images, small_images());
    assert_eq!(data.train.labels, SMALL_LABELS);
    assert_eq!(data.test, data.train);

    // Two labels for three images: the error names both files and both counts.
    scratch.write("t10k-labels-idx1-ubyte", &idx_bytes(LABELS_MAGIC, &[2], &SMALL_LABELS[..2]));
    let message = data_error(FashionMnist::load(scratch.path()));
    for needle in ["t10k-images-idx3-ubyte.gz", "3 images", "t10k-labels-idx1-ubyte", "2 labels"] {
        assert!(message.contains(needle), "{needle:?} missing from: {message}");
    }
}

#[test]
fn missing_files_are_io_errors_naming_the_path() {
    let scratch = Scratch::new("idx-missing");
    match read_idx_labels(scratch.path().join("absent")) {
        Err(NnError::Io { path, .. }) => assert!(path.ends_with("absent"), "{path}"),
        other => panic!("expected an I/O error, got {other:?}"),
    }
    match Mnist::load(scratch.path()) {
        Err(NnError::Io { path, detail }) => {
            assert!(path.ends_with("train-images-idx3-ubyte.gz"), "{path}");
            assert!(detail.contains("no such file"), "{detail}");
        }
        other => panic!("expected an I/O error, got {other:?}"),
    }
}

#[test]
fn empty_files_are_reported_as_empty() {
    let scratch = Scratch::new("idx-empty");
    let message = data_error(read_idx_images(scratch.write("empty", &[])));
    assert!(message.ends_with("the file is empty"), "{message}");
    // A gzip stream of nothing has no header either.
    let message = data_error(read_idx_labels(scratch.write("empty.gz", &gzip(&[]))));
    assert!(message.contains("truncated header: 0 bytes"), "{message}");
}

#[test]
fn wrong_magic_numbers_say_what_the_file_looks_like() {
    let scratch = Scratch::new("idx-magic");
    let labels = idx_bytes(LABELS_MAGIC, &[3], &SMALL_LABELS);
    image_error_both_ways(&scratch, "labels-as-images", &labels, |m| {
        assert!(m.contains("magic number 0x00000801 (that of an IDX label file)"), "{m}");
        assert!(m.contains("an IDX image file starts with 0x00000803"), "{m}");
    });
    image_error_both_ways(&scratch, "zip", b"PK\x03\x04 not an idx file at all", |m| {
        assert!(m.contains("not an IDX file: it starts with bytes 50 4b 03 04"), "{m}");
    });
    // Element type 0x0d (f32) is valid IDX, but not what MNIST-style files hold.
    image_error_both_ways(&scratch, "floats", &idx_bytes(0x0000_0d03, &[1, 1, 1], &[0; 4]), |m| {
        assert!(m.contains("element type 0x0d"), "{m}");
    });
    let message = data_error(read_idx_labels(scratch.write("images-as-labels", &small_image_file())));
    assert!(message.contains("(that of an IDX image file)"), "{message}");
}

#[test]
fn truncated_headers_and_data_are_reported_with_sizes() {
    let scratch = Scratch::new("idx-truncated");
    let full = small_image_file();
    image_error_both_ways(&scratch, "magic-cut", &full[..3], |m| {
        assert!(m.contains("truncated header: 3 bytes"), "{m}");
    });
    image_error_both_ways(&scratch, "dims-cut", &full[..10], |m| {
        assert!(m.contains("truncated header: 10 bytes, an IDX image header takes 16"), "{m}");
    });
    image_error_both_ways(&scratch, "data-cut", &full[..full.len() - 5], |m| {
        assert!(m.contains("truncated data: dimensions 3x2x3 need 18 bytes after the header"), "{m}");
        assert!(m.contains("only 13"), "{m}");
    });
    let mut long = full.clone();
    long.extend([1, 2]);
    image_error_both_ways(&scratch, "trailing", &long, |m| {
        assert!(m.contains("2 unexpected"), "{m}");
    });
}

#[test]
fn dimensions_whose_product_overflows_are_rejected_before_reading() {
    let scratch = Scratch::new("idx-overflow");
    let bytes = idx_bytes(IMAGES_MAGIC, &[u32::MAX, u32::MAX, u32::MAX], &[0; 8]);
    image_error_both_ways(&scratch, "overflow", &bytes, |m| {
        assert!(m.contains("hold more elements than memory can address"), "{m}");
    });
    // Large but representable dimensions are a truncation, not an allocation.
    let bytes = idx_bytes(IMAGES_MAGIC, &[u32::MAX, 1 << 16, 1 << 16], &[0; 8]);
    image_error_both_ways(&scratch, "huge", &bytes, |m| assert!(m.contains("truncated data"), "{m}"));
}

#[test]
fn truncated_or_corrupt_gzip_streams_are_io_errors() {
    let scratch = Scratch::new("idx-bad-gzip");
    // Enough data that the deflate stream spans many bytes, so cuts land inside it.
    let pixels: Vec<u8> = (0..30_000u32).map(|i| (i * 7919 % 251) as u8).collect();
    let compressed = gzip(&idx_bytes(IMAGES_MAGIC, &[30, 10, 100], &pixels));
    let mut flipped = compressed.clone();
    let middle = flipped.len() / 2;
    flipped[middle..middle + 16].iter_mut().for_each(|b| *b ^= 0x5a);
    let cases = [
        ("half.gz", compressed[..compressed.len() / 2].to_vec()),
        ("no-trailer.gz", compressed[..compressed.len() - 4].to_vec()),
        ("flipped.gz", flipped),
    ];
    for (name, bytes) in cases {
        match read_idx_images(scratch.write(name, &bytes)) {
            Err(NnError::Io { path, detail }) => {
                assert!(path.ends_with(name), "{path}");
                assert!(detail.starts_with("corrupt or truncated gzip data"), "{name}: {detail}");
            }
            other => panic!("{name}: expected an I/O error, got {other:?}"),
        }
    }
    assert_eq!(read_idx_images(scratch.write("whole.gz", &compressed)).unwrap().pixels, pixels);
}
