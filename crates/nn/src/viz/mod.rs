//! Pictures of training and of what a model learned, written as PNG files (atomically, like every
//! file tessera writes): line plots of per-epoch curves or per-layer figures, and grids of small
//! greyscale images — convolution filters, feature maps, inputs with their predicted labels.
//!
//! Text (titles, axis labels, captions) is drawn with DejaVu Sans from Debian's
//! `fonts-dejavu-core` package, or the TrueType file `TESSERA_FONT` names. Without a font the
//! pictures are still drawn, without their text, and a warning says what to install.
//!
//! ```no_run
//! use nn::viz::{ImageGrid, LinePlot, Scale};
//!
//! # fn main() -> nn::Result<()> {
//! let mut plot = LinePlot::new("loss").x_label("epoch");
//! plot.add_series("loss", [(1.0, 0.52), (2.0, 0.34), (3.0, 0.29)]);
//! nn::viz::save_plots(&[plot], "curves.png")?;
//!
//! let mut grid = ImageGrid::new(8);
//! grid.push(&[0.0, 0.5, 1.0, 0.5], 2, 2, Scale::Range(0.0, 1.0), Some("a tile".into()))?;
//! grid.save("tiles.png")?;
//! # Ok(())
//! # }
//! ```

mod canvas;
mod font;
mod grid;
mod plot;

pub use grid::{Caption, ImageGrid, Scale};
pub use plot::{LinePlot, history_plots, save_plots};
