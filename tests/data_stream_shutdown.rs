//! The worker threads of a folder stream end with the pass that started them: when training
//! stops early, when a file fails to decode, and when the consumer drops an epoch part-read.
//! One test, so that no other test's workers share the process while threads are counted.

#[path = "fixtures/scratch.rs"]
mod scratch;

use std::time::{Duration, Instant};

use image::{Rgb, RgbImage};
use scratch::Scratch;
use tessera::nn::callbacks::BatchLogs;
use tessera::nn::data::{BatchStream, DirectoryOptions, image_dataset_from_directory};
use tessera::nn::{Callback, CallbackContext, Dense, FitOptions, Flatten, Model, optimizers::Sgd};

/// The threads of this process that read data (named `tessera-data-N`).
fn data_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with("tessera-data"))
        .count()
}

/// The data threads left once those the pass joined are gone: a joined thread can still be
/// listed in /proc for a moment while the kernel reaps it (the join returns when the thread
/// has cleared its id, before its task is removed), so this waits up to a second for the list
/// to settle. A worker the pass failed to stop would still be listed after it.
fn data_threads_after_join() -> usize {
    let since = Instant::now();
    while data_threads() > 0 && since.elapsed() < Duration::from_secs(1) {
        std::thread::sleep(Duration::from_millis(5));
    }
    data_threads()
}

/// Stops training after the first batch, as `model.stop_training = True` in Keras.
struct StopAfterOneBatch;

impl Callback for StopAfterOneBatch {
    fn on_train_batch_end(
        &mut self,
        _batch: usize,
        _logs: &BatchLogs<'_>,
        ctx: &mut CallbackContext<'_>,
    ) -> tessera::nn::Result<()> {
        ctx.stop_training();
        Ok(())
    }
}

#[test]
fn workers_end_when_the_consumer_stops() {
    let scratch = Scratch::new("stream-shutdown");
    let mut bytes = std::io::Cursor::new(Vec::new());
    RgbImage::from_pixel(8, 8, Rgb([90, 20, 200])).write_to(&mut bytes, image::ImageFormat::Png).unwrap();
    for i in 0..400 {
        scratch.write(&format!("{}/{i:03}.png", ["a", "b"][i % 2]), bytes.get_ref());
    }
    let options = DirectoryOptions::default().image_size(8, 8).batch_size(2).workers(4).prefetch(2);
    let mut stream = image_dataset_from_directory(scratch.path(), options.clone()).unwrap();
    let started = Instant::now();

    // Dropped after one batch of 200: the workers, blocked on full channels, end and are joined.
    let mut epoch = stream.epoch(0).unwrap();
    epoch.next().unwrap().unwrap();
    // A thread takes its name once it runs, which may be after the first batch came.
    let named = Instant::now();
    while data_threads() < 4 && named.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(data_threads(), 4, "the pass runs four workers");
    drop(epoch);
    assert_eq!(data_threads_after_join(), 0, "dropping the epoch joins its workers");

    let mut model = Model::sequential(vec![
        Box::new(Flatten::new().input_shape(&[8, 8, 3])),
        Box::new(Dense::new(2).activation("softmax")),
    ])
    .unwrap();
    model.compile(Sgd::default(), "sparse_categorical_crossentropy", &[]).unwrap();
    let mut stop = StopAfterOneBatch;
    let history = model
        .fit_stream(&mut stream, FitOptions::default().epochs(5).verbose(0).callback(&mut stop))
        .unwrap();
    assert_eq!(history.len(), 1, "training stopped in the first epoch");
    assert_eq!(data_threads_after_join(), 0, "stopping training ends the workers");

    // A file that does not decode, mid-folder: fit fails naming it, and no worker is left.
    scratch.write("a/150-broken.png", b"not a PNG");
    let mut stream = image_dataset_from_directory(scratch.path(), options.shuffle(false)).unwrap();
    let error = model.fit_stream(&mut stream, FitOptions::default().verbose(0)).unwrap_err().to_string();
    assert!(error.contains("150-broken.png"), "{error}");
    assert_eq!(data_threads_after_join(), 0, "an error ends the workers");
    // Nothing waited on a worker that would not end.
    assert!(started.elapsed() < Duration::from_secs(60), "took {:?}", started.elapsed());
}
