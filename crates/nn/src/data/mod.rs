//! Getting data into a model: reading MNIST-style IDX files and folders of images, one-hot
//! encoding, scaling, shuffling, validation splits and batches, and image augmentation.
//!
//! Data that fits in memory becomes tensors on the device named by the caller, so a dataset is
//! uploaded once and `fit` gathers its batches there. Data that need not fit is a
//! [`BatchStream`]: folders of images read by worker threads as training consumes them
//! ([`image_dataset_from_directory`], [`ImageDataGenerator::flow_from_directory`]), for
//! `Model::fit_stream`, `evaluate_stream` and `predict_stream`.
//!
//! ```no_run
//! use nn::data::{Dataset, FashionMnist, MinMaxScaler, to_categorical};
//! use nn::Device;
//!
//! # fn main() -> nn::Result<()> {
//! let device = Device::Cpu;
//! let fashion = FashionMnist::load_default()?;
//! // Pixels arrive as 0..=255; scale them to [0, 1] as the notes do.
//! let x = MinMaxScaler::new(0.0, 255.0)?.transform(&fashion.train.images.to_tensor(&device)?)?;
//! let y = to_categorical(&fashion.train.labels, FashionMnist::CLASS_NAMES.len(), &device)?;
//! let (train, validation) = Dataset::new(x, y)?.shuffled(42)?.split_validation(0.1)?;
//! # let _ = (train, validation);
//! # Ok(())
//! # }
//! ```

mod augment;
mod dataset;
mod decode;
mod directory;
mod folder_stream;
mod generator;
mod idx;
mod labels;
mod numpy_shuffle;
mod prefetch;
mod sampling;
mod scaling;
mod stream;

use std::fmt::Display;
use std::path::Path;

use crate::NnError;

pub use augment::{ImageAugmenter, ImageTransform};
pub use dataset::{Dataset, permutation};
pub use decode::{ColorMode, Interpolation};
pub use directory::{Labels, Subset};
pub use folder_stream::{DirectoryOptions, ImageFolderStream, LabelMode, image_dataset_from_directory};
pub use generator::ImageDataGenerator;
pub use idx::{FashionMnist, IdxImages, LabelledImages, Mnist, TrainTest, read_idx_images, read_idx_labels};
pub use labels::{labels_to_tensor, to_categorical};
pub use sampling::FillMode;
pub use scaling::{MinMaxScaler, StandardScaler};
pub use stream::{BatchStream, HostBatch};

/// An operating-system error on `path` (missing file, permission, a read that failed).
fn io_error(path: &Path, err: impl Display) -> NnError {
    NnError::Io { path: path.display().to_string(), detail: err.to_string() }
}

/// A file whose contents are not what its reader expects; the message starts with the path.
fn file_error(path: &Path, detail: impl Display) -> NnError {
    NnError::Data(format!("{}: {detail}", path.display()))
}
