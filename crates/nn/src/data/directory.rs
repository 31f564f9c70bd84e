//! Which images a folder holds and what each is labelled, as Keras's directory readers see
//! them: one sub-folder per class (labels in sorted folder-name order) or a flat folder of
//! unlabelled images, and the validation split each Keras reader takes.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::numpy_shuffle::numpy_shuffled;
use super::{file_error, io_error};
use crate::{NnError, Result};

/// How a Keras reader lists a folder; its two entry points differ.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ListingRules {
    /// The file extensions read as images, compared without regard to case.
    pub(crate) extensions: &'static [&'static str],
    /// Whether class folders whose names start with a dot are passed over
    /// (`image_dataset_from_directory` does; `flow_from_directory` makes them classes).
    pub(crate) skip_hidden_classes: bool,
}

/// Which class folders to read, and how to walk them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ListingOptions<'a> {
    pub(crate) labels: Labels,
    /// The classes in the order given (Keras's `class_names` / `classes`); `None`: every class
    /// folder, sorted.
    pub(crate) class_names: Option<&'a [String]>,
    /// Whether to descend into sub-folders that are symbolic links (Keras's `follow_links`).
    pub(crate) follow_links: bool,
}

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
    /// `image_dataset_from_directory`: all files shuffled by the seed (when shuffling) with
    /// numpy's `RandomState(seed).shuffle`, as Keras does, then the last `int(split * n)`
    /// validate and the rest train.
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
    /// The class folder names in class order; empty for a flat folder.
    pub(crate) class_names: Vec<String>,
}

impl Listing {
    /// Lists `dir` for a reader by `rules`: its class sub-folders' images (searched
    /// recursively in Keras's order, other files ignored) for [`Labels::Inferred`], or every
    /// image under it for [`Labels::None`]. `what` names the reader in errors.
    pub(crate) fn read(
        dir: &Path,
        options: ListingOptions<'_>,
        rules: ListingRules,
        what: &str,
    ) -> Result<Listing> {
        let mut files = Vec::new();
        // The top folder and every class folder count as visited from the start, so that a
        // followed link from one class into another (or up to the top) does not read images
        // under the wrong label.
        let mut visited = HashSet::from([canonical(dir)?]);
        let walk = Walk { extensions: rules.extensions, follow_links: options.follow_links };
        let listing = match options.labels {
            Labels::None => {
                if options.class_names.is_some() {
                    return Err(NnError::Usage(format!(
                        "{what}: class_names name class folders, so they need labels Inferred, not None"
                    )));
                }
                walk.collect_images(dir, &mut visited, &mut files)?;
                Listing { files, labels: None, class_names: Vec::new() }
            }
            Labels::Inferred => {
                let found: Vec<PathBuf> = sorted_entries(dir)?
                    .into_iter()
                    .filter(|p| p.is_dir() && !(rules.skip_hidden_classes && is_hidden(p)))
                    .collect();
                let class_dirs = match options.class_names {
                    Some(names) => chosen_classes(dir, &found, names, what)?,
                    None => found,
                };
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
                    walk.collect_images(class_dir, &mut visited, &mut files)?;
                    labels.resize(files.len(), label);
                }
                let class_names = class_dirs.iter().map(|d| file_name(d)).collect();
                Listing { files, labels: Some(labels), class_names }
            }
        };
        if listing.files.is_empty() {
            let extensions = rules.extensions.iter().map(|e| format!(".{e}")).collect::<Vec<_>>().join(", ");
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
            SplitRule::ShuffledTail if shuffle => {
                let seed = u32::try_from(seed).map_err(|_| {
                    NnError::Usage(format!(
                        "{what}: seed {seed} is too large; the validation split shuffles as Keras's does, with \
                         numpy's RandomState, which takes seeds from 0 to 2^32 - 1"
                    ))
                })?;
                numpy_shuffled(self.len(), seed)
            }
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

/// The class folders named by `names`, in that order; each must be one of the `found` ones.
fn chosen_classes(dir: &Path, found: &[PathBuf], names: &[String], what: &str) -> Result<Vec<PathBuf>> {
    let found_names: Vec<String> = found.iter().map(|p| file_name(p)).collect();
    let mut chosen = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        if names[..i].contains(name) {
            return Err(NnError::Usage(format!("{what}: class_names lists {name:?} twice")));
        }
        let Some(position) = found_names.iter().position(|found| found == name) else {
            return Err(file_error(
                dir,
                format!(
                    "{what}: class_names lists {name:?}, which is not one of its class sub-folders ({})",
                    found_names.join(", ")
                ),
            ));
        };
        chosen.push(found[position].clone());
    }
    Ok(chosen)
}

/// How image files are gathered under a folder, as Keras walks it.
struct Walk {
    extensions: &'static [&'static str],
    follow_links: bool,
}

impl Walk {
    /// Appends the image files under `dir` to `files` in Keras's order: Python's
    /// `sorted(os.walk(dir), key=root)`, so each folder's own files (sorted by name) come
    /// before its sub-folders', and folders in the order of their paths as strings.
    ///
    /// A sub-folder that is a symbolic link is walked only when following links (as
    /// `os.walk(followlinks=...)`); one already in `visited` (by its canonical path) is
    /// skipped, so that a link back up the tree (a cycle) or to a folder read already does not
    /// read its images again.
    fn collect_images(
        &self,
        dir: &Path,
        visited: &mut HashSet<PathBuf>,
        files: &mut Vec<PathBuf>,
    ) -> Result<()> {
        let mut folders = Vec::new();
        self.walk(dir.to_path_buf(), visited, &mut folders)?;
        folders
            .sort_by(|(a, _), (b, _)| a.as_os_str().as_encoded_bytes().cmp(b.as_os_str().as_encoded_bytes()));
        files.extend(folders.into_iter().flat_map(|(_, images)| images));
        Ok(())
    }

    /// Pushes `(dir, its image files sorted)` and the same for every folder under it.
    fn walk(
        &self,
        dir: PathBuf,
        visited: &mut HashSet<PathBuf>,
        folders: &mut Vec<(PathBuf, Vec<PathBuf>)>,
    ) -> Result<()> {
        let mut images = Vec::new();
        let mut sub_folders = Vec::new();
        for path in sorted_entries(&dir)? {
            if path.is_dir() {
                let is_link =
                    path.symlink_metadata().map_err(|e| io_error(&path, e))?.file_type().is_symlink();
                if (self.follow_links || !is_link) && visited.insert(canonical(&path)?) {
                    sub_folders.push(path);
                }
            } else if self.has_image_extension(&path) {
                images.push(path);
            }
        }
        folders.push((dir, images));
        for sub_folder in sub_folders {
            self.walk(sub_folder, visited, folders)?;
        }
        Ok(())
    }

    fn has_image_extension(&self, path: &Path) -> bool {
        path.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| self.extensions.iter().any(|known| e.eq_ignore_ascii_case(known)))
    }
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
