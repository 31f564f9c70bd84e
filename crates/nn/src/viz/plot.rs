//! Line plots: training curves per epoch, or any quantity along an axis (per-layer gradient
//! norms, say), one or more panels side by side in one PNG file.

use std::path::Path;

use plotters::coord::ranged1d::{AsRangedCoord, Ranged, ValueFormatter};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::canvas::{Canvas, drawing_error};
use super::font;
use crate::{History, NnError, Result};

/// One panel: named series of (x, y) points on shared axes.
#[derive(Clone, Debug, PartialEq)]
pub struct LinePlot {
    title: String,
    x_label: String,
    y_label: String,
    log_y: bool,
    series: Vec<(String, Vec<(f64, f64)>)>,
}

const PANEL_WIDTH: u32 = 560;
/// The heights of the title's row and of the legend's row under it.
const TITLE_ROW: u32 = 26;
const LEGEND_ROW: u32 = 22;
const PANEL_HEIGHT: u32 = 400;
const COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

impl LinePlot {
    pub fn new(title: impl Into<String>) -> LinePlot {
        LinePlot {
            title: title.into(),
            x_label: String::new(),
            y_label: String::new(),
            log_y: false,
            series: Vec::new(),
        }
    }

    pub fn x_label(mut self, label: impl Into<String>) -> LinePlot {
        self.x_label = label.into();
        self
    }

    pub fn y_label(mut self, label: impl Into<String>) -> LinePlot {
        self.y_label = label.into();
        self
    }

    /// A logarithmic y axis, for quantities spanning orders of magnitude (gradient norms).
    /// Points with y ≤ 0 cannot be shown on it and are left out.
    pub fn log_y(mut self, log_y: bool) -> LinePlot {
        self.log_y = log_y;
        self
    }

    /// Adds a line through `points`, in order, named in the legend.
    pub fn add_series(&mut self, name: impl Into<String>, points: impl IntoIterator<Item = (f64, f64)>) {
        self.series.push((name.into(), points.into_iter().collect()));
    }

    /// The title, centred, and under it the series' names in one row, each after a stroke of
    /// its colour.
    fn draw_title_and_legend(
        &self,
        area: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    ) -> DrawResult<(), BitMapBackend<'static>> {
        let title = TextStyle::from((font::FAMILY, 20).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
        area.draw_text(&self.title, &title, (area.dim_in_pixel().0 as i32 / 2, 12))?;
        let style = TextStyle::from((font::FAMILY, 13).into_font());
        let y = (12 + TITLE_ROW + LEGEND_ROW / 2) as i32;
        let mut x = 80;
        for (i, (name, _)) in self.series.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            area.draw(&PathElement::new([(x, y), (x + 18, y)], color.stroke_width(2)))?;
            area.draw_text(name, &style, (x + 24, y - 6))?;
            let (width, _) = area.estimate_text_size(name, &style)?;
            x += 24 + width as i32 + 20;
        }
        Ok(())
    }

    /// Whether the axes can show `(x, y)`: finite, and positive on a log axis.
    fn shows(&self, (x, y): (f64, f64)) -> bool {
        x.is_finite() && y.is_finite() && (!self.log_y || y > 0.0)
    }

    /// Every point of every series that the axes can show.
    fn shown_points(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        self.series.iter().flat_map(|(_, points)| points.iter().copied()).filter(|&p| self.shows(p))
    }

    fn draw(&self, area: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>, path: &Path) -> Result<()> {
        let (x_low, x_high) = bounds(self.shown_points().map(|(x, _)| x)).ok_or_else(|| {
            NnError::Data(format!("{}: plot {:?} has no points to draw", path.display(), self.title))
        })?;
        let (y_low, y_high) = bounds(self.shown_points().map(|(_, y)| y)).unwrap_or((0.0, 1.0));
        let x_range = padded(x_low, x_high, false);
        // Epochs and layer numbers are counts: give them whole-number ticks, never 1.5.
        let x_ticks = self
            .shown_points()
            .all(|(x, _)| x.fract() == 0.0)
            .then(|| ((x_high - x_low) as usize + 1).min(12));
        if self.log_y {
            let (low, high) = padded(y_low, y_high, true);
            self.draw_on(area, x_range, x_ticks, (low..high).log_scale(), path)
        } else {
            let (low, high) = padded(y_low, y_high, false);
            self.draw_on(area, x_range, x_ticks, low..high, path)
        }
    }

    fn draw_on<Y>(
        &self,
        area: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
        (x_low, x_high): (f64, f64),
        whole_x_ticks: Option<usize>,
        y_range: Y,
        path: &Path,
    ) -> Result<()>
    where
        Y: AsRangedCoord<Value = f64>,
        Y::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
    {
        let failed = |e| drawing_error(path, e);
        let text = font::available();
        let mut builder = ChartBuilder::on(area);
        builder.margin(12);
        if text {
            // The title and a legend row above the plot, drawn by hand so the legend hides no line.
            builder.margin_top(12 + TITLE_ROW + LEGEND_ROW).x_label_area_size(40).y_label_area_size(64);
        }
        let mut chart = builder.build_cartesian_2d(x_low..x_high, y_range).map_err(failed)?;
        let mut mesh = chart.configure_mesh();
        let whole = |x: &f64| format!("{x:.0}");
        if text {
            mesh.x_desc(&self.x_label).y_desc(&self.y_label).label_style((font::FAMILY, 13));
            if let Some(ticks) = whole_x_ticks {
                mesh.x_labels(ticks).x_label_formatter(&whole);
            }
            if self.log_y {
                mesh.y_label_formatter(&short_scientific);
            }
        } else {
            mesh.x_labels(0).y_labels(0);
        }
        mesh.light_line_style(RGBColor(235, 235, 235)).draw().map_err(failed)?;
        for (i, (_, points)) in self.series.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            let shown: Vec<(f64, f64)> = points.iter().copied().filter(|&p| self.shows(p)).collect();
            let line = LineSeries::new(shown.iter().copied(), color.stroke_width(2));
            chart.draw_series(line).map_err(failed)?;
            chart.draw_series(shown.iter().map(|&p| Circle::new(p, 3, color.filled()))).map_err(failed)?;
        }
        if text {
            self.draw_title_and_legend(area).map_err(failed)?;
        }
        Ok(())
    }
}

/// A log axis's tick as one significant digit, "1e-4", rather than "9.999999999e-5".
fn short_scientific(value: &f64) -> String {
    format!("{value:.0e}")
}

/// The smallest and largest of `values`, if there are any.
fn bounds(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values.fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((low, high)) => Some((low.min(v), high.max(v))),
    })
}

/// An axis range around [low, high] with a margin, never empty: a single value gets a band
/// around it. On a log axis the margin is a factor.
fn padded(low: f64, high: f64, log: bool) -> (f64, f64) {
    if log {
        let (low, high) = if high > low { (low, high) } else { (low / 2.0, high * 2.0) };
        (low / 1.25, high * 1.25)
    } else {
        let span = if high > low { high - low } else { low.abs().max(1.0) };
        (low - 0.05 * span, high + 0.05 * span)
    }
}

/// Draws `plots` side by side and writes them to `path` as one PNG file.
pub fn save_plots(plots: &[LinePlot], path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    if plots.is_empty() {
        return Err(NnError::Data(format!("{}: nothing to plot", path.display())));
    }
    let mut canvas = Canvas::new(PANEL_WIDTH * plots.len() as u32, PANEL_HEIGHT);
    {
        let area = canvas.area();
        for (plot, panel) in plots.iter().zip(area.split_evenly((1, plots.len()))) {
            plot.draw(&panel, path)?;
        }
        area.present().map_err(|e| drawing_error(path, e))?;
    }
    canvas.save_png(path)
}

/// One panel per quantity `fit` logged ("loss", "accuracy", ...), each with its validation
/// counterpart ("val_loss", ...) when there is one, against the epoch (counted from 1).
pub fn history_plots(history: &History) -> Vec<LinePlot> {
    let epochs: Vec<f64> = history.epochs().iter().map(|&e| e as f64 + 1.0).collect();
    history
        .keys()
        .filter(|key| !key.starts_with("val_"))
        .map(|key| {
            let mut plot = LinePlot::new(key).x_label("epoch").y_label(key);
            for (name, label) in [(key.to_string(), "training"), (format!("val_{key}"), "validation")] {
                if let Some(values) = history.get(&name) {
                    plot.add_series(label, epochs.iter().copied().zip(values.iter().copied()));
                }
            }
            plot
        })
        .collect()
}
