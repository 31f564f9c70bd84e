//! Batches read from a folder of images as training consumes them: Keras's
//! `image_dataset_from_directory` and `ImageDataGenerator.flow_from_directory`, two entry
//! points with Keras's own defaults over one reader, [`ImageFolderStream`].
//!
//! Worker threads decode, resize, augment and scale whole batches ahead of the consumer, at
//! most `prefetch` of them waiting, so the memory a pass takes does not grow with the number
//! of images.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tensor_core::{DType, Device, Tensor, cpu};

use super::augment::ImageAugmenter;
use super::decode::{ColorMode, Interpolation, load_image};
use super::directory::{Labels, Listing, ListingOptions, ListingRules, SplitRule, Subset};
use super::prefetch::Prefetch;
use super::sampling::HostImage;
use super::stream::{BatchStream, HostBatch};
use super::{permutation, to_categorical};
use crate::{NnError, Result};

/// What a batch's targets are (Keras's `label_mode`, `class_mode` in `flow_from_directory`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabelMode {
    /// Class indices, shape `(batch,)`, for the sparse losses (Keras's "int", "sparse").
    Int,
    /// One-hot rows, shape `(batch, classes)` (Keras's "categorical").
    Categorical,
    /// 0 or 1 for exactly two classes (Keras's "binary"): shape `(batch, 1)` from
    /// `image_dataset_from_directory`, `(batch,)` from `flow_from_directory`, as each does in
    /// Keras.
    Binary,
    /// The batch's images themselves, for autoencoders (Keras's `class_mode="input"`).
    Input,
    /// No targets, for `predict` (Keras's `None`).
    None,
}

/// The options of [`image_dataset_from_directory`] and
/// [`super::ImageDataGenerator::flow_from_directory`], with Keras's names. Left unset,
/// `label_mode` and `interpolation` take each entry point's Keras default; the rest default
/// as both do in Keras: images of 256 x 256 RGB, batches of 32, shuffled, no split, every
/// class folder, symbolic links to sub-folders not followed. The seed defaults to 0 rather
/// than to a random one, so runs repeat.
#[derive(Clone, Debug)]
pub struct DirectoryOptions {
    labels: Labels,
    class_names: Option<Vec<String>>,
    follow_links: bool,
    label_mode: Option<LabelMode>,
    color_mode: ColorMode,
    image_size: (usize, usize),
    batch_size: usize,
    shuffle: bool,
    seed: u64,
    validation_split: Option<f64>,
    subset: Option<Subset>,
    interpolation: Option<Interpolation>,
    workers: usize,
    prefetch: usize,
}

impl Default for DirectoryOptions {
    fn default() -> Self {
        DirectoryOptions {
            labels: Labels::Inferred,
            class_names: None,
            follow_links: false,
            label_mode: None,
            color_mode: ColorMode::Rgb,
            image_size: (256, 256),
            batch_size: 32,
            shuffle: true,
            seed: 0,
            validation_split: None,
            subset: None,
            interpolation: None,
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()).min(4),
            prefetch: 4,
        }
    }
}

impl DirectoryOptions {
    /// Where labels come from: the class sub-folders (default) or none (a flat folder).
    pub fn labels(mut self, labels: Labels) -> Self {
        self.labels = labels;
        self
    }

    /// The classes to read, in this order: class `i` is the folder `names[i]` (Keras's
    /// `class_names` in `image_dataset_from_directory`, `classes` in `flow_from_directory`).
    /// Other class folders are left out. Each name must be a class sub-folder (Keras's
    /// `flow_from_directory` reads a missing one as an empty class; here it is an error).
    pub fn class_names<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.class_names = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// Whether to read the images of sub-folders that are symbolic links (Keras's
    /// `follow_links`, default false). Followed or not, a folder is read once: a link to a
    /// folder read already, or back up the tree, is passed over.
    pub fn follow_links(mut self, follow: bool) -> Self {
        self.follow_links = follow;
        self
    }

    /// What each batch's targets are (Keras's `label_mode` / `class_mode`).
    pub fn label_mode(mut self, mode: LabelMode) -> Self {
        self.label_mode = Some(mode);
        self
    }

    /// The channels images are converted to.
    pub fn color_mode(mut self, mode: ColorMode) -> Self {
        self.color_mode = mode;
        self
    }

    /// The (height, width) images are resized to (Keras's `image_size` / `target_size`).
    pub fn image_size(mut self, height: usize, width: usize) -> Self {
        self.image_size = (height, width);
        self
    }

    /// Images per batch; the last batch of an epoch takes what is left.
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// Whether each epoch visits the images in a new order drawn from the seed and the epoch.
    pub fn shuffle(mut self, shuffle: bool) -> Self {
        self.shuffle = shuffle;
        self
    }

    /// Seeds the shuffling (and the split, which `image_dataset_from_directory` takes after
    /// shuffling, as Keras does with numpy's `RandomState(seed)`: the same seed, below 2^32,
    /// holds out the same files as Keras): give the training and the validation reader the
    /// same seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The fraction of the images held out for validation; `subset` says which part to read.
    pub fn validation_split(mut self, fraction: f64) -> Self {
        self.validation_split = Some(fraction);
        self
    }

    /// Which part of the `validation_split` to read.
    pub fn subset(mut self, subset: Subset) -> Self {
        self.subset = Some(subset);
        self
    }

    /// How images are resized to `image_size`.
    pub fn interpolation(mut self, interpolation: Interpolation) -> Self {
        self.interpolation = Some(interpolation);
        self
    }

    /// How many threads read images (default: the cores, at most 4).
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers;
        self
    }

    /// How many finished batches may wait for the consumer (default 4), shared among the
    /// workers (each holds `prefetch / workers`, rounded up, plus the one it is handing over):
    /// the bound on the memory reading ahead takes.
    pub fn prefetch(mut self, batches: usize) -> Self {
        self.prefetch = batches;
        self
    }
}

/// What distinguishes the two Keras entry points.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reader {
    pub(crate) name: &'static str,
    pub(crate) label_mode: LabelMode,
    pub(crate) interpolation: Interpolation,
    pub(crate) split_rule: SplitRule,
    /// Whether binary labels come as a column `(batch, 1)` rather than a vector `(batch,)`.
    pub(crate) binary_column: bool,
    pub(crate) listing: ListingRules,
}

/// `image_dataset_from_directory`: integer labels, bilinear resizing, the shuffled-tail split,
/// hidden class folders passed over.
const DATASET_READER: Reader = Reader {
    name: "image_dataset_from_directory",
    label_mode: LabelMode::Int,
    interpolation: Interpolation::Bilinear,
    split_rule: SplitRule::ShuffledTail,
    binary_column: true,
    listing: ListingRules { extensions: &["bmp", "gif", "jpeg", "jpg", "png"], skip_hidden_classes: true },
};

/// `flow_from_directory`: one-hot labels, nearest-pixel resizing, the per-class split, hidden
/// folders read as classes (as Keras does: a `.ipynb_checkpoints` folder is a class).
pub(crate) const FLOW_READER: Reader = Reader {
    name: "flow_from_directory",
    label_mode: LabelMode::Categorical,
    interpolation: Interpolation::Nearest,
    split_rule: SplitRule::PerClassHead,
    binary_column: false,
    // Keras lists PPM and TIFF files too; they are not decoded here, so one is an error
    // naming it rather than a file silently left out.
    listing: ListingRules {
        extensions: &["bmp", "jpeg", "jpg", "png", "ppm", "tif", "tiff"],
        skip_hidden_classes: false,
    },
};

/// Keras's `image_dataset_from_directory`: a stream of batches of the images under `dir`,
/// values 0..=255 (not rescaled), labelled by class sub-folder, for `fit_stream`,
/// `evaluate_stream` and `predict_stream`.
///
/// With a `validation_split`, a `subset` is required, and every file is shuffled by the seed
/// (when shuffling) before the last `int(split * n)` are held out: two readers with the same
/// seed, one per subset, read disjoint parts. Listing errors (no such folder, no class
/// folders, no images) come here; a file that does not decode is an error naming it when its
/// batch is read.
///
/// ```no_run
/// use nn::data::{DirectoryOptions, LabelMode, Subset, image_dataset_from_directory};
///
/// # fn main() -> nn::Result<()> {
/// let options = DirectoryOptions::default().image_size(64, 64).label_mode(LabelMode::Categorical).seed(7);
/// let train = image_dataset_from_directory("flowers", options.clone().validation_split(0.2).subset(Subset::Training))?;
/// let validation = image_dataset_from_directory("flowers", options.validation_split(0.2).subset(Subset::Validation))?;
/// println!("{:?}: {} batches per epoch", train.class_names(), train.len().div_ceil(32));
/// # let _ = validation;
/// # Ok(())
/// # }
/// ```
pub fn image_dataset_from_directory(
    dir: impl AsRef<Path>,
    options: DirectoryOptions,
) -> Result<ImageFolderStream> {
    if options.validation_split.is_some() != options.subset.is_some() {
        return Err(NnError::Usage(
            "image_dataset_from_directory: give validation_split and subset together, or neither".into(),
        ));
    }
    ImageFolderStream::open(dir.as_ref(), options, DATASET_READER, Preprocessing::default())
}

/// What is done to each resized image before it is batched, in this order.
#[derive(Clone, Debug, Default)]
pub(crate) struct Preprocessing {
    pub(crate) augmenter: Option<ImageAugmenter>,
    pub(crate) function: Option<PreprocessingFunction>,
    pub(crate) rescale: Option<f32>,
}

/// A user's function of one `(height, width, channels)` image (Keras's
/// `preprocessing_function`), shared by the worker threads.
#[derive(Clone)]
pub(crate) struct PreprocessingFunction(pub(crate) Arc<ImageFunction>);

/// A function of one image tensor to another, callable from any thread.
pub(crate) type ImageFunction = dyn Fn(&Tensor) -> Result<Tensor> + Send + Sync;

impl std::fmt::Debug for PreprocessingFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PreprocessingFunction")
    }
}

impl PreprocessingFunction {
    /// Replaces `image` (of `shape`) by the function's result, which must keep the shape.
    fn apply(&self, image: &mut [f32], shape: [usize; 3], reader: &str) -> Result<()> {
        let input = Tensor::from_slice(image, shape, &Device::Cpu)?;
        let output = (self.0)(&input)?;
        if output.dims() != shape {
            return Err(NnError::Data(format!(
                "{reader}: preprocessing_function must return an image of the shape it was given, {shape:?}; \
                 it returned shape {:?}",
                output.dims()
            )));
        }
        let values = output.to_dtype(DType::F32)?.to_vec::<f32>()?;
        image.copy_from_slice(&values);
        Ok(())
    }
}

/// Batches of a folder of images, read by worker threads as they are consumed (see
/// [`image_dataset_from_directory`]); a [`BatchStream`].
#[derive(Clone, Debug)]
pub struct ImageFolderStream {
    files: Arc<Vec<PathBuf>>,
    labels: Option<Vec<usize>>,
    class_names: Vec<String>,
    label_mode: LabelMode,
    binary_column: bool,
    settings: Arc<ImageSettings>,
    batch_size: usize,
    shuffle: bool,
    seed: u64,
    workers: usize,
    prefetch: usize,
}

/// How the workers turn a file into a batch's image.
#[derive(Debug)]
struct ImageSettings {
    reader: &'static str,
    color_mode: ColorMode,
    image_size: (usize, usize),
    interpolation: Interpolation,
    preprocessing: Preprocessing,
}

impl ImageSettings {
    fn image_len(&self) -> usize {
        self.image_size.0 * self.image_size.1 * self.color_mode.channels()
    }
}

impl ImageFolderStream {
    /// Lists `dir` and checks `options` for `reader`, before any image is decoded.
    pub(crate) fn open(
        dir: &Path,
        options: DirectoryOptions,
        reader: Reader,
        preprocessing: Preprocessing,
    ) -> Result<ImageFolderStream> {
        let name = reader.name;
        let (height, width) = options.image_size;
        if height == 0 || width == 0 {
            return Err(NnError::Data(format!("{name}: image_size must be positive, got {height}x{width}")));
        }
        if options.batch_size == 0 || options.workers == 0 || options.prefetch == 0 {
            return Err(NnError::Usage(format!(
                "{name}: batch_size, workers and prefetch must be at least 1, got {}, {} and {}",
                options.batch_size, options.workers, options.prefetch
            )));
        }
        if let Some(augmenter) = &preprocessing.augmenter {
            augmenter.check()?;
        }
        if let Some(scale) = preprocessing.rescale
            && !scale.is_finite()
        {
            return Err(NnError::Usage(format!("{name}: rescale must be finite, got {scale}")));
        }
        let channels = options.color_mode.channels();
        // Checked before anything is read: the product of user numbers can overflow or exceed
        // what the host can hold ((50,000, 50,000) is 30 GB of f32 for one RGB image).
        let batch_len = [options.batch_size, height, width, channels]
            .into_iter()
            .try_fold(1usize, usize::checked_mul)
            .ok_or_else(|| {
                NnError::Data(format!(
                    "{name}: a batch of {} images of image_size {height}x{width} with {channels} channel(s) has \
                     more pixels than memory can address",
                    options.batch_size
                ))
            })?;
        let what = format_args!(
            "a batch of {} images of image_size {height}x{width} with {channels} channel(s)",
            options.batch_size
        );
        cpu::check_host_bytes(name, &what, batch_len, size_of::<f32>())?;
        let listing_options = ListingOptions {
            labels: options.labels,
            class_names: options.class_names.as_deref(),
            follow_links: options.follow_links,
        };
        let mut listing = Listing::read(dir, listing_options, reader.listing, name)?;
        let label_mode = match listing.labels {
            Some(_) => options.label_mode.unwrap_or(reader.label_mode),
            None => LabelMode::None,
        };
        if label_mode == LabelMode::Binary && listing.class_names.len() != 2 {
            return Err(NnError::Data(format!(
                "{name}: label_mode Binary needs exactly 2 class folders, found {} ({})",
                listing.class_names.len(),
                listing.class_names.join(", ")
            )));
        }
        if let Some(fraction) = options.validation_split {
            if !(fraction > 0.0 && fraction < 1.0) {
                return Err(NnError::Usage(format!(
                    "{name}: validation_split must be between 0 and 1, got {fraction}"
                )));
            }
            if let Some(subset) = options.subset {
                let shuffling = (options.shuffle, options.seed);
                listing = listing.split(fraction, subset, reader.split_rule, shuffling, name)?;
            }
        }
        let settings = ImageSettings {
            reader: name,
            color_mode: options.color_mode,
            image_size: options.image_size,
            interpolation: options.interpolation.unwrap_or(reader.interpolation),
            preprocessing,
        };
        Ok(ImageFolderStream {
            files: Arc::new(listing.files),
            labels: listing.labels,
            class_names: listing.class_names,
            label_mode,
            binary_column: reader.binary_column,
            settings: Arc::new(settings),
            batch_size: options.batch_size,
            shuffle: options.shuffle,
            seed: options.seed,
            workers: options.workers,
            prefetch: options.prefetch,
        })
    }

    /// The class folder names, sorted or in the order `class_names` gave: class `i` is
    /// `class_names()[i]`. Empty for a flat folder.
    pub fn class_names(&self) -> &[String] {
        &self.class_names
    }

    /// The files read, in listing order (classes in order, then files in sorted order).
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// The class index of each of [`ImageFolderStream::files`]; `None` for a flat folder.
    pub fn labels(&self) -> Option<&[usize]> {
        self.labels.as_deref()
    }

    /// The number of images.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The order epoch `epoch` visits the files in.
    fn order(&self, epoch: usize) -> Vec<usize> {
        if self.shuffle {
            // A distinct, reproducible permutation per epoch.
            permutation(self.len(), self.seed ^ (epoch as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15))
        } else {
            (0..self.len()).collect()
        }
    }

    /// The targets of the samples with class indices `labels`, for `images`.
    fn targets(&self, labels: &[usize], images: &Tensor) -> Result<Option<Tensor>> {
        let n = labels.len();
        let values = || labels.iter().map(|&l| l as f32).collect::<Vec<_>>();
        Ok(match self.label_mode {
            LabelMode::Int => Some(Tensor::from_vec(values(), [n], &Device::Cpu)?),
            LabelMode::Binary if self.binary_column => {
                Some(Tensor::from_vec(values(), [n, 1], &Device::Cpu)?)
            }
            LabelMode::Binary => Some(Tensor::from_vec(values(), [n], &Device::Cpu)?),
            LabelMode::Categorical => Some(to_categorical(labels, self.class_names.len(), &Device::Cpu)?),
            LabelMode::Input => Some(images.clone()),
            LabelMode::None => None,
        })
    }
}

/// A batch as a worker makes it: NHWC pixels and the samples' class indices.
struct RawBatch {
    pixels: Vec<f32>,
    labels: Vec<usize>,
}

impl BatchStream for ImageFolderStream {
    fn steps_per_epoch(&self) -> usize {
        self.len().div_ceil(self.batch_size)
    }

    fn epoch(&mut self, epoch: usize) -> Result<Box<dyn Iterator<Item = Result<HostBatch>> + '_>> {
        let order = Arc::new(self.order(epoch));
        let (files, settings, labels) = (self.files.clone(), self.settings.clone(), self.labels.clone());
        let batch_size = self.batch_size;
        // Every sample's augmentation is drawn from (seed, epoch, file index) alone, so the
        // batches do not depend on which worker makes them, or when.
        let first_index = (epoch as u64).wrapping_mul(self.len() as u64);
        let make = move |k: usize| -> Result<RawBatch> {
            let chosen = &order[k * batch_size..((k + 1) * batch_size).min(order.len())];
            let pixels = settings.read_batch(&files, chosen, first_index)?;
            let labels = labels.as_ref().map_or_else(Vec::new, |l| chosen.iter().map(|&i| l[i]).collect());
            Ok(RawBatch { pixels, labels })
        };
        let capacity = self.prefetch.div_ceil(self.workers);
        let batches = Prefetch::start(self.steps_per_epoch(), self.workers, capacity, make)?;
        let (height, width) = self.settings.image_size;
        let channels = self.settings.color_mode.channels();
        Ok(Box::new(batches.map(move |raw| {
            let raw = raw?;
            let n = raw.pixels.len() / (height * width * channels);
            let images = Tensor::from_vec(raw.pixels, [n, height, width, channels], &Device::Cpu)?;
            let targets = self.targets(&raw.labels, &images)?;
            Ok(HostBatch { inputs: vec![images], targets, sample_weights: None })
        })))
    }
}

impl ImageSettings {
    /// The images of `files[i]` for each `i` in `chosen`, preprocessed, one after another.
    fn read_batch(&self, files: &[PathBuf], chosen: &[usize], first_index: u64) -> Result<Vec<f32>> {
        let image_len = self.image_len();
        let (height, width) = self.image_size;
        let channels = self.color_mode.channels();
        let what = format_args!("a batch of {} images of {height}x{width}x{channels}", chosen.len());
        let mut pixels = cpu::host_vec::<f32>(self.reader, &what, chosen.len() * image_len)?;
        pixels.resize(chosen.len() * image_len, 0.0);
        let Preprocessing { augmenter, function, rescale } = &self.preprocessing;
        let mut resized = match augmenter {
            Some(_) => vec![0.0; image_len],
            None => Vec::new(),
        };
        for (&i, out) in chosen.iter().zip(pixels.chunks_exact_mut(image_len)) {
            let file = &files[i];
            match augmenter {
                Some(augmenter) => {
                    load_image(file, self.color_mode, self.image_size, self.interpolation, &mut resized)?;
                    let image = HostImage { pixels: &resized, height, width, channels };
                    augmenter.augment_image(&image, first_index.wrapping_add(i as u64), out);
                }
                None => load_image(file, self.color_mode, self.image_size, self.interpolation, out)?,
            }
            // Keras's order: the random transform, the preprocessing function, the rescaling.
            if let Some(function) = function {
                function.apply(out, [height, width, channels], self.reader)?;
            }
            if let Some(scale) = rescale {
                out.iter_mut().for_each(|v| *v *= scale);
            }
        }
        Ok(pixels)
    }
}
