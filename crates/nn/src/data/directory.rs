//! Images from a directory with one sub-folder per class, as Keras's
//! `image_dataset_from_directory`.

use std::collections::HashSet;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use image::{DynamicImage, ImageReader, Limits};
use tensor_core::{Device, Tensor, cpu};

use super::sampling::{FillMode, HostImage};
use super::{file_error, io_error};
use crate::{NnError, Result};

/// The file extensions read as images (compared without regard to case).
const IMAGE_EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

/// The channels images are converted to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColorMode {
    /// One channel of luma.
    Grayscale,
    /// Three channels; an alpha channel is dropped.
    Rgb,
}

impl ColorMode {
    fn channels(self) -> usize {
        match self {
            ColorMode::Grayscale => 1,
            ColorMode::Rgb => 3,
        }
    }

    /// The image's pixels in this mode, as f32 values 0..=255.
    fn pixels(self, image: &DynamicImage, file: &Path) -> Result<Vec<f32>> {
        let bytes = match self {
            ColorMode::Grayscale => image.to_luma8().into_raw(),
            ColorMode::Rgb => image.to_rgb8().into_raw(),
        };
        let what = format_args!("the {} x {} pixels of {}", image.width(), image.height(), file.display());
        let mut pixels = cpu::host_vec("image_dataset_from_directory", &what, bytes.len())?;
        pixels.extend(bytes.into_iter().map(f32::from));
        Ok(pixels)
    }
}

/// Labelled images read from a class-per-folder directory.
#[derive(Clone, Debug)]
pub struct ImageFolder {
    /// f32 images `[n, height, width, channels]` with values 0..=255 (not rescaled, as Keras).
    pub images: Tensor,
    /// The class index of each image: the position of its folder among the sorted folder names.
    pub labels: Vec<usize>,
    /// The folder names, sorted; `class_names[labels[i]]` is image `i`'s class.
    pub class_names: Vec<String>,
    /// The file each image came from.
    pub files: Vec<PathBuf>,
}

/// Reads every PNG and JPEG file under each sub-folder of `dir` (searched recursively, in
/// sorted order, other files ignored), converts it to `color_mode` and resizes it to
/// `image_size` = (height, width) by bilinear interpolation on pixel centres, with edges
/// repeated (as TensorFlow's `resize` without antialiasing, which Keras uses).
///
/// Images come in folder order, then file order; unlike Keras, nothing is shuffled here (use
/// [`super::Dataset::shuffled`]). An unreadable or undecodable file is an error that names it.
pub fn image_dataset_from_directory(
    dir: impl AsRef<Path>,
    image_size: (usize, usize),
    color_mode: ColorMode,
    device: &Device,
) -> Result<ImageFolder> {
    let dir = dir.as_ref();
    let (height, width) = image_size;
    if height == 0 || width == 0 {
        return Err(NnError::Data(format!(
            "image_dataset_from_directory: image_size must be positive, got {height}x{width}"
        )));
    }
    let class_dirs = sorted_entries(dir)?.into_iter().filter(|p| p.is_dir()).collect::<Vec<_>>();
    if class_dirs.is_empty() {
        return Err(file_error(dir, "no class sub-folders; expected one sub-folder of images per class"));
    }
    let class_names: Vec<String> =
        class_dirs.iter().map(|d| d.file_name().unwrap_or_default().to_string_lossy().into_owned()).collect();
    let mut files = Vec::new();
    let mut labels = Vec::new();
    // The top folder and every class folder count as visited from the start, so that a link
    // from one class into another (or up to the top) does not read images under the wrong label.
    let mut visited = class_dirs
        .iter()
        .chain([&dir.to_path_buf()])
        .map(|d| canonical(d))
        .collect::<Result<HashSet<_>>>()?;
    for (label, class_dir) in class_dirs.iter().enumerate() {
        collect_images(class_dir, &mut visited, &mut files)?;
        labels.resize(files.len(), label);
    }
    if files.is_empty() {
        return Err(file_error(
            dir,
            format!(
                "no images (.png, .jpg, .jpeg) in its {} class sub-folders ({})",
                class_names.len(),
                class_names.join(", ")
            ),
        ));
    }
    let channels = color_mode.channels();
    // Checked before any image is decoded: the product of user numbers can overflow or exceed
    // what the host can hold ((50,000, 50,000) is 30 GB of f32 for one RGB image).
    let len = [files.len(), height, width, channels].into_iter().try_fold(1usize, usize::checked_mul).ok_or_else(|| {
        NnError::Data(format!(
            "image_dataset_from_directory: {} images of image_size {height}x{width} with {channels} channel(s) \
             are more pixels than memory can address",
            files.len()
        ))
    })?;
    let what =
        format_args!("{} images of image_size {height}x{width} with {channels} channel(s)", files.len());
    let mut pixels = cpu::host_vec::<f32>("image_dataset_from_directory", &what, len)?;
    for file in &files {
        let image = decode(file)?;
        let source = color_mode.pixels(&image, file)?;
        let source = HostImage {
            pixels: &source,
            height: image.height() as usize,
            width: image.width() as usize,
            channels,
        };
        resize_into(&source, height, width, &mut pixels);
    }
    let images = Tensor::from_vec(pixels, [files.len(), height, width, channels], device)?;
    Ok(ImageFolder { images, labels, class_names, files })
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

fn has_image_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|known| e.eq_ignore_ascii_case(known)))
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

/// Appends `source` resized to `height x width` to `out`. Output pixel centres map onto the
/// source with half-pixel offsets, so the image's extent (not its corner pixels) is preserved.
fn resize_into(source: &HostImage<'_>, height: usize, width: usize, out: &mut Vec<f32>) {
    let scale_rows = source.height as f64 / height as f64;
    let scale_cols = source.width as f64 / width as f64;
    let mut pixel = vec![0.0; source.channels];
    for row in 0..height {
        let y = (row as f64 + 0.5) * scale_rows - 0.5;
        for col in 0..width {
            let x = (col as f64 + 0.5) * scale_cols - 0.5;
            source.sample(y, x, FillMode::Nearest, &mut pixel);
            out.extend_from_slice(&pixel);
        }
    }
}
