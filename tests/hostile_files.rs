//! Hostile files: IDX files, safetensors model and weight files and image folders that are
//! empty, truncated, corrupt, oversized, or whose headers lie about what follows. Each must be
//! refused with an error naming the file and what was expected and found, before anything of the
//! declared size is allocated; never a panic, an abort or a file read twice.

mod common;

use std::path::PathBuf;

use common::fixtures::{
    IMAGES_MAGIC, gzip, idx_bytes, idx_images, idx_labels, image_folder, layer_config, model_file, png,
    png_declaring, scratch, small_model, with_architecture, with_header, write,
};
use common::hostile::Suite;
use serde_json::json;
use tessera::Tensor;
use tessera::nn::NnError;
use tessera::nn::data::{
    BatchStream, DirectoryOptions, ImageFolderStream, image_dataset_from_directory, read_idx_images,
    read_idx_labels,
};
use tessera::nn::io::{load_model, load_weights, save_weights};
use tessera::tensor_core::cpu::set_host_memory_limit;

type Check = Result<Option<String>, NnError>;

fn idx_cases(suite: &mut Suite) {
    let dir = scratch("hostile-idx");
    let valid = idx_images(3);
    for (suffix, encode) in [("raw", (|b: &[u8]| b.to_vec()) as fn(&[u8]) -> Vec<u8>), ("gz", gzip)] {
        let file = |name: &str, bytes: &[u8]| write(&dir, &format!("{name}.{suffix}"), &encode(bytes));
        let path = file("valid", &valid);
        suite.correct(&format!("{suffix}: a valid IDX image file"), move || -> Check {
            let images = read_idx_images(&path)?;
            Ok(((images.n, images.rows, images.cols, images.pixels.len()) != (3, 4, 3, 36))
                .then(|| format!("{images:?}")))
        });
        let path = file("labels", &idx_labels(5));
        suite.correct(&format!("{suffix}: a valid IDX label file"), move || -> Check {
            let labels = read_idx_labels(&path)?;
            Ok((labels != [0, 1, 2, 3, 4]).then(|| format!("{labels:?}")))
        });
        let path = file("header-cut", &valid[..10]);
        suite.error(
            &format!("{suffix}: header cut at 10 bytes"),
            &["header-cut", "truncated header: 10 bytes", "16"],
            move || read_idx_images(&path),
        );
        let path = file("data-cut", &valid[..30]);
        suite.error(
            &format!("{suffix}: data cut short"),
            &["data-cut", "truncated data", "need 36 bytes", "only 14"],
            move || read_idx_images(&path),
        );
        let mut long = valid.clone();
        long.extend([9; 7]);
        let path = file("trailing", &long);
        suite.error(&format!("{suffix}: trailing garbage"), &["trailing", "7 unexpected", "36"], move || {
            read_idx_images(&path)
        });
        let path = file("lying", &idx_bytes(IMAGES_MAGIC, &[60_000, 28, 28], &[0; 12]));
        suite.error(
            &format!("{suffix}: header declares 60,000 images, 12 bytes follow"),
            &["lying", "truncated data", "47040000"],
            move || read_idx_images(&path),
        );
        let path = file("huge", &idx_bytes(IMAGES_MAGIC, &[u32::MAX, 1 << 16, 1 << 16], &[0; 12]));
        suite.error(
            &format!("{suffix}: header declares 2^64 - 2^32 bytes"),
            &["huge", "truncated data", "18446744069414584320"],
            move || read_idx_images(&path),
        );
        let path = file("overflow", &idx_bytes(IMAGES_MAGIC, &[u32::MAX, u32::MAX, u32::MAX], &[]));
        suite.error(
            &format!("{suffix}: dimensions overflow"),
            &["overflow", "more elements than memory can address"],
            move || read_idx_images(&path),
        );
        let path = file("magic", &idx_bytes(0x0000_0d03, &[1, 1, 1], &[0; 4]));
        suite.error(&format!("{suffix}: float element type"), &["magic", "element type 0x0d"], move || {
            read_idx_images(&path)
        });
        let path = file("swapped", &idx_labels(3));
        suite.error(
            &format!("{suffix}: labels read as images"),
            &["swapped", "magic number 0x00000801"],
            move || read_idx_images(&path),
        );
        let path = file("zero-images", &idx_bytes(IMAGES_MAGIC, &[0, 28, 28], &[]));
        suite.correct(&format!("{suffix}: zero images is an empty set"), move || -> Check {
            let images = read_idx_images(&path)?;
            Ok((images.n != 0 || !images.pixels.is_empty()).then(|| format!("{images:?}")))
        });
    }
    let path = write(&dir, "empty", &[]);
    suite.error("an empty file", &["empty", "the file is empty"], move || read_idx_images(&path));
    let path = write(&dir, "empty.gz", &gzip(&[]));
    suite.error("an empty gzip stream", &["empty.gz", "truncated header: 0 bytes"], move || {
        read_idx_labels(&path)
    });
    // A gzip bomb behind a valid file: 64 MiB of zeros after 3 images, in about 64 KiB.
    let mut bomb = valid.clone();
    bomb.resize(valid.len() + (64 << 20), 0);
    let path = write(&dir, "bomb.gz", &gzip(&bomb));
    suite.error(
        "a gzip bomb after valid data",
        &["bomb.gz", "at least 1048576 unexpected decompressed bytes"],
        move || read_idx_images(&path),
    );
    // A header declaring 2 GiB in a stream of a few bytes: refused before it is inflated or held.
    let path = write(&dir, "lying.gz", &gzip(&idx_bytes(IMAGES_MAGIC, &[32_768, 256, 256], &[0; 100])));
    suite.error(
        "a small gzip stream declaring 2 GiB",
        &["lying.gz", "truncated data", "2147483648", "at most"],
        move || read_idx_images(&path),
    );
    let compressed = gzip(&idx_bytes(
        IMAGES_MAGIC,
        &[30, 10, 100],
        &(0..30_000u32).map(|i| (i * 7919 % 251) as u8).collect::<Vec<_>>(),
    ));
    let mut flipped = compressed.clone();
    let middle = flipped.len() / 2;
    flipped[middle..middle + 16].iter_mut().for_each(|b| *b ^= 0x5a);
    let path = write(&dir, "flipped.gz", &flipped);
    suite.error("a corrupt gzip stream", &["flipped.gz", "corrupt or truncated gzip data"], move || {
        read_idx_images(&path)
    });
    let path = write(&dir, "cut.gz", &compressed[..compressed.len() / 2]);
    suite.error("a gzip stream cut in half", &["cut.gz", "corrupt or truncated gzip data"], move || {
        read_idx_images(&path)
    });
    let path = write(&dir, "no-trailer.gz", &compressed[..compressed.len() - 4]);
    suite.error("a gzip stream without its trailer", &["no-trailer.gz", "gzip"], move || {
        read_idx_images(&path)
    });
    let path = dir.clone();
    suite.error("a directory", &["hostile-idx"], move || read_idx_images(&path));
    let path = dir.join("absent");
    suite.error("a missing file", &["absent"], move || read_idx_labels(&path));
}

fn model_cases(suite: &mut Suite) {
    let dir = scratch("hostile-model");
    let valid_path = model_file(&dir);
    let valid = std::fs::read(&valid_path).unwrap();
    let path = valid_path.clone();
    suite.correct("a valid model file", move || -> Check {
        let model = load_model(&path)?;
        let counts: Vec<usize> = model.weights().iter().map(|w| w.value().numel()).collect();
        Ok((counts != [12, 3, 6, 2]).then(|| format!("weights of {counts:?} elements")))
    });
    let file = |name: &str, bytes: Vec<u8>| write(&dir, name, &bytes);

    let path = file(
        "units-1e9",
        with_architecture(&valid, |a| layer_config(a, 2)["units"] = json!(1_000_000_000u64)),
    );
    suite.error(
        "Dense(units=1e9) declared",
        &["units-1e9", "dense_1", "kernel", "(3, 1000000000)", "has shape (3, 2)"],
        move || load_model(&path),
    );
    let path = file(
        "renamed-1e9",
        with_architecture(&valid, |a| {
            layer_config(a, 2)["units"] = json!(1_000_000_000u64);
            layer_config(a, 2)["name"] = json!("huge");
        }),
    );
    suite.error(
        "Dense(units=1e9) declared under a new name",
        &["renamed-1e9", "huge", "(3, 1000000000)", "larger than any tensor"],
        move || load_model(&path),
    );
    let path = file(
        "units-2e18",
        with_architecture(&valid, |a| layer_config(a, 1)["units"] = json!(2_000_000_000_000_000_000u64)),
    );
    suite.error(
        "Dense(units=2e18) declared: the kernel overflows",
        &["units-2e18", "dense", "kernel"],
        move || load_model(&path),
    );
    let path = file("units-5", with_architecture(&valid, |a| layer_config(a, 1)["units"] = json!(5)));
    suite.error(
        "Dense(units=5) declared, (4, 3) stored",
        &["units-5", "dense", "(4, 5)", "(4, 3)"],
        move || load_model(&path),
    );
    let path = file(
        "input-2^32",
        with_architecture(&valid, |a| {
            layer_config(a, 0)["batch_shape"] = json!([null, 4_294_967_296u64, 4_294_967_296u64])
        }),
    );
    suite.error("an input shape of (2^32, 2^32) declared", &["input-2^32", "dense"], move || {
        load_model(&path)
    });
    let path = file(
        "flatten-2^32",
        with_architecture(&valid, |a| {
            let layers = a["config"]["layers"].as_array_mut().unwrap();
            layers[0]["config"]["batch_shape"] = json!([null, 4_294_967_296u64, 4_294_967_296u64]);
            layers.insert(
                1,
                json!({"class_name": "Flatten", "config": {"name": "flatten", "trainable": true}}),
            );
        }),
    );
    suite.error(
        "Flatten of (2^32, 2^32) declared",
        &["flatten-2^32", "flatten", "more features than memory"],
        move || load_model(&path),
    );
    let path = file("shape-lie", with_header(&valid, |h| h["dense/kernel"]["shape"] = json!([40, 30])));
    suite.error(
        "a tensor whose shape does not fit its bytes",
        &["shape-lie", "not a safetensors file"],
        move || load_model(&path),
    );
    let path = file(
        "shape-huge",
        with_header(&valid, |h| h["dense/kernel"]["shape"] = json!([4_294_967_296u64, 4_294_967_296u64])),
    );
    suite.error("a tensor of (2^32, 2^32)", &["shape-huge", "not a safetensors file"], move || {
        load_model(&path)
    });
    let path = file("dtype-i32", with_header(&valid, |h| h["dense/kernel"]["dtype"] = json!("I32")));
    suite.error("a tensor of I32", &["dtype-i32", "dense/kernel", "I32", "expected F32 or F64"], move || {
        load_model(&path)
    });
    let path = file("dtype-f64", with_header(&valid, |h| h["dense/kernel"]["dtype"] = json!("F64")));
    suite.error("an F32 tensor labelled F64", &["dtype-f64", "not a safetensors file"], move || {
        load_model(&path)
    });
    let path = file("cut", valid[..valid.len() - 7].to_vec());
    suite.error("a file cut short", &["cut", "not a safetensors file"], move || load_model(&path));
    let path = file("header-cut", valid[..40].to_vec());
    suite.error("a file cut inside its header", &["header-cut", "not a safetensors file"], move || {
        load_model(&path)
    });
    let mut huge_header = valid.clone();
    huge_header[..8].copy_from_slice(&(1u64 << 60).to_le_bytes());
    let path = file("header-2^60", huge_header);
    suite.error("a header length of 2^60", &["header-2^60", "not a safetensors file"], move || {
        load_model(&path)
    });
    let path = file(
        "metadata-20M",
        with_header(&valid, |h| h["__metadata__"]["architecture"] = json!("x".repeat(20 << 20))),
    );
    suite.error("20 MB of metadata that is not an architecture", &["metadata-20M", "JSON"], move || {
        load_model(&path)
    });
    let path = file(
        "architecture-array",
        with_header(&valid, |h| h["__metadata__"]["architecture"] = json!("[1, 2]")),
    );
    suite.error("an architecture that is a JSON array", &["architecture-array", "JSON object"], move || {
        load_model(&path)
    });
    let path = file("garbage", b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!".to_vec());
    suite.error("bytes that are not safetensors", &["garbage", "not a safetensors file"], move || {
        load_model(&path)
    });
    let path = file("empty", Vec::new());
    suite.error("an empty file", &["empty", "not a safetensors file"], move || load_model(&path));
    let weights_path = dir.join("weights.safetensors");
    save_weights(&small_model(), &weights_path).unwrap();
    let path = weights_path.clone();
    suite.error(
        "a weights file given to load_model",
        &["weights.safetensors", "no model architecture"],
        move || load_model(&path),
    );
    let path = weights_path.clone();
    suite.correct("a weights file given to load_weights", move || -> Check {
        let model = small_model();
        load_weights(&model, &path)?;
        Ok(None)
    });
    let lying = std::fs::read(&weights_path).unwrap();
    let path = file("weights-lie", with_header(&lying, |h| h["dense_1/bias"]["shape"] = json!([1, 2])));
    suite.error(
        "a weights file of another shape",
        &["weights-lie", "dense_1/bias", "[1, 2]", "[2]"],
        move || load_weights(&small_model(), &path),
    );
    let path = file("weights-i32", with_header(&lying, |h| h["dense/bias"]["dtype"] = json!("I32")));
    suite
        .error("a weights file of I32", &["weights-i32", "I32"], move || load_weights(&small_model(), &path));
}

/// The images of `dir` at `size`, read in file order through a stream (which is returned
/// too, for its listing).
fn read_folder(dir: PathBuf, size: (usize, usize)) -> tessera::nn::Result<(ImageFolderStream, Tensor)> {
    let options = DirectoryOptions::default().image_size(size.0, size.1).shuffle(false).batch_size(2);
    let mut stream = image_dataset_from_directory(dir, options)?;
    let batches =
        stream.epoch(0)?.map(|b| Ok(b?.inputs.remove(0))).collect::<tessera::nn::Result<Vec<_>>>()?;
    let images = Tensor::concat(&batches.iter().collect::<Vec<_>>(), 0)?;
    Ok((stream, images))
}

fn image_cases(suite: &mut Suite) {
    let load = |dir: PathBuf, size: (usize, usize)| read_folder(dir, size);
    let dir = image_folder("hostile-images-valid");
    suite.correct("a valid image folder", move || -> Check {
        let (stream, images) = load(dir, (4, 4))?;
        Ok((images.dims() != [4, 4, 4, 3] || stream.labels() != Some(&[0, 0, 1, 1][..]))
            .then(|| format!("{stream:?}")))
    });
    let corrupt = |name: &str, file: &str, bytes: Vec<u8>| {
        let dir = image_folder(name);
        write(&dir, file, &bytes);
        dir
    };
    let dir = corrupt("hostile-images-garbage", "cats/garbage.png", b"this is not a PNG at all".to_vec());
    suite.error("a file of text named .png", &["garbage.png"], move || load(dir, (4, 4)));
    let valid = png(6, 5);
    let dir = corrupt("hostile-images-cut", "dogs/cut.png", valid[..valid.len() / 2].to_vec());
    suite.error("a PNG cut in half", &["cut.png"], move || load(dir, (4, 4)));
    let mut flipped = valid.clone();
    let n = flipped.len();
    flipped[n / 2..n / 2 + 8].iter_mut().for_each(|b| *b ^= 0xa5);
    let dir = corrupt("hostile-images-flipped", "dogs/flipped.png", flipped);
    suite.error("a PNG with flipped bytes", &["flipped.png"], move || load(dir, (4, 4)));
    let dir = corrupt("hostile-images-zero", "cats/zero.png", png_declaring(&valid, 0, 0));
    suite.error("a PNG declaring 0 x 0", &["zero.png"], move || load(dir, (4, 4)));
    let dir = corrupt("hostile-images-huge", "cats/huge.png", png_declaring(&valid, 100_000, 100_000));
    suite.error("a PNG declaring 100,000 x 100,000", &["huge.png", "100000 x 100000"], move || {
        load(dir, (4, 4))
    });
    let dir = corrupt("hostile-images-big", "cats/big.png", png_declaring(&valid, 30_000, 30_000));
    suite.error(
        "a PNG declaring 30,000 x 30,000 (2.7 GB decoded)",
        &["big.png", "30000 x 30000"],
        move || load(dir, (4, 4)),
    );
    let dir = corrupt("hostile-images-jpeg", "cats/fake.jpg", valid[..20].to_vec());
    suite.error("a PNG header named .jpg, cut", &["fake.jpg"], move || load(dir, (4, 4)));
    let dir = corrupt("hostile-images-text", "cats/notes.txt", b"not an image, not read".to_vec());
    suite.correct("a text file among the images is ignored", move || -> Check {
        let (stream, _) = load(dir, (4, 4))?;
        Ok((stream.files().len() != 4).then(|| format!("{:?}", stream.files())))
    });
    let dir = image_folder("hostile-images-cycle");
    std::os::unix::fs::symlink("..", dir.join("cats/up")).unwrap();
    std::os::unix::fs::symlink(".", dir.join("dogs/self")).unwrap();
    suite.correct("a folder with symlink cycles reads each image once", move || -> Check {
        let (stream, _) = load(dir, (4, 4))?;
        Ok((stream.files().len() != 4 || stream.labels() != Some(&[0, 0, 1, 1][..]))
            .then(|| format!("{:?}", stream.files())))
    });
    let dir = image_folder("hostile-images-sibling");
    std::os::unix::fs::symlink("../dogs", dir.join("cats/dogs-again")).unwrap();
    std::fs::create_dir_all(dir.join("birds/deep")).unwrap();
    std::os::unix::fs::symlink("../../cats", dir.join("birds/deep/cats-again")).unwrap();
    write(&dir, "birds/deep/1.png", &png(2, 2));
    suite.correct("links to folders read already are skipped", move || -> Check {
        let (stream, _) = load(dir, (4, 4))?;
        Ok((stream.files().len() != 5 || stream.labels() != Some(&[0, 1, 1, 2, 2][..]))
            .then(|| format!("{:?} {:?}", stream.labels(), stream.files())))
    });
    let dir = scratch("hostile-images-empty");
    suite.error("an empty folder", &["hostile-images-empty", "no class sub-folders"], move || {
        load(dir, (4, 4))
    });
    let dir = scratch("hostile-images-empty-classes");
    std::fs::create_dir_all(dir.join("a")).unwrap();
    std::fs::create_dir_all(dir.join("b")).unwrap();
    suite.error("class folders without images", &["no images", "a, b"], move || load(dir, (4, 4)));
    let dir = image_folder("hostile-images-size");
    suite.error(
        "image_size (50,000, 50,000)",
        &["image_dataset_from_directory", "50000x50000", "limit"],
        move || load(dir, (50_000, 50_000)),
    );
    let dir = image_folder("hostile-images-overflow");
    suite.error(
        "image_size (2^62, 4)",
        &["image_dataset_from_directory", "4611686018427387904x4", "more pixels"],
        move || load(dir, (1 << 62, 4)),
    );
    let dir = image_folder("hostile-images-zero-size");
    suite.error("image_size (0, 5)", &["image_size", "0x5"], move || load(dir, (0, 5)));
    let dir = scratch("hostile-images-missing").join("absent");
    suite.error("a missing folder", &["absent"], move || load(dir, (4, 4)));
}

/// One test: the host memory limit set here is the process's.
#[test]
fn hostile_files_are_refused_cleanly() {
    // What a service reading untrusted files sets: nothing one file declares may take more.
    set_host_memory_limit(Some(2 << 30));
    let mut suite = Suite::new("hostile files");
    idx_cases(&mut suite);
    model_cases(&mut suite);
    image_cases(&mut suite);
    set_host_memory_limit(None);
    suite.finish();
}
