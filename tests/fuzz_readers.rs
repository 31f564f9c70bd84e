//! Fuzzing the file readers: valid files (made here, small) mutated by bit flips, truncations,
//! insertions, overwrites and changed header fields, then read. Every read must end in a result
//! or in an error that names the file; a panic fails the test with the smallest input that
//! caused it. `PROPTEST_CASES` sets the number of files per reader (512 by default, a few
//! seconds each); `scripts/fuzz` runs many more.

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use common::fixtures::{
    gzip, idx_images, idx_labels, model_file, png, safetensors_header, scratch, small_model, with_header,
    write,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};
use tessera::nn::data::{
    BatchStream, ColorMode, DirectoryOptions, image_dataset_from_directory, read_idx_images, read_idx_labels,
};
use tessera::nn::io::{load_model, load_weights, save_weights};
use tessera::tensor_core::cpu::set_host_memory_limit;

/// One change to a file's bytes; positions are fractions of the length, so that they fit any.
#[derive(Clone, Debug)]
enum Mutation {
    FlipBit(Index, u8),
    Truncate(Index),
    Insert(Index, Vec<u8>),
    Overwrite(Index, Vec<u8>),
    /// A big-endian u32 written over four bytes: IDX header fields, PNG sizes.
    SetU32(Index, u32),
}

/// Numbers that break size arithmetic more often than random ones.
fn interesting_u32() -> impl Strategy<Value = u32> {
    prop_oneof![
        Just(0u32),
        Just(1),
        Just(255),
        Just(65_535),
        Just(1 << 16),
        Just(1 << 24),
        Just(i32::MAX as u32),
        Just(u32::MAX),
        any::<u32>(),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<Index>(), 0u8..8).prop_map(|(at, bit)| Mutation::FlipBit(at, bit)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        1 => (any::<Index>(), vec(any::<u8>(), 1..16)).prop_map(|(at, bytes)| Mutation::Insert(at, bytes)),
        1 => (any::<Index>(), vec(any::<u8>(), 1..8)).prop_map(|(at, bytes)| Mutation::Overwrite(at, bytes)),
        2 => (any::<Index>(), interesting_u32()).prop_map(|(at, value)| Mutation::SetU32(at, value)),
    ]
}

fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    vec(mutation(), 1..4)
}

/// `bytes` with every mutation applied in turn.
fn mutate(bytes: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    for m in mutations {
        if out.is_empty() {
            break;
        }
        match m {
            Mutation::FlipBit(at, bit) => {
                let i = at.index(out.len());
                out[i] ^= 1 << bit;
            }
            Mutation::Truncate(at) => out.truncate(at.index(out.len())),
            Mutation::Insert(at, bytes) => {
                let i = at.index(out.len() + 1);
                out.splice(i..i, bytes.iter().copied());
            }
            Mutation::Overwrite(at, bytes) => {
                let i = at.index(out.len());
                let end = (i + bytes.len()).min(out.len());
                out[i..end].copy_from_slice(&bytes[..end - i]);
            }
            Mutation::SetU32(at, value) => {
                if out.len() >= 4 {
                    let i = at.index(out.len() - 3);
                    out[i..i + 4].copy_from_slice(&value.to_be_bytes());
                }
            }
        }
    }
    out
}

/// Runs `body` on `PROPTEST_CASES` (default 128) inputs of `strategy`, failing on the first
/// panic (shrunk), and prints how many ran.
fn fuzz<S: Strategy>(name: &str, strategy: S, body: impl Fn(S::Value)) {
    // Whatever a mutated file declares, nothing it makes a reader allocate may exceed this.
    set_host_memory_limit(Some(1 << 30));
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(512);
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    let executions = AtomicUsize::new(0);
    let start = Instant::now();
    let result = runner.run(&strategy, |input| {
        executions.fetch_add(1, Ordering::Relaxed);
        body(input);
        Ok(())
    });
    let executions = executions.into_inner();
    match result {
        Ok(()) => println!(
            "fuzz {name}: {executions} executions in {:.1} s, 0 crashes",
            start.elapsed().as_secs_f64()
        ),
        Err(e) => panic!("fuzz {name}: a read panicked after {executions} executions: {e}"),
    }
}

/// Asserts that a failed read's error names `path`'s file.
fn names_file<T, E: std::fmt::Display>(result: Result<T, E>, path: &Path) {
    if let Err(e) = result {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(e.to_string().contains(&name), "the error does not name {name}: {e}");
    }
}

#[test]
fn fuzz_idx_files() {
    let dir = scratch("fuzz-idx");
    let images = idx_images(4);
    let labels = idx_labels(6);
    let sources = [images.clone(), labels.clone(), gzip(&images), gzip(&labels)];
    let strategy = (0..sources.len(), any::<bool>(), mutations());
    fuzz("IDX files", strategy, |(source, gzip_after, mutations)| {
        let mutated = mutate(&sources[source], &mutations);
        // Mutating and then compressing reaches the header checks behind a valid gzip stream.
        let bytes = if gzip_after && source < 2 { gzip(&mutated) } else { mutated };
        let path = write(&dir, "file", &bytes);
        names_file(read_idx_images(&path), &path);
        names_file(read_idx_labels(&path), &path);
    });
}

/// A change to one field of a safetensors header: a dimension, a dtype, an offset, or a number
/// in the architecture.
#[derive(Clone, Debug)]
enum FieldChange {
    Dim(Index, Index, u64),
    Dtype(Index, &'static str),
    Offset(Index, usize, u64),
    Units(Index, u64),
}

fn interesting_u64() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(1),
        Just(3),
        Just(1 << 31),
        Just(1 << 32),
        Just(1_000_000_000),
        Just(1 << 62),
        Just(u64::MAX),
        0u64..64,
        any::<u64>(),
    ]
}

fn field_change() -> impl Strategy<Value = FieldChange> {
    prop_oneof![
        (any::<Index>(), any::<Index>(), interesting_u64()).prop_map(|(t, d, v)| FieldChange::Dim(t, d, v)),
        (
            any::<Index>(),
            prop::sample::select(vec!["F32", "F64", "F16", "BF16", "I32", "I64", "U8", "BOOL", "X"])
        )
            .prop_map(|(t, d)| FieldChange::Dtype(t, d)),
        (any::<Index>(), 0usize..2, interesting_u64()).prop_map(|(t, k, v)| FieldChange::Offset(t, k, v)),
        (any::<Index>(), interesting_u64()).prop_map(|(l, v)| FieldChange::Units(l, v)),
    ]
}

/// `file` with `change` made to its header.
fn change_field(file: &[u8], change: &FieldChange) -> Vec<u8> {
    let (header, _) = safetensors_header(file);
    let names: Vec<String> =
        header.as_object().unwrap().keys().filter(|k| *k != "__metadata__").cloned().collect();
    with_header(file, |h| match change {
        FieldChange::Dim(t, d, v) => {
            let dims = h[&names[t.index(names.len())]]["shape"].as_array_mut().unwrap();
            if !dims.is_empty() {
                let i = d.index(dims.len());
                dims[i] = json!(v);
            }
        }
        FieldChange::Dtype(t, d) => h[&names[t.index(names.len())]]["dtype"] = json!(d),
        FieldChange::Offset(t, k, v) => h[&names[t.index(names.len())]]["data_offsets"][k] = json!(v),
        FieldChange::Units(l, v) => {
            let Some(text) = h["__metadata__"]["architecture"].as_str() else { return };
            let mut architecture: Value = serde_json::from_str(text).unwrap();
            let layers = architecture["config"]["layers"].as_array_mut().unwrap();
            let i = l.index(layers.len());
            layers[i]["config"]["units"] = json!(v);
            h["__metadata__"]["architecture"] = Value::String(architecture.to_string());
        }
    })
}

#[test]
fn fuzz_model_files() {
    let dir = scratch("fuzz-model");
    let valid = std::fs::read(model_file(&dir)).unwrap();
    let strategy = (prop::option::of(field_change()), mutations(), any::<bool>());
    fuzz("model files (load_model)", strategy, |(change, mutations, mutate_bytes)| {
        let changed = change.as_ref().map_or_else(|| valid.clone(), |c| change_field(&valid, c));
        let bytes = if mutate_bytes || change.is_none() { mutate(&changed, &mutations) } else { changed };
        let path = write(&dir, "model", &bytes);
        names_file(load_model(&path), &path);
    });
}

#[test]
fn fuzz_weight_files() {
    let dir = scratch("fuzz-weights");
    let path = dir.join("valid");
    save_weights(&small_model(), &path).unwrap();
    let valid = std::fs::read(&path).unwrap();
    let model = small_model();
    let strategy = (prop::option::of(field_change()), mutations(), any::<bool>());
    fuzz("weight files (load_weights)", strategy, |(change, mutations, mutate_bytes)| {
        let changed = change.as_ref().map_or_else(|| valid.clone(), |c| change_field(&valid, c));
        let bytes = if mutate_bytes || change.is_none() { mutate(&changed, &mutations) } else { changed };
        let path = write(&dir, "weights", &bytes);
        names_file(load_weights(&model, &path), &path);
    });
}

/// A JPEG of `width` x `height` RGB pixels.
fn jpeg(width: u32, height: u32) -> Vec<u8> {
    let image =
        image::RgbImage::from_fn(width, height, |x, y| image::Rgb([(x * 9) as u8, (y * 5) as u8, 77]));
    let mut bytes = std::io::Cursor::new(Vec::new());
    image.write_to(&mut bytes, image::ImageFormat::Jpeg).unwrap();
    bytes.into_inner()
}

#[test]
fn fuzz_image_folders() {
    let dir = scratch("fuzz-images");
    write(&dir, "a/good.png", &png(3, 4));
    let sources = [png(5, 4), jpeg(9, 7)];
    let strategy = (0..sources.len(), mutations(), 1usize..40, 1usize..40, any::<bool>());
    fuzz("image folders", strategy, |(source, mutations, height, width, grey)| {
        let bytes = mutate(&sources[source], &mutations);
        let name = if source == 0 { "b/mutated.png" } else { "b/mutated.jpg" };
        write(&dir, name, &bytes);
        let mode = if grey { ColorMode::Grayscale } else { ColorMode::Rgb };
        let options = DirectoryOptions::default()
            .image_size(height, width)
            .color_mode(mode)
            .shuffle(false)
            .batch_size(1);
        let mut stream = image_dataset_from_directory(&dir, options).unwrap();
        for batch in stream.epoch(0).unwrap() {
            match batch {
                Err(e) => assert!(e.to_string().contains("mutated"), "the error does not name the file: {e}"),
                Ok(batch) => assert_eq!(batch.inputs[0].dims(), [1, height, width, if grey { 1 } else { 3 }]),
            }
        }
        std::fs::remove_file(dir.join(name)).unwrap();
    });
}
