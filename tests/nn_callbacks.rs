//! Callbacks in `fit`: when each hook runs, EarlyStopping (stopping epoch, restored weights),
//! ModelCheckpoint, TerminateOnNaN, LearningRateScheduler, ReduceLROnPlateau and CSVLogger, as
//! Keras 3 behaves.
//!
//! Monitored values are often scripted: a callback listed before the one under test overwrites
//! "val_loss" with a crafted sequence, so the expected stopping epoch follows from the rules alone.

// Only the directory is used here, not its file writer.
#[allow(dead_code)]
#[path = "fixtures/scratch.rs"]
mod scratch;

use std::path::{Path, PathBuf};

use tessera::nn::callbacks::{
    BatchLogs, CSVLogger, Callback, CallbackContext, EarlyStopping, LearningRateScheduler, Mode,
    ModelCheckpoint, ReduceLROnPlateau, TerminateOnNaN,
};
use tessera::nn::optimizers::Sgd;
use tessera::nn::{Dense, FitOptions, Logs, Model, NnError, Result};
use tessera::{Device, Tensor};

/// 24 samples of y = 2 x0 - x1 + 0.5 (f32), the regression every test fits.
fn line() -> (Tensor, Tensor) {
    let x: Vec<f32> = (0..48).map(|i| ((i * 7) % 11) as f32 / 5.0 - 1.0).collect();
    let y: Vec<f32> = x.chunks(2).map(|p| 2.0 * p[0] - p[1] + 0.5).collect();
    (Tensor::from_vec(x, [24, 2], &Device::Cpu).unwrap(), Tensor::from_vec(y, [24, 1], &Device::Cpu).unwrap())
}

fn regression(learning_rate: f64) -> Model {
    let mut model = Model::sequential(vec![Box::new(Dense::new(1).input_shape(&[2]).seed(3))]).unwrap();
    model.compile(Sgd { learning_rate, ..Sgd::default() }, "mse", &[]).unwrap();
    model
}

fn weights(model: &Model) -> Vec<Vec<f32>> {
    model.weights().iter().map(|w| w.value().to_vec::<f32>().unwrap()).collect()
}

/// Overwrites a logged value at each epoch end with the next of a scripted sequence.
struct Script {
    key: &'static str,
    values: Vec<f64>,
}

impl Callback for Script {
    fn on_epoch_end(&mut self, epoch: usize, logs: &mut Logs, _ctx: &mut CallbackContext<'_>) -> Result<()> {
        logs.insert(self.key.to_string(), self.values[epoch]);
        Ok(())
    }
}

/// Records every hook it sees, and the weights and learning rate at each epoch end.
#[derive(Default)]
struct Recorder {
    events: Vec<String>,
    weights: Vec<Vec<Vec<f32>>>,
    rates: Vec<f64>,
}

impl Callback for Recorder {
    fn on_train_begin(&mut self, _ctx: &mut CallbackContext<'_>) -> Result<()> {
        self.events.push("train_begin".into());
        Ok(())
    }

    fn on_train_end(&mut self, _ctx: &mut CallbackContext<'_>) -> Result<()> {
        self.events.push("train_end".into());
        Ok(())
    }

    fn on_epoch_begin(&mut self, epoch: usize, _ctx: &mut CallbackContext<'_>) -> Result<()> {
        self.events.push(format!("epoch_begin {epoch}"));
        Ok(())
    }

    fn on_epoch_end(&mut self, epoch: usize, logs: &mut Logs, ctx: &mut CallbackContext<'_>) -> Result<()> {
        self.events.push(format!("epoch_end {epoch} {:?}", logs.keys().collect::<Vec<_>>()));
        self.weights.push(weights(ctx.model()));
        self.rates.push(ctx.learning_rate()?);
        Ok(())
    }

    fn on_train_batch_end(
        &mut self,
        batch: usize,
        _logs: &BatchLogs<'_>,
        _ctx: &mut CallbackContext<'_>,
    ) -> Result<()> {
        self.events.push(format!("batch_end {batch}"));
        Ok(())
    }
}

fn quiet<'a>() -> FitOptions<'a> {
    FitOptions::default().verbose(0).shuffle(false)
}

#[test]
fn hooks_run_in_keras_order() {
    let (x, y) = line();
    let mut model = regression(0.01);
    let mut recorder = Recorder::default();
    model
        .fit(&x, &y, quiet().epochs(2).batch_size(10).validation_split(0.25).callback(&mut recorder))
        .unwrap();
    // 18 training samples in batches of 10: two batches per epoch.
    let expected = [
        "train_begin",
        "epoch_begin 0",
        "batch_end 0",
        "batch_end 1",
        r#"epoch_end 0 ["loss", "val_loss"]"#,
        "epoch_begin 1",
        "batch_end 0",
        "batch_end 1",
        r#"epoch_end 1 ["loss", "val_loss"]"#,
        "train_end",
    ];
    assert_eq!(recorder.events, expected);
}

#[test]
fn early_stopping_stops_after_patience_epochs_without_improvement() {
    let (x, y) = line();
    let mut model = regression(0.01);
    // Best at epoch 1; epochs 2 and 3 do not beat it, so with patience 2 training stops at 3.
    let mut script = Script { key: "val_loss", values: vec![1.0, 0.8, 0.9, 0.85, 0.7, 0.6] };
    let mut stop = EarlyStopping::new().patience(2);
    let history = model.fit(&x, &y, quiet().epochs(6).callback(&mut script).callback(&mut stop)).unwrap();
    assert_eq!(stop.stopped_epoch(), Some(3));
    assert_eq!(stop.best_epoch(), Some(1));
    assert_eq!(stop.best(), Some(0.8));
    assert_eq!(history.len(), 4);
    assert_eq!(history.get("val_loss").unwrap(), &[1.0, 0.8, 0.9, 0.85]);

    // min_delta: improvements of 0.05 do not count when 0.1 is asked; patience 1 stops at 1.
    let mut script = Script { key: "val_loss", values: vec![1.0, 0.95, 0.9, 0.85] };
    let mut stop = EarlyStopping::new().patience(1).min_delta(0.1);
    let history = model.fit(&x, &y, quiet().epochs(4).callback(&mut script).callback(&mut stop)).unwrap();
    assert_eq!((stop.stopped_epoch(), history.len()), (Some(1), 2));

    // Accuracy-like values go up: mode auto reads "accuracy" as higher-is-better.
    let mut model = regression(0.01);
    model.compile("sgd", "mse", &["accuracy"]).unwrap();
    let mut script = Script { key: "accuracy", values: vec![0.5, 0.7, 0.6, 0.65, 0.9] };
    let mut stop = EarlyStopping::new().monitor("accuracy").patience(2);
    model.fit(&x, &y, quiet().epochs(5).callback(&mut script).callback(&mut stop)).unwrap();
    assert_eq!((stop.stopped_epoch(), stop.best_epoch()), (Some(3), Some(1)));
    // Forced the other way, the same values improve only at epoch 0 and stop at epoch 2.
    let mut script = Script { key: "accuracy", values: vec![0.5, 0.7, 0.6, 0.65, 0.9] };
    let mut stop = EarlyStopping::new().monitor("accuracy").patience(2).mode(Mode::Min);
    model.fit(&x, &y, quiet().epochs(5).callback(&mut script).callback(&mut stop)).unwrap();
    assert_eq!((stop.stopped_epoch(), stop.best_epoch()), (Some(2), Some(0)));
    // A name auto cannot classify is an error up front.
    let mut stop = EarlyStopping::new().monitor("val_auc");
    let err = model.fit(&x, &y, quiet().callback(&mut stop)).unwrap_err();
    assert!(
        matches!(err, NnError::Usage(_)) && err.to_string().contains("cannot tell whether \"val_auc\""),
        "{err}"
    );
}

#[test]
fn early_stopping_restores_the_best_weights() {
    let (x, y) = line();
    let mut model = regression(0.05);
    let mut script = Script { key: "val_loss", values: vec![1.0, 0.5, 0.9, 0.8, 0.7] };
    let mut stop = EarlyStopping::new().patience(2).restore_best_weights(true).verbose(true);
    let mut recorder = Recorder::default();
    let mut out = Vec::new();
    let options =
        quiet().epochs(5).callback(&mut script).callback(&mut stop).callback(&mut recorder).output(&mut out);
    model.fit(&x, &y, options).unwrap();
    assert_eq!(stop.stopped_epoch(), Some(3));
    // Training kept moving the weights, and the end of epoch 1 is what the model holds now.
    assert_ne!(recorder.weights[1], recorder.weights[3]);
    assert_eq!(weights(&model), recorder.weights[1]);
    let text = String::from_utf8(out).unwrap();
    // Callback messages print even at verbose 0, as Keras's do.
    assert_eq!(text, "Epoch 4: early stopping\nRestoring model weights from the end of the best epoch: 2.\n");
}

#[test]
fn terminate_on_nan_stops_at_the_first_bad_batch() {
    let (x, y) = line();
    let mut values = x.to_vec::<f32>().unwrap();
    // Sample 13 lies in the third batch of 6 (batches are in order without shuffling).
    values[26] = f32::NAN;
    let x = Tensor::from_vec(values, [24, 2], &Device::Cpu).unwrap();
    let mut model = regression(0.01);
    let mut guard = TerminateOnNaN;
    let mut recorder = Recorder::default();
    let mut out = Vec::new();
    let options =
        quiet().epochs(3).batch_size(6).callback(&mut guard).callback(&mut recorder).output(&mut out);
    let history = model.fit(&x, &y, options).unwrap();
    assert_eq!(history.len(), 1);
    assert!(history.get("loss").unwrap()[0].is_nan());
    let batches = recorder.events.iter().filter(|e| e.starts_with("batch_end")).count();
    assert_eq!(batches, 3);
    assert_eq!(String::from_utf8(out).unwrap(), "Batch 2: Invalid loss, terminating training\n");
}

#[test]
fn learning_rate_scheduler_sets_the_rate_the_optimizer_uses() {
    let (x, y) = line();
    let mut model = regression(0.1);
    // Epoch 1 trains at rate 0: its weights must not move at all.
    let mut schedule = LearningRateScheduler::new(|epoch, rate| match epoch {
        1 => 0.0,
        2 => 0.05,
        _ => rate,
    });
    let mut recorder = Recorder::default();
    let history = model
        .fit(&x, &y, quiet().epochs(3).batch_size(8).callback(&mut schedule).callback(&mut recorder))
        .unwrap();
    assert_eq!(recorder.rates, [0.1, 0.0, 0.05]);
    assert_eq!(history.get("learning_rate").unwrap(), &[0.1, 0.0, 0.05]);
    assert_ne!(recorder.weights[0], recorder.weights[2]);
    assert_eq!(recorder.weights[0], recorder.weights[1]);
    assert_eq!(model.learning_rate().unwrap(), 0.05);

    let mut broken = LearningRateScheduler::new(|_, _| f64::NAN);
    let err = model.fit(&x, &y, quiet().callback(&mut broken)).unwrap_err().to_string();
    assert!(err.contains("the schedule gave NaN for epoch 0"), "{err}");
}

#[test]
fn model_checkpoint_saves_through_its_saver() {
    let (x, y) = line();
    let mut model = regression(0.01);
    let mut saved: Vec<PathBuf> = Vec::new();
    {
        let mut script = Script { key: "val_loss", values: vec![0.9, 0.7, 0.8, 0.6] };
        let saver = |m: &Model, path: &Path| -> Result<()> {
            assert_eq!(m.weights().len(), 2);
            saved.push(path.to_path_buf());
            Ok(())
        };
        let mut checkpoint =
            ModelCheckpoint::new("ckpt-{epoch:02d}-{val_loss:.2f}.safetensors", saver).save_best_only(true);
        model.fit(&x, &y, quiet().epochs(4).callback(&mut script).callback(&mut checkpoint)).unwrap();
        assert_eq!(checkpoint.best(), Some(0.6));
    }
    let names: Vec<&str> = saved.iter().map(|p| p.to_str().unwrap()).collect();
    assert_eq!(names, ["ckpt-01-0.90.safetensors", "ckpt-02-0.70.safetensors", "ckpt-04-0.60.safetensors"]);

    // Without save_best_only every epoch is saved; a saver's error ends fit with it.
    let mut count = 0;
    let mut every = ModelCheckpoint::new("w.bin", |_: &Model, _: &Path| {
        count += 1;
        Ok(())
    });
    model.fit(&x, &y, quiet().epochs(3).callback(&mut every)).unwrap();
    drop(every);
    assert_eq!(count, 3);
    let mut failing = ModelCheckpoint::new("/nonexistent/w.bin", |_: &Model, p: &Path| {
        Err(NnError::Io { path: p.display().to_string(), detail: "no such directory".into() })
    });
    let err = model.fit(&x, &y, quiet().callback(&mut failing)).unwrap_err().to_string();
    assert_eq!(err, "/nonexistent/w.bin: no such directory");
}

/// A callback of the user's own can stop training between batches.
#[test]
fn a_custom_callback_can_stop_training() {
    struct StopAfter(usize);
    impl Callback for StopAfter {
        fn on_train_batch_end(
            &mut self,
            batch: usize,
            logs: &BatchLogs<'_>,
            ctx: &mut CallbackContext<'_>,
        ) -> Result<()> {
            assert!(logs.read()?["loss"].is_finite());
            if batch + 1 == self.0 {
                ctx.stop_training();
            }
            Ok(())
        }
    }
    let (x, y) = line();
    let mut model = regression(0.01);
    let mut recorder = Recorder::default();
    let history = model
        .fit(&x, &y, quiet().epochs(5).batch_size(4).callback(&mut StopAfter(2)).callback(&mut recorder))
        .unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(recorder.events.iter().filter(|e| e.starts_with("batch_end")).count(), 2);
}

#[test]
fn reduce_lr_on_plateau_cuts_the_rate_after_patience_and_cooldown() {
    let (x, y) = line();
    let mut model = regression(0.1);
    // The best is epoch 0 and nothing beats it: with patience 1 the rate halves at epoch 1; a
    // cooldown of 2 keeps epoch 2 from counting, so it halves again at epoch 3, and at epoch 5
    // it would fall below min_lr, so it stops there.
    let mut script = Script { key: "val_loss", values: vec![1.0, 1.0, 1.0, 1.0, 1.0, 1.0] };
    let mut plateau = ReduceLROnPlateau::new().patience(1).cooldown(2).factor(0.5).min_lr(0.02);
    let history = model.fit(&x, &y, quiet().epochs(6).callback(&mut script).callback(&mut plateau)).unwrap();
    // The rate in force during each epoch, as Keras logs it.
    let rates = history.get("learning_rate").unwrap();
    let expected = [0.1, 0.1, 0.05, 0.05, 0.025, 0.025];
    for (rate, expected) in rates.iter().zip(expected) {
        assert!((rate - expected).abs() < 1e-9, "{rates:?}");
    }
    assert!((model.learning_rate().unwrap() - 0.02).abs() < 1e-9, "floored at min_lr");

    // An improvement bigger than min_delta resets the wait; a smaller one does not.
    let mut model = regression(0.1);
    let mut script = Script { key: "val_loss", values: vec![1.0, 0.5, 0.49999, 0.49998] };
    let mut plateau = ReduceLROnPlateau::new().patience(2);
    let history = model.fit(&x, &y, quiet().epochs(4).callback(&mut script).callback(&mut plateau)).unwrap();
    let rates = history.get("learning_rate").unwrap();
    assert!(
        (rates[3] - 0.1).abs() < 1e-9 && (model.learning_rate().unwrap() - 0.01).abs() < 1e-9,
        "{rates:?}"
    );

    let mut bad = ReduceLROnPlateau::new().factor(1.5);
    let err = regression(0.1).fit(&x, &y, quiet().epochs(1).callback(&mut bad)).unwrap_err().to_string();
    assert!(err.contains("ReduceLROnPlateau") && err.contains("factor") && err.contains("1.5"), "{err}");
}

#[test]
fn csv_logger_writes_a_row_per_epoch_and_appends_on_resume() {
    let dir = scratch::Scratch::new("csv-logger");
    let path = dir.path().join("log.csv");
    let (x, y) = line();
    let mut model = regression(0.05);
    let mut logger = CSVLogger::new(&path);
    let history = model.fit(&x, &y, quiet().epochs(3).validation_split(0.25).callback(&mut logger)).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "epoch,loss,val_loss");
    assert_eq!(lines.len(), 4, "{text}");
    for (epoch, line) in lines[1..].iter().enumerate() {
        let fields: Vec<f64> = line.split(',').map(|f| f.parse().unwrap()).collect();
        let expected =
            [epoch as f64, history.get("loss").unwrap()[epoch], history.get("val_loss").unwrap()[epoch]];
        assert_eq!(fields, expected, "row {epoch}");
    }

    // Appending continues the file under its header; another separator is taken as given.
    let mut logger = CSVLogger::new(&path).append(true);
    model
        .fit(&x, &y, quiet().epochs(5).initial_epoch(3).validation_split(0.25).callback(&mut logger))
        .unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let epochs: Vec<&str> = text.lines().skip(1).map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(epochs, ["0", "1", "2", "3", "4"], "{text}");
    let mut tabs = CSVLogger::new(dir.path().join("tabs.tsv")).separator('\t');
    regression(0.05).fit(&x, &y, quiet().epochs(1).callback(&mut tabs)).unwrap();
    assert!(std::fs::read_to_string(dir.path().join("tabs.tsv")).unwrap().starts_with("epoch\tloss\n"));

    let mut nowhere = CSVLogger::new(dir.path().join("missing/dir/log.csv"));
    let err = regression(0.05).fit(&x, &y, quiet().epochs(1).callback(&mut nowhere)).unwrap_err().to_string();
    assert!(err.contains("missing/dir/log.csv"), "{err}");
}
