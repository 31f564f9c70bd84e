//! Keras's `ImageDataGenerator`: rescaling and random augmentation applied to every image as
//! it is read, with `flow_from_directory` to read a folder through them.

use std::path::Path;
use std::sync::Arc;

use tensor_core::Tensor;

use super::augment::ImageAugmenter;
use super::folder_stream::{
    DirectoryOptions, FLOW_READER, ImageFolderStream, Preprocessing, PreprocessingFunction,
};
use crate::Result;

/// What to do to each image read: augment it (drawn per image from the augmenter's seed, the
/// epoch and the image's index, whichever thread reads it), pass it through the
/// `preprocessing_function`, then multiply it by `rescale`, as Keras's `ImageDataGenerator`
/// does in that order.
///
/// ```no_run
/// use nn::data::{DirectoryOptions, ImageAugmenter, ImageDataGenerator};
///
/// # fn main() -> nn::Result<()> {
/// let generator = ImageDataGenerator::new()
///     .rescale(1.0 / 255.0)
///     .augmentation(ImageAugmenter::new(7).rotation_range(20.0).shear_range(10.0).horizontal_flip(true));
/// let train = generator.flow_from_directory("flowers/train", DirectoryOptions::default().image_size(64, 64))?;
/// # let _ = train;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct ImageDataGenerator {
    preprocessing: Preprocessing,
}

impl ImageDataGenerator {
    /// A generator that reads images as they are.
    pub fn new() -> Self {
        ImageDataGenerator::default()
    }

    /// Multiplies every value by `factor` after augmentation (Keras's `rescale`).
    pub fn rescale(mut self, factor: f32) -> Self {
        self.preprocessing.rescale = Some(factor);
        self
    }

    /// Passes every image, after augmentation and before `rescale` (Keras's order), through
    /// `function` (Keras's `preprocessing_function`): it gets one image as an f32
    /// `(height, width, channels)` tensor on the CPU and must return one of that shape, such as
    /// [`crate::applications::vgg16::preprocess_input`]. Worker threads call it, so it must be
    /// `Send + Sync`; an error it returns ends the epoch with that error.
    ///
    /// ```no_run
    /// use nn::applications::vgg16;
    /// use nn::data::ImageDataGenerator;
    ///
    /// let generator = ImageDataGenerator::new().preprocessing_function(vgg16::preprocess_input);
    /// # let _ = generator;
    /// ```
    pub fn preprocessing_function(
        mut self,
        function: impl Fn(&Tensor) -> Result<Tensor> + Send + Sync + 'static,
    ) -> Self {
        self.preprocessing.function = Some(PreprocessingFunction(Arc::new(function)));
        self
    }

    /// Augments every image with `augmenter`'s random transforms.
    pub fn augmentation(mut self, augmenter: ImageAugmenter) -> Self {
        self.preprocessing.augmenter = Some(augmenter);
        self
    }

    /// Keras's `flow_from_directory`: batches of the images under `dir`, one sub-folder per
    /// class, through this generator. Keras's defaults here differ from
    /// [`super::image_dataset_from_directory`]'s: one-hot labels
    /// ([`super::LabelMode::Categorical`]), nearest-pixel resizing, and a `validation_split`
    /// that holds out the first `int(split * n)` files of each class (sorted), without
    /// shuffling; with a split but no `subset`, every file is read.
    pub fn flow_from_directory(
        &self,
        dir: impl AsRef<Path>,
        options: DirectoryOptions,
    ) -> Result<ImageFolderStream> {
        ImageFolderStream::open(dir.as_ref(), options, FLOW_READER, self.preprocessing.clone())
    }
}
