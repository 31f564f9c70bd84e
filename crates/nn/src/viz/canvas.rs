//! An RGB pixel buffer that plotters draws into and that is saved as a PNG file.

use std::path::Path;

use image::ImageEncoder;
use plotters::prelude::*;

use crate::{NnError, Result};

/// A white `width` x `height` picture in memory.
pub(super) struct Canvas {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

impl Canvas {
    pub fn new(width: u32, height: u32) -> Canvas {
        Canvas { width, height, pixels: vec![255; width as usize * height as usize * 3] }
    }

    /// A plotters drawing area over the whole picture.
    pub fn area(&mut self) -> DrawingArea<BitMapBackend<'_>, plotters::coord::Shift> {
        BitMapBackend::with_buffer(&mut self.pixels, (self.width, self.height)).into_drawing_area()
    }

    /// Encodes the picture as PNG and writes it atomically to `path`.
    pub fn save_png(&self, path: &Path) -> Result<()> {
        let mut png = Vec::new();
        image::codecs::png::PngEncoder::new(&mut png)
            .write_image(&self.pixels, self.width, self.height, image::ExtendedColorType::Rgb8)
            .map_err(|e| NnError::Io { path: path.display().to_string(), detail: e.to_string() })?;
        crate::io::write_atomically(path, &png)
    }
}

/// A plotters drawing failure as an nn error naming the picture.
pub(super) fn drawing_error(path: &Path, err: impl std::fmt::Display) -> NnError {
    NnError::Io { path: path.display().to_string(), detail: format!("drawing failed: {err}") }
}
