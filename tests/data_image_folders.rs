//! Folders of images read as streams, as Keras's `image_dataset_from_directory` and
//! `ImageDataGenerator.flow_from_directory` read them: labels from sorted class folders, each
//! label mode, each reader's validation split, flat folders for `predict`, decoding errors
//! that name the file, and training on a stream.

#[path = "fixtures/close.rs"]
mod close;

#[path = "fixtures/scratch.rs"]
mod scratch;

use close::{assert_close, values};
use image::{GrayImage, Luma, Rgb, RgbImage, Rgba, RgbaImage};
use scratch::Scratch;
use tessera::Tensor;
use tessera::nn::applications::{mobilenet, vgg16};
use tessera::nn::data::{
    BatchStream, ColorMode, DirectoryOptions, ImageDataGenerator, ImageFolderStream, LabelMode, Labels,
    Subset, image_dataset_from_directory,
};
use tessera::nn::{
    Dense, EvaluateOptions, FitOptions, Flatten, Model, NnError, optimizers::Sgd, set_random_seed,
};

fn png(image: &RgbImage) -> Vec<u8> {
    let mut bytes = std::io::Cursor::new(Vec::new());
    image.write_to(&mut bytes, image::ImageFormat::Png).unwrap();
    bytes.into_inner()
}

/// A 2 x 2 PNG of one grey level.
fn grey(level: u8) -> Vec<u8> {
    png(&RgbImage::from_pixel(2, 2, Rgb([level; 3])))
}

/// Two classes, a PNG and a grey ramp in "cats", a JPEG and a nested PNG in "dogs", plus a
/// text file that is not an image and a hidden folder, a class only to `flow_from_directory`.
fn class_folders(scratch: &Scratch) {
    scratch.write("cats/a.png", &png(&RgbImage::from_pixel(4, 4, Rgb([255, 0, 0]))));
    let ramp = GrayImage::from_fn(4, 1, |x, _| Luma([[0, 100, 200, 250][x as usize]]));
    let mut bytes = std::io::Cursor::new(Vec::new());
    ramp.write_to(&mut bytes, image::ImageFormat::Png).unwrap();
    scratch.write("cats/b.PNG", bytes.get_ref());
    let mut jpeg = std::io::Cursor::new(Vec::new());
    RgbImage::from_pixel(8, 6, Rgb([0, 0, 255])).write_to(&mut jpeg, image::ImageFormat::Jpeg).unwrap();
    scratch.write("dogs/c.jpg", jpeg.get_ref());
    scratch.write("dogs/nested/d.png", &png(&RgbImage::from_pixel(1, 1, Rgb([10, 20, 30]))));
    scratch.write("dogs/notes.txt", b"not an image");
    scratch.write(".thumbnails/e.png", &grey(0));
}

/// Every batch of the stream's first epoch: the inputs and the targets concatenated.
fn read_all(stream: &mut ImageFolderStream) -> (Tensor, Option<Tensor>) {
    let batches: Vec<_> = stream.epoch(0).unwrap().map(|b| b.unwrap()).collect();
    let images: Vec<&Tensor> = batches.iter().map(|b| &b.inputs[0]).collect();
    let targets: Option<Vec<&Tensor>> = batches.iter().map(|b| b.targets.as_ref()).collect();
    (Tensor::concat(&images, 0).unwrap(), targets.map(|t| Tensor::concat(&t, 0).unwrap()))
}

fn in_order() -> DirectoryOptions {
    DirectoryOptions::default().shuffle(false).batch_size(3).workers(2)
}

fn relative(stream: &ImageFolderStream, scratch: &Scratch) -> Vec<String> {
    stream.files().iter().map(|f| f.strip_prefix(scratch.path()).unwrap().display().to_string()).collect()
}

#[test]
fn class_folders_become_labels_and_images_are_resized_bilinearly() {
    let scratch = Scratch::new("stream-rgb");
    class_folders(&scratch);
    let mut stream = image_dataset_from_directory(scratch.path(), in_order().image_size(2, 2)).unwrap();
    assert_eq!(stream.class_names(), ["cats", "dogs"]);
    assert_eq!(stream.labels().unwrap(), [0, 0, 1, 1]);
    assert_eq!(relative(&stream, &scratch), ["cats/a.png", "cats/b.PNG", "dogs/c.jpg", "dogs/nested/d.png"]);
    // Four images in batches of three: two steps, the last one short.
    assert_eq!(stream.steps_per_epoch(), 2);
    let (images, labels) = read_all(&mut stream);
    assert_eq!(images.dims(), &[4, 2, 2, 3]);
    // Keras's default label_mode here is "int": class ids of shape (N,).
    assert_eq!(values(&labels.unwrap()), [0., 0., 1., 1.]);
    let v = values(&images);
    let pixel = |image: usize, row: usize, col: usize| &v[((image * 2 + row) * 2 + col) * 3..][..3];
    for (row, col) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
        assert_eq!(pixel(0, row, col), [255., 0., 0.]);
        // The 4-wide ramp halves: output centres fall at input x = 0.5 and 2.5, between pairs.
        assert_eq!(pixel(1, row, col), [[50.; 3], [225.; 3]][col]);
        // JPEG is lossy: a flat colour comes back within a few levels.
        assert_close(pixel(2, row, col), &[0., 0., 255.], 4.0);
        // A single pixel stretched keeps its value everywhere.
        assert_eq!(pixel(3, row, col), [10., 20., 30.]);
    }
}

#[test]
fn color_modes_and_nearest_resizing() {
    let scratch = Scratch::new("stream-modes");
    class_folders(&scratch);
    scratch.write("dogs/z.png", &{
        let mut bytes = std::io::Cursor::new(Vec::new());
        RgbaImage::from_pixel(2, 2, Rgba([1, 2, 3, 4]))
            .write_to(&mut bytes, image::ImageFormat::Png)
            .unwrap();
        bytes.into_inner()
    });
    let options = in_order().image_size(3, 1).color_mode(ColorMode::Grayscale);
    let (images, _) = read_all(&mut image_dataset_from_directory(scratch.path(), options).unwrap());
    assert_eq!(images.dims(), &[5, 3, 1, 1]);
    let v = values(&images);
    // Pure red has ITU-R 601-2 luma 0.299 * 255 = 76.2, 76 as PIL rounds it.
    assert_eq!(&v[0..3], [76.0; 3]);
    // The ramp's single column is the mean of its middle pixels (x = 1.5): 150.
    assert_eq!(&v[3..6], [150.0; 3]);
    let options = in_order().image_size(2, 2).color_mode(ColorMode::Rgba);
    let (images, _) = read_all(&mut image_dataset_from_directory(scratch.path(), options.clone()).unwrap());
    let v = values(&images);
    assert_eq!(&v[0..4], [255., 0., 0., 255.], "an opaque image gets alpha 255");
    // In Keras's walk order a folder's own files come before its sub-folders': dogs/z.png is
    // the fourth image, before dogs/nested/d.png.
    assert_eq!(&v[3 * 16..3 * 16 + 4], [1., 2., 3., 4.]);
    // flow_from_directory resizes by the nearest pixel, as Keras's PIL loader: the ramp's
    // 4 columns halved keep columns 1 and 3 (centres 0.5 * 2 = 1 and 1.5 * 2 = 3). The hidden
    // folder is its first class, as in Keras, so the ramp is its third image.
    let (images, _) =
        read_all(&mut ImageDataGenerator::new().flow_from_directory(scratch.path(), options).unwrap());
    let v = values(&images);
    assert_eq!(&v[32..48], [100., 100., 100., 255., 250., 250., 250., 255.].repeat(2));
}

#[test]
fn label_modes_give_keras_targets() {
    let scratch = Scratch::new("stream-labels");
    for (file, level) in [("b/1.png", 10), ("a/1.png", 20), ("c/1.png", 30), ("a/2.png", 40)] {
        scratch.write(file, &grey(level));
    }
    let read = |options: DirectoryOptions| {
        let mut stream = image_dataset_from_directory(scratch.path(), options.image_size(1, 1))?;
        Ok::<_, NnError>(read_all(&mut stream))
    };
    // Classes in sorted folder order whatever the files: a, a, b, c.
    let (images, int) = read(in_order()).unwrap();
    assert_eq!(values(&images), [20., 20., 20., 40., 40., 40., 10., 10., 10., 30., 30., 30.]);
    assert_eq!(values(&int.unwrap()), [0., 0., 1., 2.]);
    let (_, categorical) = read(in_order().label_mode(LabelMode::Categorical)).unwrap();
    let categorical = categorical.unwrap();
    assert_eq!(categorical.dims(), &[4, 3]);
    assert_eq!(values(&categorical), [1., 0., 0., 1., 0., 0., 0., 1., 0., 0., 0., 1.]);
    let (images, input) = read(in_order().label_mode(LabelMode::Input)).unwrap();
    assert_eq!(values(&input.unwrap()), values(&images));
    assert!(read(in_order().label_mode(LabelMode::None)).unwrap().1.is_none());
    let message = read(in_order().label_mode(LabelMode::Binary)).unwrap_err().to_string();
    assert!(message.contains("exactly 2") && message.contains("a, b, c"), "{message}");
    std::fs::remove_dir_all(scratch.path().join("c")).unwrap();
    let (_, binary) = read(in_order().label_mode(LabelMode::Binary)).unwrap();
    let binary = binary.unwrap();
    assert_eq!((binary.dims(), values(&binary)), (&[3, 1][..], vec![0., 0., 1.]));
    // flow_from_directory's default class_mode is "categorical".
    let mut flow =
        ImageDataGenerator::new().flow_from_directory(scratch.path(), in_order().image_size(1, 1)).unwrap();
    assert_eq!(read_all(&mut flow).1.unwrap().dims(), &[3, 2]);
    // Keras 3.15.1's flow_from_directory gives class_mode="binary" labels of shape (batch,),
    // its image_dataset_from_directory label_mode="binary" ones of shape (batch, 1).
    let options = in_order().image_size(1, 1).label_mode(LabelMode::Binary);
    let mut flow = ImageDataGenerator::new().flow_from_directory(scratch.path(), options).unwrap();
    let binary = read_all(&mut flow).1.unwrap();
    assert_eq!((binary.dims(), values(&binary)), (&[3][..], vec![0., 0., 1.]));
}

/// Ten images in class "a" and five in class "b", levels 0..15 in file order.
fn fifteen(scratch: &Scratch) {
    for i in 0..15u8 {
        let class = if i < 10 { "a" } else { "b" };
        scratch.write(&format!("{class}/{i:02}.png"), &grey(i));
    }
}

fn levels(stream: &mut ImageFolderStream) -> Vec<u8> {
    let (images, _) = read_all(stream);
    values(&images).chunks(3).map(|p| p[0] as u8).collect()
}

#[test]
fn image_dataset_from_directory_splits_the_shuffled_tail() {
    let scratch = Scratch::new("stream-split");
    fifteen(&scratch);
    let options =
        |subset| DirectoryOptions::default().image_size(1, 1).seed(5).validation_split(0.3).subset(subset);
    let mut training = image_dataset_from_directory(scratch.path(), options(Subset::Training)).unwrap();
    let mut validation = image_dataset_from_directory(scratch.path(), options(Subset::Validation)).unwrap();
    // Keras holds out int(0.3 * 15) = 4 (4.5 truncated) and trains on the other 11.
    assert_eq!((training.len(), validation.len()), (11, 4));
    let mut all: Vec<u8> = [levels(&mut training), levels(&mut validation)].concat();
    all.sort_unstable();
    assert_eq!(all, (0..15).collect::<Vec<u8>>(), "the subsets are disjoint and cover the folder");
    // Shuffled before the split: the tail is not simply the last files.
    assert_ne!(validation.labels().unwrap(), [1, 1, 1, 1]);
    // Without shuffling the tail is the last files in listing order.
    let unshuffled = |subset| options(subset).shuffle(false);
    let mut tail = image_dataset_from_directory(scratch.path(), unshuffled(Subset::Validation)).unwrap();
    assert_eq!(levels(&mut tail), [11, 12, 13, 14]);
    let message =
        image_dataset_from_directory(scratch.path(), DirectoryOptions::default().validation_split(0.2))
            .unwrap_err()
            .to_string();
    assert!(message.contains("subset"), "{message}");
    let tiny = DirectoryOptions::default().validation_split(0.05).subset(Subset::Training);
    let message = image_dataset_from_directory(scratch.path(), tiny).unwrap_err().to_string();
    assert!(message.contains("holds out 0"), "{message}");
}

#[test]
fn flow_from_directory_splits_the_head_of_each_class() {
    let scratch = Scratch::new("stream-flow-split");
    fifteen(&scratch);
    let generator = ImageDataGenerator::new();
    let options = |subset| in_order().image_size(1, 1).seed(3).validation_split(0.3).subset(subset);
    // Keras's DirectoryIterator: per class, files [0, int(0.3 n)) validate: 3 of "a", 1 of "b".
    let mut validation = generator.flow_from_directory(scratch.path(), options(Subset::Validation)).unwrap();
    assert_eq!(levels(&mut validation), [0, 1, 2, 10]);
    let mut training = generator.flow_from_directory(scratch.path(), options(Subset::Training)).unwrap();
    assert_eq!(levels(&mut training), [3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14]);
    // A split without a subset reads every file, as Keras does.
    let all = generator.flow_from_directory(scratch.path(), in_order().validation_split(0.3)).unwrap();
    assert_eq!(all.len(), 15);
}

#[test]
fn epochs_reshuffle_from_the_seed() {
    let scratch = Scratch::new("stream-shuffle");
    fifteen(&scratch);
    let options = DirectoryOptions::default().image_size(1, 1).batch_size(4).seed(11);
    let mut stream = image_dataset_from_directory(scratch.path(), options.clone().workers(1)).unwrap();
    let epoch = |stream: &mut ImageFolderStream, e: usize| -> Vec<f64> {
        stream.epoch(e).unwrap().flat_map(|b| values(&b.unwrap().inputs[0])).collect()
    };
    let (first, second) = (epoch(&mut stream, 0), epoch(&mut stream, 1));
    assert_ne!(first, second, "each epoch has its own order");
    let mut sorted = first.clone();
    sorted.sort_by(f64::total_cmp);
    assert_eq!(sorted, (0..15).flat_map(|v| [v as f64; 3]).collect::<Vec<_>>());
    let mut other = image_dataset_from_directory(scratch.path(), options.workers(3).prefetch(1)).unwrap();
    assert_eq!(epoch(&mut other, 1), second, "the order depends on the seed and epoch, not the workers");
}

fn classifier(inputs: [usize; 3], classes: usize) -> Model {
    set_random_seed(3);
    let mut model = Model::sequential(vec![
        Box::new(Flatten::new().input_shape(&inputs)),
        Box::new(Dense::new(classes).activation("softmax")),
    ])
    .unwrap();
    model
        .compile(
            Sgd { learning_rate: 0.01, ..Sgd::default() },
            "sparse_categorical_crossentropy",
            &["accuracy"],
        )
        .unwrap();
    model
}

#[test]
fn a_flat_folder_predicts_in_file_order() {
    let scratch = Scratch::new("stream-flat");
    for i in 0..7u8 {
        scratch.write(&format!("{i}.png"), &grey(i * 30));
    }
    // A flat folder has no class folders: Keras reads it with labels=None.
    let error = image_dataset_from_directory(scratch.path(), in_order()).unwrap_err().to_string();
    assert!(error.contains("no class sub-folders"), "{error}");
    // Sub-folders are read too, after the folder's own files.
    scratch.write("more/7.png", &grey(210));
    let options = in_order().labels(Labels::None).image_size(2, 2);
    let mut stream = image_dataset_from_directory(scratch.path(), options).unwrap();
    assert!(stream.labels().is_none() && stream.class_names().is_empty());
    assert_eq!(stream.len(), 8);
    let model = classifier([2, 2, 3], 2);
    let predicted = model.predict_stream(&mut stream).unwrap();
    let (images, targets) = read_all(&mut stream);
    assert!(targets.is_none());
    let expected = model.predict(&images, 32).unwrap();
    assert_eq!(predicted.dims(), &[8, 2]);
    assert_eq!(values(&predicted), values(&expected));
    let mut model = model;
    let message = model.fit_stream(&mut stream, FitOptions::default().verbose(0)).unwrap_err().to_string();
    assert!(message.contains("no targets"), "{message}");
}

#[test]
fn a_file_that_does_not_decode_is_an_error_naming_it() {
    let scratch = Scratch::new("stream-broken");
    fifteen(&scratch);
    scratch.write("b/broken.png", b"these bytes are not a PNG");
    let mut stream = image_dataset_from_directory(scratch.path(), in_order().image_size(2, 2)).unwrap();
    let errors: Vec<String> =
        stream.epoch(0).unwrap().filter_map(|b| b.err().map(|e| e.to_string())).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("broken.png") && errors[0].contains("cannot decode"), "{}", errors[0]);
    let mut model = classifier([2, 2, 3], 2);
    let message = model.fit_stream(&mut stream, FitOptions::default().verbose(0)).unwrap_err().to_string();
    assert!(message.contains("broken.png"), "{message}");
}

#[test]
fn listing_errors_name_the_problem() {
    let scratch = Scratch::new("stream-errors");
    let load = |dir: &std::path::Path| image_dataset_from_directory(dir, in_order().image_size(2, 2));
    match load(&scratch.path().join("missing")) {
        Err(NnError::Io { path, .. }) => assert!(path.ends_with("missing"), "{path}"),
        other => panic!("expected an I/O error, got {other:?}"),
    }
    assert!(load(scratch.path()).unwrap_err().to_string().contains("no class sub-folders"));
    scratch.write("cats/readme.txt", b"no images here");
    let message = load(scratch.path()).unwrap_err().to_string();
    assert!(
        message.contains("no images") && message.contains("cats") && message.contains(".gif"),
        "{message}"
    );
    let message =
        image_dataset_from_directory(scratch.path(), in_order().image_size(0, 2)).unwrap_err().to_string();
    assert!(message.contains("image_size"), "{message}");
    let message =
        image_dataset_from_directory(scratch.path(), in_order().workers(0)).unwrap_err().to_string();
    assert!(message.contains("workers"), "{message}");
}

#[test]
fn fit_evaluate_and_validate_on_streams() {
    let scratch = Scratch::new("stream-fit");
    // Dark images are class "dark", bright ones "light": a linear model separates them.
    for i in 0..24u8 {
        let (class, level) = if i % 2 == 0 { ("dark", i) } else { ("light", 200 + i) };
        scratch.write(&format!("{class}/{i:02}.png"), &grey(level));
    }
    let generator = ImageDataGenerator::new().rescale(1.0 / 255.0);
    let options = DirectoryOptions::default().image_size(2, 2).batch_size(5).label_mode(LabelMode::Int);
    let mut train = generator.flow_from_directory(scratch.path(), options.clone()).unwrap();
    let mut validation =
        generator.flow_from_directory(scratch.path(), options.clone().shuffle(false)).unwrap();
    let mut model = classifier([2, 2, 3], 2);
    model
        .compile(
            Sgd { learning_rate: 0.5, ..Sgd::default() },
            "sparse_categorical_crossentropy",
            &["accuracy"],
        )
        .unwrap();
    let mut out = Vec::new();
    let history = model
        .fit_stream(
            &mut train,
            FitOptions::default().epochs(20).verbose(2).output(&mut out).validation_stream(&mut validation),
        )
        .unwrap();
    let text = String::from_utf8(out).unwrap();
    // 24 images in batches of 5: the progress line counts 5 steps.
    assert!(text.contains("5/5 - "), "{text}");
    let loss = history.get("loss").unwrap();
    assert!(loss.last().unwrap() < &(loss[0] * 0.5), "the loss did not fall: {loss:?}");
    let val_accuracy = history.get("val_accuracy").unwrap();
    assert_eq!(*val_accuracy.last().unwrap(), 1.0, "{val_accuracy:?}");
    let logs = model.evaluate_stream(&mut validation, EvaluateOptions::default().verbose(0)).unwrap();
    // The same numbers as evaluate on the same images as tensors.
    let (images, labels) = read_all(&mut validation);
    let direct = model
        .evaluate(&images, labels.unwrap(), EvaluateOptions::default().batch_size(5).verbose(0))
        .unwrap();
    assert!((logs["loss"] - direct["loss"]).abs() <= 1e-6, "{logs:?} vs {direct:?}");
    assert_eq!(logs["accuracy"], direct["accuracy"]);
    let refused = model.fit_stream(&mut train, FitOptions::default().validation_split(0.2)).unwrap_err();
    assert!(refused.to_string().contains("validation_split"), "{refused}");
}

/// The folder Keras was run on: 3 classes of PNGs (some with an upper-case extension) and
/// JPEGs, a hidden file, a nested folder, a file beside it whose name sorts after the folder's,
/// and a hidden folder.
fn keras_tree(scratch: &Scratch) {
    for (class, n) in [("cats", 5), ("dogs", 4), ("zebras", 3)] {
        for i in 0..n {
            let extension = ["png", "PNG", "jpg"][i % 3];
            scratch.write(&format!("{class}/img{i}.{extension}"), &grey(i as u8));
        }
    }
    for file in ["cats/.hidden.png", "cats/sub/deep.png", "cats/sub-b.png", ".hiddenclass/x.png"] {
        scratch.write(file, &grey(0));
    }
}

/// What Keras 3.15.1 (TensorFlow 2.21.0, numpy 2.4.6) lists for `keras_tree`: the files in
/// `os.walk` order (a folder's own files before its sub-folders'), hidden files included, a
/// hidden class folder passed over by `image_dataset_from_directory` but read as a class by
/// `flow_from_directory`, the explicit class order, and the per-class split.
#[test]
fn folders_list_as_keras_lists_them() {
    let scratch = Scratch::new("stream-keras-listing");
    keras_tree(&scratch);
    let options = in_order().image_size(1, 1);
    let stream = image_dataset_from_directory(scratch.path(), options.clone()).unwrap();
    let cats = [
        "cats/.hidden.png",
        "cats/img0.png",
        "cats/img1.PNG",
        "cats/img2.jpg",
        "cats/img3.png",
        "cats/img4.PNG",
        "cats/sub-b.png",
        "cats/sub/deep.png",
    ];
    let dogs = ["dogs/img0.png", "dogs/img1.PNG", "dogs/img2.jpg", "dogs/img3.png"];
    let zebras = ["zebras/img0.png", "zebras/img1.PNG", "zebras/img2.jpg"];
    assert_eq!(relative(&stream, &scratch), [&cats[..], &dogs, &zebras].concat());
    assert_eq!(stream.class_names(), ["cats", "dogs", "zebras"]);
    assert_eq!(stream.labels().unwrap(), [[0; 8].as_slice(), &[1; 4], &[2; 3]].concat());
    let flow = ImageDataGenerator::new().flow_from_directory(scratch.path(), options.clone()).unwrap();
    assert_eq!(flow.class_names(), [".hiddenclass", "cats", "dogs", "zebras"]);
    assert_eq!(relative(&flow, &scratch), [&[".hiddenclass/x.png"][..], &cats, &dogs, &zebras].concat());
    // Keras's len(): 15 files in batches of 5 make 3; flow's 16 make 4.
    let batches = |o: DirectoryOptions| o.batch_size(5);
    assert_eq!(
        image_dataset_from_directory(scratch.path(), batches(options.clone())).unwrap().steps_per_epoch(),
        3
    );
    let flow =
        ImageDataGenerator::new().flow_from_directory(scratch.path(), batches(options.clone())).unwrap();
    assert_eq!(flow.steps_per_epoch(), 4);
    // class_names / classes choose and order the classes; binary labels follow that order.
    let binary = options.clone().class_names(["zebras", "cats"]).label_mode(LabelMode::Binary);
    let mut stream = image_dataset_from_directory(scratch.path(), binary.clone()).unwrap();
    assert_eq!(relative(&stream, &scratch), [&zebras[..], &cats].concat());
    let labels = read_all(&mut stream).1.unwrap();
    assert_eq!((labels.dims(), values(&labels)), (&[11, 1][..], [[0.; 3].as_slice(), &[1.; 8]].concat()));
    let mut flow = ImageDataGenerator::new().flow_from_directory(scratch.path(), binary).unwrap();
    let labels = read_all(&mut flow).1.unwrap();
    assert_eq!((labels.dims(), values(&labels)), (&[11][..], [[0.; 3].as_slice(), &[1.; 8]].concat()));
    // flow_from_directory's validation_split=0.25 holds out int(0.25 n) files of each class.
    let split = |subset| {
        let o = options.clone().validation_split(0.25).subset(subset);
        relative(&ImageDataGenerator::new().flow_from_directory(scratch.path(), o).unwrap(), &scratch)
    };
    assert_eq!(split(Subset::Validation), ["cats/.hidden.png", "cats/img0.png", "dogs/img0.png"]);
    assert_eq!(split(Subset::Training).len(), 13);
    // image_dataset_from_directory shuffles every file with numpy's RandomState(1337) before
    // it holds out the last int(0.25 * 15) = 3; Keras's file_paths, in its order.
    let split = |subset| {
        let o = options.clone().shuffle(true).seed(1337).validation_split(0.25).subset(subset);
        relative(&image_dataset_from_directory(scratch.path(), o).unwrap(), &scratch)
    };
    assert_eq!(split(Subset::Validation), ["zebras/img0.png", "zebras/img1.PNG", "cats/sub/deep.png"]);
    let training = [
        "cats/img4.PNG",
        "cats/img2.jpg",
        "cats/img0.png",
        "cats/.hidden.png",
        "cats/img3.png",
        "cats/sub-b.png",
        "dogs/img3.png",
        "cats/img1.PNG",
        "dogs/img2.jpg",
        "dogs/img1.PNG",
        "zebras/img2.jpg",
        "dogs/img0.png",
    ];
    assert_eq!(split(Subset::Training), training);
    for (names, expected) in [(vec!["cats", "birds"], "birds"), (vec!["cats", "cats"], "twice")] {
        let message = image_dataset_from_directory(scratch.path(), options.clone().class_names(names))
            .unwrap_err()
            .to_string();
        assert!(message.contains(expected) && message.contains("class_names"), "{message}");
    }
}

/// A 3 x 5 RGB image, pixel k = 5 r + c holding (37 k, 37 k + 91, 37 k + 182) mod 256, read at
/// 2 x 3 by Keras 3.15.1 (TensorFlow 2.21.0, Pillow 13.0.0): TensorFlow's bilinear resize for
/// `image_dataset_from_directory`, PIL's nearest pixel and `convert("L")` for
/// `flow_from_directory`.
#[test]
fn pixels_match_keras_readers() {
    let scratch = Scratch::new("stream-keras-pixels");
    let image = RgbImage::from_fn(5, 3, |c, r| {
        let k = (5 * r + c) * 37;
        Rgb([k % 256, (k + 91) % 256, (k + 182) % 256].map(|v| v as u8))
    });
    scratch.write("a/rgb.png", &png(&image));
    let options = in_order().image_size(2, 3);
    let read = |options: DirectoryOptions, flow: bool| {
        let mut stream = if flow {
            ImageDataGenerator::new().flow_from_directory(scratch.path(), options).unwrap()
        } else {
            image_dataset_from_directory(scratch.path(), options).unwrap()
        };
        values(&read_all(&mut stream).0)
    };
    let keras_rgb = [
        58.583332, 85.583336, 176.58333, 56.25, 147.25, 46.25, 117.916656, 208.91666, 65.25, 144.08334,
        171.08333, 70.083336, 141.75, 40.75, 131.75, 75.41669, 102.41666, 150.75,
    ];
    // f32 bilinear weights on both sides: within 1e-3 of 255.
    assert_close(&read(options.clone(), false), &keras_rgb, 1e-3);
    let flow_rgb =
        [0., 91., 182., 74., 165., 0., 148., 239., 74., 114., 205., 40., 188., 23., 114., 6., 97., 188.];
    assert_eq!(read(options.clone(), true), flow_rgb);
    let grey = options.color_mode(ColorMode::Grayscale);
    assert_eq!(read(grey.clone(), true), [74., 119., 193., 159., 83., 80.]);
    // TensorFlow's PNG decoder converts to grey by libpng's rule, which differs from PIL's by
    // at most one level: Keras gives these values, PIL's luma resized here lands within 1.
    let keras_grey = [87.583336, 107.75, 164.41666, 150.58333, 80.75, 99.41667];
    assert_close(&read(grey, false), &keras_grey, 1.0);
}

/// Keras's `standardize` runs `preprocessing_function` before `rescale`: Keras 3.15.1 gives 45
/// for 100 through `lambda x: x - 10` and `rescale=0.5`.
#[test]
fn preprocessing_function_runs_before_rescale_as_in_keras() {
    let scratch = Scratch::new("stream-preprocessing-function");
    scratch.write("a/grey.png", &grey(100));
    scratch.write("b/colour.png", &png(&RgbImage::from_pixel(2, 2, Rgb([10, 20, 30]))));
    let options = in_order().image_size(1, 1);
    let read = |generator: ImageDataGenerator| {
        values(&read_all(&mut generator.flow_from_directory(scratch.path(), options.clone()).unwrap()).0)
    };
    let generator =
        ImageDataGenerator::new().preprocessing_function(|x: &Tensor| Ok(x.add_scalar(-10.0)?)).rescale(0.5);
    assert_eq!(read(generator), [45., 45., 45., 0., 5., 10.]);
    // VGG16's preprocess_input: BGR less the ImageNet means, as Keras's "caffe" mode.
    let vgg = read(ImageDataGenerator::new().preprocessing_function(vgg16::preprocess_input));
    let expected =
        [100. - 103.939, 100. - 116.779, 100. - 123.68, 30. - 103.939, 20. - 116.779, 10. - 123.68];
    assert_close(&vgg, &expected, 1e-4);
    let mobile = read(ImageDataGenerator::new().preprocessing_function(mobilenet::preprocess_input));
    assert_close(
        &mobile,
        &[100. / 127.5 - 1.; 3]
            .into_iter()
            .chain([10., 20., 30.].map(|v| v / 127.5 - 1.))
            .collect::<Vec<_>>(),
        1e-6,
    );
    // A function that changes the image's shape is an error naming it and both shapes.
    let cut = ImageDataGenerator::new().preprocessing_function(|x: &Tensor| Ok(x.slice(-1, 0, 1)?));
    let mut stream = cut.flow_from_directory(scratch.path(), options.clone()).unwrap();
    let message = stream.epoch(0).unwrap().find_map(Result::err).unwrap().to_string();
    assert!(
        message.contains("preprocessing_function")
            && message.contains("[1, 1, 3]")
            && message.contains("[1, 1, 1]"),
        "{message}"
    );
}

/// Keras's `follow_links` defaults to false: a class's sub-folder that is a symbolic link is
/// read only when asked, and then once, even when it leads to a folder read already.
#[test]
fn linked_sub_folders_are_read_only_when_following_links() {
    let scratch = Scratch::new("stream-follow-links");
    scratch.write("a/1.png", &grey(1));
    scratch.write("b/2.png", &grey(2));
    let outside = Scratch::new("stream-follow-links-target");
    outside.write("3.png", &grey(3));
    std::os::unix::fs::symlink(outside.path(), scratch.path().join("a/linked")).unwrap();
    std::os::unix::fs::symlink("../b", scratch.path().join("a/b-again")).unwrap();
    let listed = |options: DirectoryOptions| {
        relative(&image_dataset_from_directory(scratch.path(), options).unwrap(), &scratch)
    };
    assert_eq!(listed(in_order()), ["a/1.png", "b/2.png"]);
    // Followed, the outside folder's image joins class a; b, read as a class, is not read twice.
    assert_eq!(listed(in_order().follow_links(true)), ["a/1.png", "a/linked/3.png", "b/2.png"]);
}
