//! Small valid files made on the spot, and the edits that turn them into hostile ones: IDX files
//! (raw or gzip), PNG images, image folders and safetensors model files, all in scratch
//! directories under the system's temporary directory.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;
use tessera::nn::io::save_model;
use tessera::nn::{Dense, Model};

pub const IMAGES_MAGIC: u32 = 0x0000_0803;
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// A fresh, empty directory for one test case: unique per process, name and call.
pub fn scratch(name: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("tessera-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `bytes` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&path, bytes).unwrap();
    path
}

/// An IDX file: the big-endian magic and dimensions, then `data`.
pub fn idx_bytes(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut bytes = magic.to_be_bytes().to_vec();
    for d in dims {
        bytes.extend(d.to_be_bytes());
    }
    bytes.extend_from_slice(data);
    bytes
}

/// A valid IDX image file of `n` images of 4x3 pixels.
pub fn idx_images(n: u32) -> Vec<u8> {
    let pixels: Vec<u8> = (0..n * 12).map(|i| (i * 37 % 256) as u8).collect();
    idx_bytes(IMAGES_MAGIC, &[n, 4, 3], &pixels)
}

/// A valid IDX label file of `n` labels.
pub fn idx_labels(n: u32) -> Vec<u8> {
    let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
    idx_bytes(LABELS_MAGIC, &[n], &labels)
}

/// `bytes` gzip-compressed.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// A PNG of `width` x `height` RGB pixels.
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8, y as u8, (x * y) as u8]));
    let mut bytes = std::io::Cursor::new(Vec::new());
    image.write_to(&mut bytes, image::ImageFormat::Png).unwrap();
    bytes.into_inner()
}

/// `png` with the width and height in its header changed (and the header's checksum fixed, so
/// that the decoder believes them).
pub fn png_declaring(png: &[u8], width: u32, height: u32) -> Vec<u8> {
    // Signature (8), IHDR length (4), "IHDR" (4), width (4), height (4), 5 more bytes, CRC (4).
    let mut bytes = png.to_vec();
    bytes[16..20].copy_from_slice(&width.to_be_bytes());
    bytes[20..24].copy_from_slice(&height.to_be_bytes());
    let mut crc = flate2::Crc::new();
    crc.update(&bytes[12..29]);
    bytes[29..33].copy_from_slice(&crc.sum().to_be_bytes());
    bytes
}

/// A class-per-folder image directory: two classes of two small PNGs each.
pub fn image_folder(name: &str) -> PathBuf {
    let dir = scratch(name);
    for class in ["cats", "dogs"] {
        for (k, size) in [(3, 2), (2, 5)].into_iter().enumerate() {
            write(&dir, &format!("{class}/{k}.png"), &png(size.0, size.1));
        }
    }
    dir
}

/// A small model (Dense 4 -> 3 -> 2), saved whole to `dir/model.safetensors`.
pub fn model_file(dir: &Path) -> PathBuf {
    let path = dir.join("model.safetensors");
    save_model(&small_model(), &path).unwrap();
    path
}

/// The model [`model_file`] saves, unsaved.
pub fn small_model() -> Model {
    Model::sequential(vec![
        Box::new(Dense::new(3).input_shape(&[4]).activation("relu").seed(1)),
        Box::new(Dense::new(2).seed(2)),
    ])
    .unwrap()
}

/// The JSON header of a safetensors file, and where its data starts.
pub fn safetensors_header(bytes: &[u8]) -> (Value, usize) {
    let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    (serde_json::from_slice(&bytes[8..8 + len]).unwrap(), 8 + len)
}

/// A safetensors file with its header edited by `edit` (and its length field fixed to match).
pub fn with_header(bytes: &[u8], edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let (mut header, data_start) = safetensors_header(bytes);
    edit(&mut header);
    let mut text = serde_json::to_vec(&header).unwrap();
    // safetensors pads its header with spaces to a multiple of 8 bytes.
    while text.len() % 8 != 0 {
        text.push(b' ');
    }
    let mut out = (text.len() as u64).to_le_bytes().to_vec();
    out.extend(text);
    out.extend_from_slice(&bytes[data_start..]);
    out
}

/// A model file whose architecture (JSON inside the metadata) is edited by `edit`.
pub fn with_architecture(bytes: &[u8], edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    with_header(bytes, |header| {
        let text = header["__metadata__"]["architecture"].as_str().unwrap().to_string();
        let mut architecture: Value = serde_json::from_str(&text).unwrap();
        edit(&mut architecture);
        header["__metadata__"]["architecture"] = Value::String(architecture.to_string());
    })
}

/// The config of layer `index` of a Sequential architecture.
pub fn layer_config(architecture: &mut Value, index: usize) -> &mut Value {
    &mut architecture["config"]["layers"][index]["config"]
}
