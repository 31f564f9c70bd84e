//! Losses and metrics written outside the crate: a `CustomLoss` and a `CustomMetric` compile
//! beside the built-in names, train and report as Keras reports them, and a model compiled with
//! them saves and loads back through the registries (or says which class is missing). Names are
//! distinct per test: the registries are global, as Keras's.

use std::sync::Arc;

use tessera::nn::io::{load_model, save_model};
use tessera::nn::layers::Config;
use tessera::nn::losses::{CustomLoss, register_loss};
use tessera::nn::metrics::{CustomMetric, register_metric};
use tessera::nn::optimizers::Sgd;
use tessera::nn::{Dense, EvaluateOptions, FitOptions, Model, Result};
use tessera::{Device, Tensor};

/// f32 sums of a few terms of order 1.
const TOLERANCE: f64 = 1e-5;

fn assert_near(actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() <= TOLERANCE,
        "got {actual}, expected {expected} (tolerance {TOLERANCE})"
    );
}

/// `scale` times the mean squared error of each sample.
struct ScaledMse {
    class: &'static str,
    scale: f64,
}

impl CustomLoss for ScaledMse {
    fn name(&self) -> &str {
        self.class
    }

    fn call(&self, y_true: &Tensor, y_pred: &Tensor) -> Result<Tensor> {
        Ok(y_pred.sub(y_true)?.square()?.mean(&[-1], false)?.mul_scalar(self.scale)?)
    }

    fn get_config(&self) -> Config {
        let mut config = Config::new();
        config.insert("scale".into(), self.scale.into());
        config
    }
}

fn register_scaled_mse(class: &'static str) {
    register_loss(class, move |config: &Config| {
        let scale = config.get("scale").and_then(|v| v.as_f64()).unwrap_or(1.0);
        Ok(Arc::new(ScaledMse { class, scale }) as Arc<dyn CustomLoss>)
    })
    .unwrap();
}

/// The largest absolute error seen since the last reset.
#[derive(Default)]
struct MaxAbsError {
    max: f64,
}

impl CustomMetric for MaxAbsError {
    fn update_state(&mut self, y_true: &Tensor, y_pred: &Tensor) -> Result<()> {
        let errors = y_pred.sub(y_true)?.abs()?.to_vec_f64()?;
        self.max = errors.into_iter().fold(self.max, f64::max);
        Ok(())
    }

    fn result(&self) -> Result<f64> {
        Ok(self.max)
    }

    fn reset_state(&mut self) -> Result<()> {
        self.max = 0.0;
        Ok(())
    }
}

fn data() -> (Tensor, Tensor) {
    let x =
        Tensor::from_vec(vec![1.0f32, 2.0, -1.0, 0.5, 0.0, 3.0, 2.0, -2.0], [4, 2], &Device::Cpu).unwrap();
    let y = Tensor::from_vec(vec![1.0f32, -2.0, 0.5, 4.0], [4, 1], &Device::Cpu).unwrap();
    (x, y)
}

fn dense() -> Model {
    Model::sequential(vec![Box::new(Dense::new(1).input_shape(&[2]))]).unwrap()
}

/// Squared and absolute errors of `model`'s predictions, in f64.
fn errors(model: &Model, x: &Tensor, y: &Tensor) -> Vec<f64> {
    let p = model.predict(x, 32).unwrap().to_vec_f64().unwrap();
    p.iter().zip(y.to_vec_f64().unwrap()).map(|(p, y)| p - y).collect()
}

#[test]
fn a_custom_loss_trains_reports_and_round_trips() {
    register_scaled_mse("ScaledMseRoundTrip");
    let (x, y) = data();
    let mut model = dense();
    model
        .compile(
            Sgd { learning_rate: 0.0, ..Sgd::default() },
            ScaledMse { class: "ScaledMseRoundTrip", scale: 3.0 },
            &["mse"],
        )
        .unwrap();
    let e = errors(&model, &x, &y);
    let mse = e.iter().map(|e| e * e).sum::<f64>() / 4.0;
    // Batches of 3 and 1: Keras's sum over the batch size, averaged by batch size.
    let history = model.fit(&x, &y, FitOptions::default().batch_size(3).verbose(0)).unwrap();
    assert_near(history.get("loss").unwrap()[0], 3.0 * mse);
    assert_near(history.get("mse").unwrap()[0], mse);
    // Weighted like a built-in loss.
    let w = Tensor::from_vec(vec![2.0f32, 0.0, 1.0, 1.0], [4], &Device::Cpu).unwrap();
    let weighted = 3.0 * (2.0 * e[0] * e[0] + e[2] * e[2] + e[3] * e[3]) / 4.0;
    let logs = model.evaluate(&x, &y, EvaluateOptions::default().verbose(0).sample_weight(&w)).unwrap();
    assert_near(logs["loss"], weighted);

    // It differentiates: SGD on it lowers it.
    model.compile(Sgd { learning_rate: 0.01, ..Sgd::default() }, "ScaledMseRoundTrip", &[]).unwrap();
    let before = model.evaluate(&x, &y, EvaluateOptions::default().verbose(0)).unwrap()["loss"];
    model.fit(&x, &y, FitOptions::default().epochs(5).verbose(0)).unwrap();
    let after = model.evaluate(&x, &y, EvaluateOptions::default().verbose(0)).unwrap()["loss"];
    assert!(after < before, "{after} < {before}");

    // Saved and loaded, the registered class is made again from its config (scale 3).
    model.compile(Sgd::default(), ScaledMse { class: "ScaledMseRoundTrip", scale: 3.0 }, &[]).unwrap();
    let path = std::env::temp_dir().join(format!("tessera-custom-loss-{}.safetensors", std::process::id()));
    save_model(&model, &path).unwrap();
    let loaded = load_model(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let expected = model.evaluate(&x, &y, EvaluateOptions::default().verbose(0)).unwrap()["loss"];
    assert_eq!(loaded.evaluate(&x, &y, EvaluateOptions::default().verbose(0)).unwrap()["loss"], expected);
}

#[test]
fn an_unregistered_custom_loss_is_named_when_loading() {
    let mut model = dense();
    model.compile("sgd", ScaledMse { class: "NeverRegisteredLoss", scale: 1.0 }, &[]).unwrap();
    let path =
        std::env::temp_dir().join(format!("tessera-unregistered-loss-{}.safetensors", std::process::id()));
    save_model(&model, &path).unwrap();
    let err = load_model(&path).err().map(|e| e.to_string()).unwrap_or_default();
    std::fs::remove_file(&path).unwrap();
    assert!(err.contains("unknown loss \"NeverRegisteredLoss\"") && err.contains("register_loss"), "{err}");

    let err = dense().compile("sgd", "NeverRegisteredLoss", &[]).unwrap_err().to_string();
    assert!(err.contains("unknown loss \"NeverRegisteredLoss\""), "{err}");
    // A custom loss must give one value per sample.
    let mut model = dense();
    struct Scalar;
    impl CustomLoss for Scalar {
        fn name(&self) -> &str {
            "Scalar"
        }
        fn call(&self, y_true: &Tensor, y_pred: &Tensor) -> Result<Tensor> {
            Ok(y_pred.sub(y_true)?.square()?.mean_all()?)
        }
    }
    model.compile("sgd", Scalar, &[]).unwrap();
    let (x, y) = data();
    let err = model.fit(&x, &y, FitOptions::default().verbose(0)).unwrap_err().to_string();
    assert!(
        err.contains("custom loss Scalar: call must give one loss per sample, shape (4, ...), got ()"),
        "{err}"
    );
}

#[test]
fn a_custom_metric_streams_resets_and_round_trips() {
    register_metric("max_abs_error", || Box::new(MaxAbsError::default())).unwrap();
    let (x, y) = data();
    let mut model = dense();
    model.compile(Sgd { learning_rate: 0.0, ..Sgd::default() }, "mse", &["mae", "max_abs_error"]).unwrap();
    assert_eq!(model.metrics_names(), ["loss", "mae", "max_abs_error"]);
    let largest = errors(&model, &x, &y).iter().map(|e| e.abs()).fold(0.0, f64::max);
    // Batches of one: the metric sees them all; reset each epoch, it reports the same again.
    let history = model.fit(&x, &y, FitOptions::default().batch_size(1).epochs(2).verbose(0)).unwrap();
    for value in history.get("max_abs_error").unwrap() {
        assert_near(*value, largest);
    }
    let logs = model.evaluate(&x, &y, EvaluateOptions::default().batch_size(2).verbose(0)).unwrap();
    assert_near(logs["max_abs_error"], largest);

    let path = std::env::temp_dir().join(format!("tessera-custom-metric-{}.safetensors", std::process::id()));
    save_model(&model, &path).unwrap();
    let loaded = load_model(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(loaded.metrics_names(), model.metrics_names());
    let logs = loaded.evaluate(&x, &y, EvaluateOptions::default().verbose(0)).unwrap();
    assert_near(logs["max_abs_error"], largest);

    let err = dense().compile("sgd", "mse", &["no_such_metric"]).unwrap_err().to_string();
    assert!(err.contains("unknown metric \"no_such_metric\"") && err.contains("register_metric"), "{err}");
}
