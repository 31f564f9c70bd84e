//! One image file to model input: decoded (PNG, JPEG, BMP, GIF, recognised by content), its
//! declared size bounded before its pixels are allocated, converted to a [`ColorMode`] and
//! resized by an [`Interpolation`].

use std::io::BufReader;
use std::path::Path;

use image::{DynamicImage, ImageReader, Limits};
use tensor_core::cpu;

use super::sampling::{FillMode, HostImage};
use super::{file_error, io_error};
use crate::Result;

/// The channels images are converted to (Keras's `color_mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ColorMode {
    /// One channel of ITU-R 601-2 luma, `(299 R + 587 G + 114 B) / 1000` rounded to the
    /// nearest level as PIL's `convert("L")` computes it (what Keras's `load_img` uses;
    /// TensorFlow's decoder, behind Keras's `image_dataset_from_directory`, differs by at most
    /// one level on PNGs and takes a JPEG's own luma plane).
    Grayscale,
    /// Three channels; an alpha channel is dropped. Keras's default.
    #[default]
    Rgb,
    /// Four channels; an opaque image gets alpha 255.
    Rgba,
}

impl ColorMode {
    pub(crate) fn channels(self) -> usize {
        match self {
            ColorMode::Grayscale => 1,
            ColorMode::Rgb => 3,
            ColorMode::Rgba => 4,
        }
    }

    /// The image's 8-bit values in this mode, row-major, channels last.
    fn bytes(self, image: &DynamicImage) -> Vec<u8> {
        match self {
            ColorMode::Grayscale => image.to_rgb8().pixels().map(|p| luma_601(p.0)).collect(),
            ColorMode::Rgb => image.to_rgb8().into_raw(),
            ColorMode::Rgba => image.to_rgba8().into_raw(),
        }
    }
}

/// PIL's ITU-R 601-2 luma in its fixed point: the weights scaled by 2^16 (they sum to
/// exactly 2^16, so white stays 255), rounded half up.
fn luma_601([r, g, b]: [u8; 3]) -> u8 {
    let weighted = u32::from(r) * 19_595 + u32::from(g) * 38_470 + u32::from(b) * 7_471;
    // At most 255 * 2^16 + 2^15 before the shift: the result fits in a byte.
    ((weighted + (1 << 15)) >> 16) as u8
}

/// How an image is resized to the requested size (Keras's `interpolation`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interpolation {
    /// Bilinear on pixel centres with the edges repeated, without antialiasing: TensorFlow's
    /// `resize`, which `image_dataset_from_directory` uses by default.
    Bilinear,
    /// The pixel whose centre is nearest: PIL's `NEAREST`, `flow_from_directory`'s default.
    Nearest,
}

/// Reads `file` as a `height x width` image in `color_mode`, values 0..=255 in f32, written
/// into `out` (of `height * width * channels` values). Errors name the file.
pub(crate) fn load_image(
    file: &Path,
    color_mode: ColorMode,
    (height, width): (usize, usize),
    interpolation: Interpolation,
    out: &mut [f32],
) -> Result<()> {
    let image = decode(file)?;
    let bytes = color_mode.bytes(&image);
    let what = format_args!("the {} x {} pixels of {}", image.width(), image.height(), file.display());
    let mut pixels = cpu::host_vec::<f32>("image_dataset_from_directory", &what, bytes.len())?;
    pixels.extend(bytes.into_iter().map(f32::from));
    let source = HostImage {
        pixels: &pixels,
        height: image.height() as usize,
        width: image.width() as usize,
        channels: color_mode.channels(),
    };
    resize_into(&source, height, width, interpolation, out);
    Ok(())
}

/// The most pixels an image file may declare on either side.
const MAX_IMAGE_SIDE: u32 = 1 << 15;

/// The most bytes decoding one image may allocate: room for a 64-megapixel RGB photo, far more
/// than a model's input is resized from, yet a bound on what a small file declaring a huge
/// image can cost (its f32 copy takes four times this).
const MAX_DECODE_BYTES: u64 = 256 << 20;

/// The decoder's limits: a file declaring a larger image is refused before its pixels are
/// allocated.
fn decode_limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    limits
}

/// An image reader for `file` that recognises the format by its content rather than its
/// extension, with `limits`.
fn open_image(file: &Path, limits: Limits) -> Result<ImageReader<BufReader<std::fs::File>>> {
    let reader = ImageReader::open(file).map_err(|e| io_error(file, e))?;
    let mut reader = reader.with_guessed_format().map_err(|e| io_error(file, e))?;
    reader.limits(limits);
    Ok(reader)
}

/// Decodes `file`; its declared size is checked against the limits first, so that the error
/// can say what the file declares.
fn decode(file: &Path) -> Result<DynamicImage> {
    // Reading the header allocates nothing of the image's size; without limits it gives the
    // declared size even when the limits would refuse it.
    let (width, height) = open_image(file, Limits::no_limits())?
        .into_dimensions()
        .map_err(|e| file_error(file, format!("cannot decode the image: {e}")))?;
    if width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE {
        return Err(file_error(
            file,
            format!(
                "the image declares {width} x {height} pixels; at most {MAX_IMAGE_SIDE} on a side are read"
            ),
        ));
    }
    let image = open_image(file, decode_limits())?
        .decode()
        .map_err(|e| file_error(file, format!("cannot decode the {width} x {height} image: {e}")))?;
    if image.width() == 0 || image.height() == 0 {
        return Err(file_error(file, "the image has no pixels"));
    }
    Ok(image)
}

/// Writes `source` resized to `height x width` into `out`. Output pixel centres map onto the
/// source with half-pixel offsets, so the image's extent (not its corner pixels) is preserved.
fn resize_into(
    source: &HostImage<'_>,
    height: usize,
    width: usize,
    interpolation: Interpolation,
    out: &mut [f32],
) {
    let scale_rows = source.height as f64 / height as f64;
    let scale_cols = source.width as f64 / width as f64;
    let channels = source.channels;
    for (index, pixel) in out.chunks_exact_mut(channels).enumerate() {
        let (row, col) = ((index / width) as f64, (index % width) as f64);
        match interpolation {
            Interpolation::Bilinear => {
                let y = (row + 0.5) * scale_rows - 0.5;
                let x = (col + 0.5) * scale_cols - 0.5;
                source.sample(y, x, FillMode::Nearest, pixel);
            }
            Interpolation::Nearest => {
                // The source pixel whose extent holds this pixel's centre; `as` floors the
                // non-negative coordinate.
                let y = (((row + 0.5) * scale_rows) as usize).min(source.height - 1);
                let x = (((col + 0.5) * scale_cols) as usize).min(source.width - 1);
                let start = (y * source.width + x) * channels;
                pixel.copy_from_slice(&source.pixels[start..start + channels]);
            }
        }
    }
}
