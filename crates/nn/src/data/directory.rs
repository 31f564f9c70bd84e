//! Which images a folder holds and what each is labelled, as Keras's directory readers see
//! them: one sub-folder per class (labels in sorted folder-name order) or a flat folder of
//! unlabelled images, and the validation split each Keras reader takes.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::{file_error, io_error, permutation};
use crate::{NnError, Result};

/// The file extensions read as images, Keras's allow-list (compared without regard to case).
pub(crate) const IMAGE_EXTENSIONS: [&str; 5] = ["bmp", "gif", "jpeg", "jpg", "png"];

/// Where labels come from (Keras's `labels`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Labels {
    /// From the class sub-folders: class `i` is the `i`-th folder name in sorted order.
    /// Keras's default.
    #[default]
    Inferred,
    /// None: the images of the folder and its sub-folders, unlabelled (for `predict`).
    None,
}

/// Which part of a `validation_split` to read (Keras's `subset`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subset {
    Training,
    Validation,
}

/// How a validation split is taken; each Keras reader has its own rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SplitRule {
    /// `image_dataset_from_directory`: all files shuffled by the seed (when shuffling), then
    /// the last `int(split * n)` validate and the rest train.
    ShuffledTail,
    /// `flow_from_directory`: in each class, the first `int(split * n_class)` files (sorted)
    /// validate and the rest train.
    PerClassHead,
}

/// The image files of a folder with their labels.
#[derive(Clone, Debug)]
pub(crate) struct Listing {
    pub(crate) files: Vec<PathBuf>,
    /// The class index of each file; `None` for a flat folder.
    pub(crate) labels: Option<Vec<usize>>,
    /// The class folder names, sorted; empty for a flat folder.
    pub(crate) class_names: Vec<String>,
}

impl Listing {
    /// Lists `dir`: its class sub-folders' images (searched recursively, in sorted order,
    /// other files ignored) for [`Labels::Inferred`], or every image under it for
    /// [`Labels::None`]. Folders whose names start with a dot are passed over, as Keras does.
    pub(crate) fn read(dir: &Path, labels: Labels) -> Result<Listing> {
        let mut files = Vec::new();
        // The top folder and every class folder count as visited from the start, so that a
        // link from one class into another (or up to the top) does not read images under the
        // wrong label.
        let mut visited = HashSet::from([canonical(dir)?]);
        let listing = match labels {
            Labels::None => {
                collect_images(dir, &mut visited, &mut files)?;
                Listing { files, labels: None, class_names: Vec::new() }
            }
            Labels::Inferred => {
                let class_dirs: Vec<PathBuf> =
                    sorted_entries(dir)?.into_iter().filter(|p| p.is_dir() && !is_hidden(p)).collect();
                if class_dirs.is_empty() {
                    return Err(file_error(
                        dir,
                        "no class sub-folders; expected one sub-folder of images per class \
                         (or labels None to read a flat folder of images)",
                    ));
                }
                for class_dir in &class_dirs {
                    visited.insert(canonical(class_dir)?);
                }
                let mut labels = Vec::new();
                for (label, class_dir) in class_dirs.iter().enumerate() {
                    collect_images(class_dir, &mut visited, &mut files)?;
                    labels.resize(files.len(), label);
                }
                let class_names = class_dirs.iter().map(|d| file_name(d)).collect();
                Listing { files, labels: Some(labels), class_names }
            }
        };
        if listing.files.is_empty() {
            let extensions = IMAGE_EXTENSIONS.map(|e| format!(".{e}")).join(", ");
            let detail = match listing.class_names.len() {
                0 => format!("no images ({extensions})"),
                n => format!(
                    "no images ({extensions}) in its {n} class sub-folders ({})",
                    listing.class_names.join(", ")
                ),
            };
            return Err(file_error(dir, detail));
        }
        Ok(listing)
    }

    pub(crate) fn len(&self) -> usize {
        self.files.len()
    }

    /// The files at `indices`, in that order.
    fn select(&self, indices: impl Iterator<Item = usize>) -> Listing {
        let indices: Vec<usize> = indices.collect();
        Listing {
            files: indices.iter().map(|&i| self.files[i].clone()).collect(),
            labels: self.labels.as_ref().map(|l| indices.iter().map(|&i| l[i]).collect()),
            class_names: self.class_names.clone(),
        }
    }

    /// The `subset` of a `fraction` held out for validation by `rule`; `shuffle` and `seed` are
    /// the reader's (the shuffled-tail rule shuffles before it splits). `what` names the reader
    /// in errors. Each part must hold at least one file.
    pub(crate) fn split(
        &self,
        fraction: f64,
        subset: Subset,
        rule: SplitRule,
        (shuffle, seed): (bool, u64),
        what: &str,
    ) -> Result<Listing> {
        let parts: Vec<(usize, usize)> = match (rule, &self.labels) {
            (SplitRule::PerClassHead, Some(labels)) => class_ranges(labels),
            _ => vec![(0, self.len())],
        };
        let order: Vec<usize> = match rule {
            SplitRule::ShuffledTail if shuffle => permutation(self.len(), seed),
            _ => (0..self.len()).collect(),
        };
        let mut chosen = Vec::new();
        for (start, end) in parts {
            let n = end - start;
            // Python's int() of the product: truncation toward zero, as Keras computes it.
            let held_out = (fraction * n as f64) as usize;
            let (validation, training) = match rule {
                SplitRule::ShuffledTail => (n - held_out..n, 0..n - held_out),
                SplitRule::PerClassHead => (0..held_out, held_out..n),
            };
            chosen.extend(
                match subset {
                    Subset::Training => training,
                    Subset::Validation => validation,
                }
                .map(|i| order[start + i]),
            );
        }
        let part = self.select(chosen.into_iter());
        let held_out = match subset {
            Subset::Training => self.len() - part.len(),
            Subset::Validation => part.len(),
        };
        if held_out == 0 || held_out == self.len() {
            return Err(NnError::Data(format!(
                "{what}: validation_split={fraction} of {} images holds out {held_out} of them; both the training \
                 and the validation subset need at least one image",
                self.len()
            )));
        }
        Ok(part)
    }
}

/// The `(start, end)` of each run of equal labels (each class's files are contiguous).
fn class_ranges(labels: &[usize]) -> Vec<(usize, usize)> {
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    for (i, label) in labels.iter().enumerate() {
        match ranges.last_mut() {
            Some((start, end)) if labels[*start] == *label => *end = i + 1,
            _ => ranges.push((i, i + 1)),
        }
    }
    ranges
}

/// The entries of `dir`, sorted by path.
fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|e| io_error(dir, e))?;
    let mut paths = entries
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(|e| io_error(dir, e))?;
    paths.sort();
    Ok(paths)
}

/// Appends the image files under `dir` (recursively, sorted) to `files`. A sub-folder already in
/// `visited` (by its canonical path) is skipped, so that a symbolic link back up the tree (a
/// cycle) or to a folder read already does not read its images again.
fn collect_images(dir: &Path, visited: &mut HashSet<PathBuf>, files: &mut Vec<PathBuf>) -> Result<()> {
    for path in sorted_entries(dir)? {
        if path.is_dir() {
            if visited.insert(canonical(&path)?) {
                collect_images(&path, visited, files)?;
            }
        } else if has_image_extension(&path) {
            files.push(path);
        }
    }
    Ok(())
}

/// The path of `dir` with every link resolved: one name for one folder.
fn canonical(dir: &Path) -> Result<PathBuf> {
    dir.canonicalize().map_err(|e| io_error(dir, e))
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap_or_default().to_string_lossy().into_owned()
}

fn is_hidden(path: &Path) -> bool {
    file_name(path).starts_with('.')
}

fn has_image_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|known| e.eq_ignore_ascii_case(known)))
}
