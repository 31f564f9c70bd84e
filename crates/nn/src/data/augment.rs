//! Random image augmentation in the manner of Keras's `ImageDataGenerator`: rotation, shifts,
//! shear and zoom composed into one affine map about Keras's centre and sampled bilinearly,
//! then horizontal and vertical flips, then Keras's brightness shift.
//!
//! Augmentation runs on the host, on NHWC f32 batches: inside `fit_stream` as
//! [`super::ImageDataGenerator`] reads each image, or on a tensor with
//! [`ImageAugmenter::augment`] (read back if it lives on a device, the result placed where it
//! came from). Each image's parameters come from the augmenter's seed and the image's index
//! alone, so a batch augmented in pieces, in another order or on another thread comes out the
//! same; to draw new parameters every epoch, pass `epoch * samples` as the first index (the
//! folder streams do).

use tensor_core::{DType, Tensor, rng};

use super::sampling::{FillMode, HostImage};
use crate::{NnError, Result};

/// Where each parameter is drawn in an image's random stream. Every parameter has its own slot,
/// so enabling one augmentation leaves the values the others draw unchanged.
mod slot {
    pub const ROTATION: u32 = 0;
    pub const SHIFT_ROWS: u32 = 1;
    pub const SHIFT_COLS: u32 = 2;
    pub const ZOOM_ROWS: u32 = 3;
    pub const ZOOM_COLS: u32 = 4;
    pub const FLIP: u32 = 5;
    pub const BRIGHTNESS: u32 = 6;
    pub const SHEAR: u32 = 7;
    pub const FLIP_VERTICAL: u32 = 8;
}

/// The transform of one image. Its geometric part maps each output pixel to the input position
/// it samples: relative to the centre, scaled by the zoom factors, sheared, moved by the shift,
/// rotated (Keras's order: its matrix is rotation · shift · shear · zoom).
///
/// The centre is Keras 3's: `transform_matrix_offset_center` offsets its first coordinate by
/// `height / 2 - 0.5` and its second by `width / 2 - 0.5`, and `apply_affine_transform` then
/// swaps the coordinates, so the map turns about row `(width - 1) / 2`, column
/// `(height - 1) / 2`: the image centre when the image is square, a point off it otherwise.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ImageTransform {
    /// Counter-clockwise rotation of the content about the image centre, in degrees.
    pub rotation_degrees: f64,
    /// How far the content moves down, in pixels (negative: up).
    pub shift_rows: f64,
    /// How far the content moves right, in pixels (negative: left).
    pub shift_cols: f64,
    /// Vertical zoom factor: the output samples the input over this many times its own extent,
    /// so a factor below 1 magnifies and one above 1 shrinks (Keras's convention).
    pub zoom_rows: f64,
    /// Horizontal zoom factor, as `zoom_rows`.
    pub zoom_cols: f64,
    /// Shear angle in degrees, Keras's matrix `[[1, -sin s], [0, cos s]]` on (column, row)
    /// offsets from the centre: the output pixel at offset `(dr, dc)` (after zoom) samples the
    /// input at offset `(dr cos s, dc - dr sin s)`, so rows below the centre slide right.
    pub shear_degrees: f64,
    /// Mirror left to right, after the geometric transform.
    pub flip_horizontal: bool,
    /// Mirror top to bottom, after the geometric transform.
    pub flip_vertical: bool,
    /// Keras's brightness shift by this factor, last, or none. As Keras's
    /// `apply_brightness_shift` (PIL's `ImageEnhance.Brightness` on an 8-bit image): values
    /// are cut to whole levels, multiplied in f32, cut again and clipped to 0..=255. An image
    /// with values outside 0..=255 is first stretched to 0..=255, and stretched back after.
    pub brightness: Option<f64>,
}

impl Default for ImageTransform {
    fn default() -> Self {
        ImageTransform::IDENTITY
    }
}

impl ImageTransform {
    /// The transform that leaves an image as it is.
    pub const IDENTITY: ImageTransform = ImageTransform {
        rotation_degrees: 0.0,
        shift_rows: 0.0,
        shift_cols: 0.0,
        zoom_rows: 1.0,
        zoom_cols: 1.0,
        shear_degrees: 0.0,
        flip_horizontal: false,
        flip_vertical: false,
        brightness: None,
    };

    /// The transformed copy of one `height x width x channels` image (channels last).
    pub fn apply(
        &self,
        image: &[f32],
        height: usize,
        width: usize,
        channels: usize,
        fill: FillMode,
    ) -> Result<Vec<f32>> {
        let len = height.checked_mul(width).and_then(|n| n.checked_mul(channels));
        if len != Some(image.len()) || image.is_empty() {
            return Err(NnError::Data(format!(
                "ImageTransform::apply: {} values do not make a non-empty {height}x{width}x{channels} image",
                image.len()
            )));
        }
        let mut out = vec![0.0; image.len()];
        self.apply_into(&HostImage { pixels: image, height, width, channels }, fill, &mut out);
        Ok(out)
    }

    /// Writes the transformed `src` into `out`, which has `src`'s size.
    fn apply_into(&self, src: &HostImage<'_>, fill: FillMode, out: &mut [f32]) {
        let (sin, cos) = self.rotation_degrees.to_radians().sin_cos();
        let (shear_sin, shear_cos) = self.shear_degrees.to_radians().sin_cos();
        // Keras's centre, its coordinates crossed (see the type's documentation).
        let centre_row = (src.width as f64 - 1.0) / 2.0;
        let centre_col = (src.height as f64 - 1.0) / 2.0;
        for (row, out_row) in out.chunks_exact_mut(src.width * src.channels).enumerate() {
            // The flips come last, so output pixel (row, col) shows what the unflipped
            // transform puts at the mirrored position.
            let row = if self.flip_vertical { src.height - 1 - row } else { row };
            for (col, pixel) in out_row.chunks_exact_mut(src.channels).enumerate() {
                let col = if self.flip_horizontal { src.width - 1 - col } else { col };
                let zoomed_row = (row as f64 - centre_row) * self.zoom_rows;
                let zoomed_col = (col as f64 - centre_col) * self.zoom_cols;
                let dr = zoomed_row * shear_cos - self.shift_rows;
                let dc = zoomed_col - zoomed_row * shear_sin - self.shift_cols;
                // Rows grow downwards, so rotating the content counter-clockwise on screen
                // samples the input rotated the other way in (row, col) coordinates.
                let y = centre_row + dr * cos + dc * sin;
                let x = centre_col - dr * sin + dc * cos;
                src.sample(y, x, fill, pixel);
            }
        }
        if let Some(factor) = self.brightness {
            brightness_shift(out, src.channels, factor as f32);
        }
    }
}

/// Keras's `apply_brightness_shift(x, factor, scale=False)` on one image, in place: the image
/// to 8 bits (stretched to 0..=255 first if it leaves that range), PIL's blend with black,
/// `(u8)(factor * v)` clipped to 0..=255 in f32, and back. A fourth channel is alpha, which
/// PIL's enhancement keeps.
fn brightness_shift(image: &mut [f32], channels: usize, factor: f32) {
    let (min, max) = image.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    let stretched = min < 0.0 || max > 255.0;
    let range = max - min;
    for (i, value) in image.iter_mut().enumerate() {
        let mut v = *value;
        if stretched {
            v -= min;
            if range != 0.0 {
                v /= range;
            }
            v *= 255.0;
        }
        // numpy's cast to uint8 and PIL's to UINT8 both cut towards zero.
        let level = v.trunc();
        let mut shifted =
            if channels == 4 && i % 4 == 3 { level } else { (factor * level).clamp(0.0, 255.0).trunc() };
        if stretched {
            shifted = shifted / 255.0 * range + min;
        }
        *value = shifted;
    }
}

/// Draws an [`ImageTransform`] per image and applies it, reproducibly from a seed.
///
/// Ranges follow Keras's `ImageDataGenerator`: a rotation uniform in `[-degrees, degrees]`,
/// shifts uniform in `[-fraction, fraction]` of the height and width, zoom factors for rows
/// and columns drawn independently from `[1 - range, 1 + range]`, a shear angle uniform in
/// `[-degrees, degrees]`, each flip with probability 1/2, a brightness factor uniform in
/// `[low, high]`. Positions outside the input read as the [`FillMode`] says: the nearest edge
/// pixel by default, as Keras's `fill_mode="nearest"`.
///
/// ```
/// use nn::data::{FillMode, ImageAugmenter};
///
/// let augmenter = ImageAugmenter::new(7)
///     .rotation_range(15.0)
///     .width_shift_range(0.1)
///     .height_shift_range(0.1)
///     .zoom_range(0.1)
///     .horizontal_flip(true)
///     .fill_mode(FillMode::Constant(0.0));
/// # let _ = augmenter;
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ImageAugmenter {
    seed: u64,
    rotation_range: f64,
    width_shift_range: f64,
    height_shift_range: f64,
    zoom_range: f64,
    shear_range: f64,
    horizontal_flip: bool,
    vertical_flip: bool,
    brightness_range: Option<(f64, f64)>,
    fill_mode: FillMode,
}

impl ImageAugmenter {
    /// An augmenter that changes nothing until augmentations are switched on.
    pub fn new(seed: u64) -> Self {
        ImageAugmenter {
            seed,
            rotation_range: 0.0,
            width_shift_range: 0.0,
            height_shift_range: 0.0,
            zoom_range: 0.0,
            shear_range: 0.0,
            horizontal_flip: false,
            vertical_flip: false,
            brightness_range: None,
            fill_mode: FillMode::Nearest,
        }
    }

    /// Rotations uniform in `[-degrees, degrees]`.
    pub fn rotation_range(mut self, degrees: f64) -> Self {
        self.rotation_range = degrees;
        self
    }

    /// Horizontal shifts uniform in `[-fraction, fraction]` of the width.
    pub fn width_shift_range(mut self, fraction: f64) -> Self {
        self.width_shift_range = fraction;
        self
    }

    /// Vertical shifts uniform in `[-fraction, fraction]` of the height.
    pub fn height_shift_range(mut self, fraction: f64) -> Self {
        self.height_shift_range = fraction;
        self
    }

    /// Zoom factors uniform in `[1 - range, 1 + range]`, drawn separately for rows and columns.
    pub fn zoom_range(mut self, range: f64) -> Self {
        self.zoom_range = range;
        self
    }

    /// Shear angles uniform in `[-degrees, degrees]` (see [`ImageTransform::shear_degrees`]).
    pub fn shear_range(mut self, degrees: f64) -> Self {
        self.shear_range = degrees;
        self
    }

    /// Mirror half of the images, chosen at random, left to right.
    pub fn horizontal_flip(mut self, flip: bool) -> Self {
        self.horizontal_flip = flip;
        self
    }

    /// Mirror half of the images, chosen at random, top to bottom.
    pub fn vertical_flip(mut self, flip: bool) -> Self {
        self.vertical_flip = flip;
        self
    }

    /// Brightness factors uniform in `[low, high]`, applied as Keras's brightness shift (see
    /// [`ImageTransform::brightness`]: the image is cut to whole levels even where the factor
    /// is 1). Unset, no shift.
    pub fn brightness_range(mut self, low: f64, high: f64) -> Self {
        self.brightness_range = Some((low, high));
        self
    }

    /// What positions outside the input read (default [`FillMode::Nearest`]).
    pub fn fill_mode(mut self, fill: FillMode) -> Self {
        self.fill_mode = fill;
        self
    }

    /// Checks the ranges, so that a typo fails loudly instead of producing garbage images.
    pub(crate) fn check(&self) -> Result<()> {
        let (low, high) = self.brightness_range.unwrap_or((1.0, 1.0));
        let problem = if !(self.rotation_range.is_finite() && self.rotation_range >= 0.0) {
            format!("rotation_range must be finite and >= 0 degrees, got {}", self.rotation_range)
        } else if !(0.0..=1.0).contains(&self.width_shift_range) {
            format!("width_shift_range must be a fraction in [0, 1], got {}", self.width_shift_range)
        } else if !(0.0..=1.0).contains(&self.height_shift_range) {
            format!("height_shift_range must be a fraction in [0, 1], got {}", self.height_shift_range)
        } else if !(self.shear_range.is_finite() && self.shear_range >= 0.0) {
            format!("shear_range must be finite and >= 0 degrees, got {}", self.shear_range)
        } else if !(0.0..1.0).contains(&self.zoom_range) {
            format!("zoom_range must be in [0, 1) so that factors stay positive, got {}", self.zoom_range)
        } else if !(0.0 <= low && low <= high && high.is_finite()) {
            format!("brightness_range needs finite bounds with 0 <= low <= high, got [{low}, {high}]")
        } else {
            return Ok(());
        };
        Err(NnError::Data(format!("ImageAugmenter: {problem}")))
    }

    /// The transform of image `index` of a `height x width` dataset.
    pub fn random_transform(&self, index: u64, height: usize, width: usize) -> Result<ImageTransform> {
        self.check()?;
        Ok(self.draw(index, height, width))
    }

    /// [`ImageAugmenter::random_transform`] for checked settings.
    fn draw(&self, index: u64, height: usize, width: usize) -> ImageTransform {
        // A bijective mix of the index, so that every image has its own stream.
        let stream = self.seed ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let uniform = |slot: u32, low: f64, high: f64| low + (high - low) * rng::uniform(stream, slot);
        let symmetric = |slot: u32, range: f64| uniform(slot, -range, range);
        let zoom = |slot: u32| uniform(slot, 1.0 - self.zoom_range, 1.0 + self.zoom_range);
        ImageTransform {
            rotation_degrees: symmetric(slot::ROTATION, self.rotation_range),
            shift_rows: symmetric(slot::SHIFT_ROWS, self.height_shift_range) * height as f64,
            shift_cols: symmetric(slot::SHIFT_COLS, self.width_shift_range) * width as f64,
            zoom_rows: zoom(slot::ZOOM_ROWS),
            zoom_cols: zoom(slot::ZOOM_COLS),
            shear_degrees: symmetric(slot::SHEAR, self.shear_range),
            flip_horizontal: self.horizontal_flip && rng::uniform(stream, slot::FLIP) < 0.5,
            flip_vertical: self.vertical_flip && rng::uniform(stream, slot::FLIP_VERTICAL) < 0.5,
            brightness: self.brightness_range.map(|(low, high)| uniform(slot::BRIGHTNESS, low, high)),
        }
    }

    /// Augments an NHWC batch; image `i` is dataset image `first_index + i`. The result has the
    /// batch's shape, dtype and device.
    pub fn augment(&self, images: &Tensor, first_index: u64) -> Result<Tensor> {
        self.check()?;
        let &[_, height, width, channels] = images.dims() else {
            return Err(NnError::Data(format!(
                "ImageAugmenter: expected an NHWC batch of rank 4, got shape {}",
                images.shape()
            )));
        };
        let image_len = height * width * channels;
        if image_len == 0 {
            return Ok(images.detach());
        }
        let host = images.to_dtype(DType::F32)?.to_vec::<f32>()?;
        let mut out = vec![0.0; host.len()];
        for (i, (src, dst)) in host.chunks_exact(image_len).zip(out.chunks_exact_mut(image_len)).enumerate() {
            let src = HostImage { pixels: src, height, width, channels };
            self.augment_image(&src, first_index.wrapping_add(i as u64), dst);
        }
        Ok(Tensor::from_vec(out, images.shape(), images.device())?.to_dtype(images.dtype())?)
    }

    /// Writes image `index` of the dataset, `src`, augmented into `out` (of `src`'s size), for
    /// checked settings.
    pub(crate) fn augment_image(&self, src: &HostImage<'_>, index: u64, out: &mut [f32]) {
        self.draw(index, src.height, src.width).apply_into(src, self.fill_mode, out);
    }
}
