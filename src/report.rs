//! The main job's report folder: the training curves, the first convolution's filters, and test
//! images labelled with what the model predicted, next to a Markdown summary that shows them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use nn::data::{FashionMnist, LabelledImages};
use nn::viz::{Caption, ImageGrid, Scale, history_plots, save_plots};
use nn::{Model, NnError, Result};
use tensor_core::Device;

use crate::memory::describe;
use crate::train::TrainResult;

/// How many test images the predictions picture shows.
const SHOWN_PREDICTIONS: usize = 32;
const RIGHT: [u8; 3] = [0, 120, 0];
const WRONG: [u8; 3] = [200, 0, 0];

/// Writes `curves.png`, `filters.png`, `predictions.png` and `report.md` into `dir` and returns
/// their paths. `test` are the test images the model was evaluated on. A run that trained no
/// epoch has no curves to draw: its report says so, and has no `curves.png`.
pub fn write_report(
    dir: &Path,
    model: &Model,
    result: &TrainResult,
    test: &LabelledImages,
    device: &Device,
) -> Result<Vec<PathBuf>> {
    let curves = dir.join("curves.png");
    if result.history.is_empty() {
        // A picture of an earlier run's curves must not pass for this one's.
        remove_if_present(&curves)?;
    } else {
        save_plots(&history_plots(&result.history), &curves)?;
    }

    let filters = dir.join("filters.png");
    let first_kernel = model
        .layers()
        .into_iter()
        .find(|layer| layer.class_name() == "Conv2D")
        .and_then(|layer| layer.weights().into_iter().find(|w| w.name() == "kernel"))
        .ok_or_else(|| NnError::Usage("the report's filter picture needs a Conv2D layer".into()))?;
    ImageGrid::from_conv_kernel(first_kernel.value(), 8)?
        .title("first layer's 3x3 filters")
        .save(&filters)?;

    let predictions = dir.join("predictions.png");
    predictions_grid(model, test, device)?.save(&predictions)?;

    let summary = dir.join("report.md");
    nn::io::write_atomically(&summary, markdown(result, device).as_bytes())?;
    let pictures = [curves, filters, predictions].into_iter().filter(|p| p.exists());
    Ok(std::iter::once(summary).chain(pictures).collect())
}

fn remove_if_present(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(NnError::Io { path: path.display().to_string(), detail: e.to_string() })
        }
        _ => Ok(()),
    }
}

/// The first test images, each captioned with the predicted class: green when right, red with
/// the true class when wrong.
fn predictions_grid(model: &Model, test: &LabelledImages, device: &Device) -> Result<ImageGrid> {
    let shown = test.first(SHOWN_PREDICTIONS);
    let (x, _) = shown.to_scaled_tensors(device)?;
    let probabilities = model.predict(&x, SHOWN_PREDICTIONS)?.to_vec::<f32>()?;
    let classes = FashionMnist::CLASS_NAMES.len();
    let (rows, cols) = (shown.images.rows, shown.images.cols);
    let mut grid = ImageGrid::new(8).title("test images: predicted class (true class when wrong)");
    for (i, (row, &label)) in probabilities.chunks(classes).zip(&shown.labels).enumerate() {
        let predicted = argmax(row);
        let name = |class: usize| FashionMnist::CLASS_NAMES.get(class).copied().unwrap_or("?");
        let caption = if predicted == usize::from(label) {
            Caption::colored(name(predicted), RIGHT)
        } else {
            Caption::colored(format!("{} ({})", name(predicted), name(label.into())), WRONG)
        };
        let pixels: Vec<f32> = shown.images.pixels[i * rows * cols..(i + 1) * rows * cols]
            .iter()
            .map(|&p| f32::from(p))
            .collect();
        grid.push(&pixels, rows, cols, Scale::Range(0.0, 255.0), Some(caption))?;
    }
    Ok(grid)
}

fn argmax(values: &[f32]) -> usize {
    values.iter().enumerate().fold(0, |best, (i, &v)| if v > values[best] { i } else { best })
}

/// The run's figures and per-epoch logs as Markdown, with the pictures inline.
fn markdown(result: &TrainResult, device: &Device) -> String {
    let mut md = String::from("# Fashion-MNIST: the reference CNN\n\n");
    let _ = writeln!(md, "| | |\n|---|---|");
    let _ = writeln!(md, "| device | {device} |");
    let _ = writeln!(md, "| test accuracy | {:.4} |", result.test_accuracy);
    let _ = writeln!(md, "| test loss | {:.4} |", result.test_loss);
    if result.history.is_empty() {
        let _ = writeln!(md, "| training | none: no epoch was trained (--epochs 0) |");
    } else {
        let _ = writeln!(md, "| training time | {:.1} s |", result.train_seconds);
        let _ = writeln!(md, "| training throughput | {:.0} samples/s |", result.samples_per_second);
    }
    if let Some(epoch) = result.resumed_after_epoch {
        let _ = writeln!(md, "| resumed | from the checkpoint of epoch {epoch} |");
    }
    for skipped in &result.skipped_checkpoints {
        let _ = writeln!(md, "| checkpoint passed over | {skipped} |");
    }
    let _ = writeln!(md, "| model | {} |\n", file_name(&result.model_path));

    if result.history.is_empty() {
        md.push_str("No epoch was trained, so there are no training curves.\n\n");
    } else {
        let keys: Vec<&str> = result.history.keys().collect();
        let _ = writeln!(md, "| epoch | {} |", keys.join(" | "));
        let _ = writeln!(md, "|---|{}", "---|".repeat(keys.len()));
        for (row, epoch) in result.history.epochs().iter().enumerate() {
            let values: Vec<String> = keys
                .iter()
                .map(|key| {
                    result.history.get(key).and_then(|v| v.get(row)).map_or("".into(), |v| format!("{v:.4}"))
                })
                .collect();
            let _ = writeln!(md, "| {} | {} |", epoch + 1, values.join(" | "));
        }
        md.push_str("\n![loss and accuracy per epoch](curves.png)\n\n");
    }
    if !result.memory.is_empty() {
        md.push_str("Memory after each epoch this process trained:\n\n| epoch | memory |\n|---|---|\n");
        for sample in &result.memory {
            let _ = writeln!(md, "| {} | {} |", sample.epoch + 1, describe(sample));
        }
        md.push('\n');
    }
    md.push_str("![the first convolution's filters](filters.png)\n\n");
    md.push_str("![test images with predicted labels](predictions.png)\n");
    md
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}
