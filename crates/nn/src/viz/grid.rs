//! A grid of small greyscale images with optional captions: convolution filters, feature maps,
//! reconstructions, or test images labelled with what the model predicted.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use tensor_core::Tensor;

use super::canvas::{Canvas, drawing_error};
use super::font;
use crate::{NnError, Result};

/// How a tile's values map to grey levels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scale {
    /// Each tile's own minimum is black and maximum white (filters, feature maps); a constant
    /// tile is mid-grey.
    PerImage,
    /// `low` is black and `high` white for every tile, values outside clamped (pixels in [0, 1]).
    Range(f64, f64),
}

/// Text under a tile, in a colour (green for a right prediction and red for a wrong one, say).
#[derive(Clone, Debug, PartialEq)]
pub struct Caption {
    pub text: String,
    pub rgb: [u8; 3],
}

impl Caption {
    /// A caption in the colours' default, black.
    pub fn plain(text: impl Into<String>) -> Caption {
        Caption { text: text.into(), rgb: [0, 0, 0] }
    }

    pub fn colored(text: impl Into<String>, rgb: [u8; 3]) -> Caption {
        Caption { text: text.into(), rgb }
    }
}

impl From<String> for Caption {
    fn from(text: String) -> Caption {
        Caption::plain(text)
    }
}

impl From<&str> for Caption {
    fn from(text: &str) -> Caption {
        Caption::plain(text)
    }
}

struct Tile {
    rows: usize,
    cols: usize,
    grey: Vec<u8>,
    caption: Option<Caption>,
}

/// Images laid out `columns` to a row, each enlarged `scale` times (nearest neighbour).
pub struct ImageGrid {
    columns: usize,
    scale: u32,
    title: Option<String>,
    tiles: Vec<Tile>,
}

const PADDING: u32 = 6;
const CAPTION_HEIGHT: u32 = 20;
const TITLE_HEIGHT: u32 = 24;

impl ImageGrid {
    /// An empty grid, `columns` tiles wide, tiles enlarged 4 times.
    pub fn new(columns: usize) -> ImageGrid {
        ImageGrid { columns: columns.max(1), scale: 4, title: None, tiles: Vec::new() }
    }

    /// Each source pixel becomes `scale` x `scale` pixels.
    pub fn scale(mut self, scale: u32) -> ImageGrid {
        self.scale = scale.max(1);
        self
    }

    /// A line of text above the grid.
    pub fn title(mut self, title: impl Into<String>) -> ImageGrid {
        self.title = Some(title.into());
        self
    }

    /// The number of tiles so far.
    pub fn len(&self) -> usize {
        self.tiles.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tiles.is_empty()
    }

    /// Appends a `rows` x `cols` image given row-major.
    pub fn push(
        &mut self,
        values: &[f32],
        rows: usize,
        cols: usize,
        scale: Scale,
        caption: Option<Caption>,
    ) -> Result<()> {
        if values.len() != rows * cols || values.is_empty() {
            return Err(NnError::Data(format!(
                "an image tile of {rows}x{cols} needs {} values, got {}",
                rows * cols,
                values.len()
            )));
        }
        let (low, high) = match scale {
            Scale::Range(low, high) => (low, high),
            Scale::PerImage => values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(f64::from(v)), hi.max(f64::from(v)))
            }),
        };
        let grey = values
            .iter()
            .map(|&v| {
                let unit = if high > low { (f64::from(v) - low) / (high - low) } else { 0.5 };
                (unit.clamp(0.0, 1.0) * 255.0).round() as u8
            })
            .collect();
        self.tiles.push(Tile { rows, cols, grey, caption });
        Ok(())
    }

    /// A grid of the 2-D slices of a convolution kernel shaped `[kh, kw, in, out]` (Keras's
    /// layout): one row per output filter holding its `in` input-channel slices, or, for a
    /// single input channel, the `out` filters `columns` to a row. Each slice is scaled on its
    /// own, so weak and strong filters are equally visible.
    pub fn from_conv_kernel(kernel: &Tensor, columns: usize) -> Result<ImageGrid> {
        let &[kh, kw, inputs, outputs] = kernel.dims() else {
            return Err(NnError::Data(format!(
                "a convolution kernel has shape [height, width, in, out], got {:?}",
                kernel.dims()
            )));
        };
        let values = kernel.to_vec::<f32>()?;
        let mut grid = ImageGrid::new(if inputs == 1 { columns } else { inputs });
        for out in 0..outputs {
            for channel in 0..inputs {
                let slice: Vec<f32> =
                    (0..kh * kw).map(|p| values[(p * inputs + channel) * outputs + out]).collect();
                grid.push(&slice, kh, kw, Scale::PerImage, None)?;
            }
        }
        Ok(grid.scale(((48 / kh.max(kw)).max(1)) as u32))
    }

    /// A grid of the channels of one feature map shaped `[height, width, channels]` or
    /// `[1, height, width, channels]` (a layer's output for one image), each scaled on its own.
    pub fn from_feature_maps(activations: &Tensor, columns: usize) -> Result<ImageGrid> {
        let (h, w, channels) = match *activations.dims() {
            [h, w, c] | [1, h, w, c] => (h, w, c),
            ref other => {
                return Err(NnError::Data(format!(
                    "feature maps have shape [height, width, channels] or [1, height, width, channels], \
                     got {other:?}"
                )));
            }
        };
        let values = activations.to_vec::<f32>()?;
        let mut grid = ImageGrid::new(columns);
        for c in 0..channels {
            let map: Vec<f32> = (0..h * w).map(|p| values[p * channels + c]).collect();
            grid.push(&map, h, w, Scale::PerImage, None)?;
        }
        Ok(grid)
    }

    /// Draws the grid and writes it to `path` as a PNG file.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        if self.tiles.is_empty() {
            return Err(NnError::Data(format!("{}: an image grid needs at least one tile", path.display())));
        }
        let text = font::available();
        let cell_w = self.tiles.iter().map(|t| t.cols as u32 * self.scale).max().unwrap_or(0);
        let tile_h = self.tiles.iter().map(|t| t.rows as u32 * self.scale).max().unwrap_or(0);
        let captioned = text && self.tiles.iter().any(|t| t.caption.is_some());
        let cell_h = tile_h + if captioned { CAPTION_HEIGHT } else { 0 };
        let title_h = if text && self.title.is_some() { TITLE_HEIGHT } else { 0 };
        let columns = self.columns.min(self.tiles.len()) as u32;
        let rows = self.tiles.len().div_ceil(self.columns) as u32;
        // Captions may be wider than their tile; widen the cells rather than clip the text
        // (about 7 px a character at the caption size).
        let widest_caption =
            self.tiles.iter().filter_map(|t| t.caption.as_ref()).map(|c| c.text.chars().count()).max();
        let cell_w = match widest_caption {
            Some(chars) if captioned => cell_w.max(chars as u32 * 7 + 4),
            _ => cell_w,
        };
        let mut canvas = Canvas::new(
            PADDING + columns * (cell_w + PADDING),
            title_h + PADDING + rows * (cell_h + PADDING),
        );
        let origin = |i: usize| {
            let (col, row) = ((i % self.columns) as u32, (i / self.columns) as u32);
            (PADDING + col * (cell_w + PADDING), title_h + PADDING + row * (cell_h + PADDING))
        };
        for (i, tile) in self.tiles.iter().enumerate() {
            let (x0, y0) = origin(i);
            let x0 = x0 + (cell_w - tile.cols as u32 * self.scale) / 2;
            for y in 0..tile.rows as u32 * self.scale {
                for x in 0..tile.cols as u32 * self.scale {
                    let grey = tile.grey[(y / self.scale) as usize * tile.cols + (x / self.scale) as usize];
                    let at = (((y0 + y) * canvas.width + x0 + x) * 3) as usize;
                    canvas.pixels[at..at + 3].fill(grey);
                }
            }
        }
        if text {
            let area = canvas.area();
            let centred = Pos::new(HPos::Center, VPos::Top);
            if let Some(title) = &self.title {
                let style = TextStyle::from((font::FAMILY, 16).into_font()).pos(centred);
                let x = area.dim_in_pixel().0 as i32 / 2;
                area.draw_text(title, &style, (x, 8)).map_err(|e| drawing_error(path, e))?;
            }
            for (i, tile) in self.tiles.iter().enumerate() {
                let Some(caption) = &tile.caption else { continue };
                let (x0, y0) = origin(i);
                let [r, g, b] = caption.rgb;
                let color = RGBColor(r, g, b);
                let style = TextStyle::from((font::FAMILY, 12).into_font()).color(&color).pos(centred);
                // plotters' glyphs reach about a third of the text size above the anchor: keep
                // capitals clear of the tile.
                let at = ((x0 + cell_w / 2) as i32, (y0 + tile_h + 6) as i32);
                area.draw_text(&caption.text, &style, at).map_err(|e| drawing_error(path, e))?;
            }
            area.present().map_err(|e| drawing_error(path, e))?;
        }
        canvas.save_png(path)
    }
}
