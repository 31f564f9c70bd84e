//! Loss functions with Keras 3's numerics (keras/src/losses/losses.py and the backends' `nn`
//! ops): each reduces the last axis to one value per sample (per position, for outputs of rank 3
//! and more), and a batch's loss is the mean of those ("sum_over_batch_size").
//!
//! Cross-entropies that take probabilities clip them to `[1e-7, 1 - 1e-7]` (Keras's epsilon), after
//! normalising a categorical distribution to sum to one, exactly as the JAX and PyTorch backends
//! do. They are computed from the model's output as it is: a model ending in softmax is not
//! rewritten to the fused softmax-cross-entropy kernel, because the model hands the loss only its
//! output, and the clipped formula is what Keras computes (and what its gradient is, clip
//! included). With `from_logits`, softmax and sigmoid cross-entropies run tensor-core's fused,
//! stable kernels, which are the same functions as Keras's `log_softmax` / `log_sigmoid` forms.

mod custom;

use std::fmt;
use std::str::FromStr;

pub use custom::{AnyLoss, CustomLoss, LossFactory, register_loss};
use tensor_core::{Tensor, no_grad};

use crate::{Activation, NnError, Result, Squashed};

/// Keras's `backend.epsilon()`: how far probabilities are kept from 0 and 1 before a log.
pub const EPSILON: f64 = 1e-7;

/// A loss function: by Keras name ([`Loss::from_str`]) or as a value with its options.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Loss {
    /// `mean((y_pred - y_true)^2)` over the last axis.
    MeanSquaredError,
    /// `mean(|y_pred - y_true|)` over the last axis.
    MeanAbsoluteError,
    /// Sigmoid outputs (or logits) against 0/1 targets, averaged over the last axis. With
    /// `label_smoothing` (in [0, 1]) the targets become `y * (1 - s) + 0.5 * s`, as in Keras.
    BinaryCrossentropy { from_logits: bool, label_smoothing: f64 },
    /// A distribution over the last axis against one-hot (or soft) targets. With
    /// `label_smoothing` (in [0, 1]) the targets become `y * (1 - s) + s / classes`, as in Keras.
    CategoricalCrossentropy { from_logits: bool, label_smoothing: f64 },
    /// A distribution over the last axis against integer class ids, one per sample (no label
    /// smoothing: Keras 3's has none).
    SparseCategoricalCrossentropy { from_logits: bool },
    /// `mean(max(1 - y_true * y_pred, 0))`; 0/1 targets are first mapped to -1/1.
    Hinge,
    /// `sum(y_true * log(y_true / y_pred))` with both clipped to `[1e-7, 1]`.
    KlDivergence,
    /// `100 * mean(|y_true - y_pred| / max(|y_true|, 1e-7))` over the last axis.
    MeanAbsolutePercentageError,
    /// `mean((log(max(y_pred, 1e-7) + 1) - log(max(y_true, 1e-7) + 1))^2)` over the last axis.
    MeanSquaredLogarithmicError,
    /// `mean(max(1 - y_true * y_pred, 0)^2)`; 0/1 targets are first mapped to -1/1.
    SquaredHinge,
    /// `max(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0)` over the last axis.
    CategoricalHinge,
    /// `mean(log(cosh(y_pred - y_true)))` over the last axis.
    LogCosh,
    /// `mean(y_pred - y_true * log(y_pred + 1e-7))` over the last axis.
    Poisson,
    /// The negated cosine of the angle between targets and predictions along the last axis
    /// (-1 when they point the same way), each scaled by `1 / max(norm, 1e-7)`.
    CosineSimilarity,
}

impl Loss {
    /// Keras's name of the loss function ("mean_squared_error", ...).
    pub fn name(&self) -> &'static str {
        match self {
            Loss::MeanSquaredError => "mean_squared_error",
            Loss::MeanAbsoluteError => "mean_absolute_error",
            Loss::BinaryCrossentropy { .. } => "binary_crossentropy",
            Loss::CategoricalCrossentropy { .. } => "categorical_crossentropy",
            Loss::SparseCategoricalCrossentropy { .. } => "sparse_categorical_crossentropy",
            Loss::Hinge => "hinge",
            Loss::KlDivergence => "kl_divergence",
            Loss::MeanAbsolutePercentageError => "mean_absolute_percentage_error",
            Loss::MeanSquaredLogarithmicError => "mean_squared_logarithmic_error",
            Loss::SquaredHinge => "squared_hinge",
            Loss::CategoricalHinge => "categorical_hinge",
            Loss::LogCosh => "log_cosh",
            Loss::Poisson => "poisson",
            Loss::CosineSimilarity => "cosine_similarity",
        }
    }

    /// Whether targets are class ids rather than values shaped like the output.
    pub fn is_sparse(&self) -> bool {
        matches!(self, Loss::SparseCategoricalCrossentropy { .. })
    }

    /// The batch loss of `y_pred`: [`Loss::per_sample_for`] reduced as Keras 3 reduces it
    /// ("sum_over_batch_size", keras/src/losses/loss.py `reduce_values`): the sum of the
    /// weighted per-sample losses over their count, so weights rescale a batch's loss without
    /// renormalising it (a batch weighted 2 everywhere has twice the loss). `sample_weight` holds
    /// one weight per sample (shape `(N,)`), spread over any further axes of the per-sample
    /// losses.
    pub fn compute_for(
        &self,
        y_true: &Tensor,
        y_pred: &Tensor,
        squashed: Option<&Squashed>,
        sample_weight: Option<&Tensor>,
    ) -> Result<Tensor> {
        reduce(self.name(), self.per_sample_for(y_true, y_pred, squashed)?, sample_weight)
    }

    /// [`Loss::per_sample`] of `y_pred`. When `squashed` holds the logits behind `y_pred` and
    /// this is the cross-entropy that matches its activation (softmax for the categorical ones,
    /// sigmoid for the binary one), the loss is computed from the logits, as Keras's TensorFlow
    /// backend does: the same value where the probabilities are not clipped, and a gradient where
    /// they are. Label smoothing carries over to the logits form unchanged.
    pub fn per_sample_for(
        &self,
        y_true: &Tensor,
        y_pred: &Tensor,
        squashed: Option<&Squashed>,
    ) -> Result<Tensor> {
        let (from_logits, squashed) = match (*self, squashed) {
            (Loss::CategoricalCrossentropy { from_logits: false, label_smoothing }, Some(s))
                if s.activation == Activation::Softmax =>
            {
                (Loss::CategoricalCrossentropy { from_logits: true, label_smoothing }, s)
            }
            (Loss::SparseCategoricalCrossentropy { from_logits: false }, Some(s))
                if s.activation == Activation::Softmax =>
            {
                (Loss::SparseCategoricalCrossentropy { from_logits: true }, s)
            }
            (Loss::BinaryCrossentropy { from_logits: false, label_smoothing }, Some(s))
                if s.activation == Activation::Sigmoid =>
            {
                (Loss::BinaryCrossentropy { from_logits: true, label_smoothing }, s)
            }
            _ => return self.per_sample(y_true, y_pred),
        };
        from_logits.per_sample(y_true, &squashed.logits)
    }

    /// The batch loss, a scalar: the mean of [`Loss::per_sample`].
    pub fn compute(&self, y_true: &Tensor, y_pred: &Tensor) -> Result<Tensor> {
        Ok(self.per_sample(y_true, y_pred)?.mean_all()?)
    }

    /// Checks the options: a label smoothing outside [0, 1] is an error.
    pub fn check(&self) -> Result<()> {
        match *self {
            Loss::BinaryCrossentropy { label_smoothing, .. }
            | Loss::CategoricalCrossentropy { label_smoothing, .. }
                if !(0.0..=1.0).contains(&label_smoothing) =>
            {
                Err(NnError::Usage(format!(
                    "{}: label_smoothing must be in [0, 1], got {label_smoothing}",
                    self.name()
                )))
            }
            _ => Ok(()),
        }
    }

    /// The loss with the last axis reduced: one value per sample (Keras's loss function before
    /// the batch reduction). Targets are cast to the predictions' dtype; a target with one axis
    /// more or fewer than the predictions, of size 1, is squeezed or expanded as Keras does.
    pub fn per_sample(&self, y_true: &Tensor, y_pred: &Tensor) -> Result<Tensor> {
        if y_pred.rank() == 0 {
            return Err(NnError::Data(format!(
                "{}: expected predictions with a batch axis, got shape {}",
                self.name(),
                y_pred.shape()
            )));
        }
        let y_true = y_true.to_dtype(y_pred.dtype())?;
        if let Loss::SparseCategoricalCrossentropy { from_logits: true } = *self {
            return sparse_categorical_crossentropy_from_logits(self.name(), &y_true, y_pred);
        }
        let y_true = if self.is_sparse() {
            one_hot(self.name(), &y_true, y_pred)?
        } else {
            align(self.name(), &y_true, y_pred)?
        };
        match *self {
            Loss::MeanSquaredError => Ok(y_pred.sub(&y_true)?.square()?.mean(&[-1], false)?),
            Loss::MeanAbsoluteError => Ok(y_pred.sub(&y_true)?.abs()?.mean(&[-1], false)?),
            Loss::BinaryCrossentropy { from_logits, label_smoothing } => {
                // keras/src/losses/losses.py `binary_crossentropy`: smoothed toward 1/2.
                let y_true = smooth(&y_true, label_smoothing, 0.5)?;
                binary_crossentropy(&y_true, y_pred, from_logits)
            }
            Loss::CategoricalCrossentropy { from_logits, label_smoothing } => {
                // keras/src/losses/losses.py `categorical_crossentropy`: smoothed toward the
                // uniform distribution over the classes.
                let classes = y_pred.dims().last().copied().unwrap_or(1).max(1);
                let y_true = smooth(&y_true, label_smoothing, 1.0 / classes as f64)?;
                categorical_crossentropy(&y_true, y_pred, from_logits)
            }
            Loss::SparseCategoricalCrossentropy { from_logits } => {
                categorical_crossentropy(&y_true, y_pred, from_logits)
            }
            Loss::Hinge => Ok(hinge_margins(&y_true, y_pred)?.mean(&[-1], false)?),
            Loss::KlDivergence => kl_divergence(&y_true, y_pred),
            Loss::MeanAbsolutePercentageError => {
                let scale = y_true.abs()?.clip(EPSILON, f64::INFINITY)?;
                Ok(y_true.sub(y_pred)?.div(&scale)?.abs()?.mean(&[-1], false)?.mul_scalar(100.0)?)
            }
            Loss::MeanSquaredLogarithmicError => {
                let log1p = |t: &Tensor| -> Result<Tensor> {
                    Ok(t.clip(EPSILON, f64::INFINITY)?.add_scalar(1.0)?.log()?)
                };
                Ok(log1p(y_pred)?.sub(&log1p(&y_true)?)?.square()?.mean(&[-1], false)?)
            }
            Loss::SquaredHinge => Ok(hinge_margins(&y_true, y_pred)?.square()?.mean(&[-1], false)?),
            Loss::CategoricalHinge => {
                let positive = y_true.mul(y_pred)?.sum(&[-1], false)?;
                let negative = y_true.neg()?.add_scalar(1.0)?.mul(y_pred)?.max(&[-1], false)?;
                Ok(negative.sub(&positive)?.add_scalar(1.0)?.relu()?)
            }
            Loss::LogCosh => log_cosh(&y_true, y_pred),
            Loss::Poisson => {
                Ok(y_pred.sub(&y_true.mul(&y_pred.add_scalar(EPSILON)?.log()?)?)?.mean(&[-1], false)?)
            }
            Loss::CosineSimilarity => {
                Ok(l2_normalize(&y_true)?.mul(&l2_normalize(y_pred)?)?.sum(&[-1], false)?.neg()?)
            }
        }
    }

    /// Checks targets against a model output of shape `output` (batch axis excluded) before
    /// training: their shape, and for sparse losses that every id is an integer class in range.
    /// Sparse ids are read on the host, once.
    pub fn check_targets(&self, y_true: &Tensor, output: &[usize]) -> Result<()> {
        let Some((&samples, per_sample)) = y_true.dims().split_first() else {
            return Err(NnError::Data(format!("{}: targets need a batch axis, got a scalar", self.name())));
        };
        let batched = |s: &[usize]| {
            let dims: Vec<String> =
                std::iter::once("N".to_string()).chain(s.iter().map(usize::to_string)).collect();
            format!("({})", dims.join(", "))
        };
        if !self.is_sparse() {
            if !squeezable(per_sample, output) {
                return Err(NnError::Data(format!(
                    "{}: expected targets of shape {}, like the model output, got {}",
                    self.name(),
                    batched(output),
                    y_true.shape()
                )));
            }
            return Ok(());
        }
        let Some((&classes, positions)) = output.split_last() else {
            return Err(NnError::Data(format!("{}: the model output has no class axis", self.name())));
        };
        if !ids_fit(per_sample, positions) {
            return Err(NnError::Data(format!(
                "{}: expected class ids of shape {} for a model output of shape {}, got {}",
                self.name(),
                batched(positions),
                batched(output),
                y_true.shape()
            )));
        }
        let ids = y_true.to_vec_f64()?;
        let valid = |v: f64| v.fract() == 0.0 && v >= 0.0 && v < classes as f64;
        match ids.iter().position(|&v| !valid(v)) {
            Some(i) => Err(NnError::Data(format!(
                "{}: the target of sample {} is {}, not a class id in [0, {classes}) for a model with {classes} outputs",
                self.name(),
                i / (ids.len() / samples).max(1),
                ids[i]
            ))),
            None => Ok(()),
        }
    }
}

/// Keras 3's "sum_over_batch_size" reduction of per-sample `losses` (shape `(N, ...)`), each
/// sample's scaled by its weight if given (shape `(N,)`): the sum over the count of losses.
/// `what` names the loss in errors.
fn reduce(what: &str, losses: Tensor, sample_weight: Option<&Tensor>) -> Result<Tensor> {
    let Some(weights) = sample_weight else { return Ok(losses.mean_all()?) };
    let samples = losses.dims().first().copied().unwrap_or(0);
    if weights.dims() != [samples] {
        return Err(NnError::Data(format!(
            "{}: expected one sample weight per sample, shape ({samples},), got {}",
            what,
            weights.shape()
        )));
    }
    let mut column = vec![samples];
    column.resize(losses.rank(), 1);
    let weights = weights.detach().to_dtype(losses.dtype())?.reshape(column)?;
    Ok(losses.mul(&weights)?.mean_all()?)
}

/// Keras's squeeze-or-expand rule: target and prediction shapes that are equal or differ by one
/// trailing axis of size 1 line up.
fn squeezable(target: &[usize], prediction: &[usize]) -> bool {
    target == prediction
        || target.split_last() == Some((&1, prediction))
        || prediction.split_last() == Some((&1, target))
}

/// Whether class ids shaped `ids` fit predictions whose leading axes are `positions`.
fn ids_fit(ids: &[usize], positions: &[usize]) -> bool {
    ids == positions || ids.split_last() == Some((&1, positions))
}

/// `y_true` reshaped to the predictions' shape where Keras's squeeze-or-expand rule applies (one
/// axis more or fewer, of size 1); any other difference of shape is an error naming `what`.
pub(crate) fn align(what: &str, y_true: &Tensor, y_pred: &Tensor) -> Result<Tensor> {
    if !squeezable(y_true.dims(), y_pred.dims()) {
        return Err(NnError::Data(format!(
            "{what}: targets of shape {} do not match predictions of shape {}",
            y_true.shape(),
            y_pred.shape()
        )));
    }
    Ok(y_true.reshape(y_pred.dims().to_vec())?)
}

/// Class ids (shaped like the predictions without their last axis, or with it of size 1) as
/// one-hot rows shaped like the predictions, built on the device; a shape that does not fit is an
/// error naming `what`. Ids out of range give a zero row, as Keras's `one_hot` does (`fit` rejects
/// them beforehand). Not differentiable: targets are constants.
pub(crate) fn one_hot(what: &str, ids: &Tensor, y_pred: &Tensor) -> Result<Tensor> {
    let p = y_pred.dims();
    let (&classes, positions) = p.split_last().ok_or_else(|| {
        NnError::Data(format!("{what}: expected predictions with a class axis, got shape {}", y_pred.shape()))
    })?;
    if !ids_fit(ids.dims(), positions) {
        return Err(NnError::Data(format!(
            "{what}: expected class ids of shape ({}) for predictions of shape {}, got {}",
            positions.iter().map(usize::to_string).collect::<Vec<_>>().join(", "),
            y_pred.shape(),
            ids.shape()
        )));
    }
    no_grad(|| {
        let mut column = positions.to_vec();
        column.push(1);
        let range = Tensor::arange(classes, y_pred.dtype(), ids.device())?;
        Ok(ids.detach().to_dtype(y_pred.dtype())?.reshape(column)?.eq(&range)?)
    })
}

/// `softmax` cross-entropy of logits `y_pred` against class `ids` over the last axis, straight
/// from the ids (no one-hot rows). The ids are taken as checked, as `fit` and `evaluate` check
/// them once: on a GPU an invalid one gives NaN for its sample; on the CPU, an error.
fn sparse_categorical_crossentropy_from_logits(what: &str, ids: &Tensor, y_pred: &Tensor) -> Result<Tensor> {
    let dims = y_pred.dims();
    let (&classes, positions) = dims.split_last().expect("predictions have a batch axis");
    if !ids_fit(ids.dims(), positions) {
        return Err(NnError::Data(format!(
            "{what}: expected class ids of shape ({}) for predictions of shape {}, got {}",
            positions.iter().map(usize::to_string).collect::<Vec<_>>().join(", "),
            y_pred.shape(),
            ids.shape()
        )));
    }
    let rows: usize = positions.iter().product();
    let per_row = y_pred
        .reshape([rows, classes])?
        .sparse_softmax_cross_entropy_prechecked(&ids.detach().reshape([rows])?)?;
    Ok(per_row.reshape(positions.to_vec())?)
}

/// `y * (1 - smoothing) + smoothing * toward`: Keras's label smoothing; targets are constants.
fn smooth(y: &Tensor, smoothing: f64, toward: f64) -> Result<Tensor> {
    if smoothing == 0.0 {
        return Ok(y.clone());
    }
    Ok(y.detach().mul_scalar(1.0 - smoothing)?.add_scalar(smoothing * toward)?)
}

/// Keras's `binary_crossentropy`, averaged over the last axis.
fn binary_crossentropy(y_true: &Tensor, y_pred: &Tensor, from_logits: bool) -> Result<Tensor> {
    let elementwise = if from_logits {
        // Sigmoid cross-entropy is softmax cross-entropy over the logit pair (0, x) with the
        // target pair (1 - y, y): the fused kernel is stable and its gradient, sigmoid(x) - y,
        // is right everywhere (max(x, 0) - x y + log(1 + e^-|x|) loses it at x = 0).
        let pairs = y_pred.numel();
        let x = y_pred.reshape([pairs, 1])?;
        let y = y_true.detach().reshape([pairs, 1])?;
        let logits = Tensor::concat(&[&x.zeros_like()?, &x], -1)?;
        let targets = Tensor::concat(&[&y.neg()?.add_scalar(1.0)?, &y], -1)?;
        logits.softmax_cross_entropy(&targets)?.reshape(y_pred.dims().to_vec())?
    } else {
        let p = y_pred.clip(EPSILON, 1.0 - EPSILON)?;
        let positive = y_true.mul(&p.log()?)?;
        let negative = y_true.neg()?.add_scalar(1.0)?.mul(&p.neg()?.add_scalar(1.0)?.log()?)?;
        positive.add(&negative)?.neg()?
    };
    Ok(elementwise.mean(&[-1], false)?)
}

/// Keras's `categorical_crossentropy` over the last axis.
fn categorical_crossentropy(y_true: &Tensor, y_pred: &Tensor, from_logits: bool) -> Result<Tensor> {
    if from_logits {
        let dims = y_pred.dims();
        let (&classes, positions) = dims.split_last().expect("predictions have a batch axis");
        let rows: usize = positions.iter().product();
        let per_row = y_pred
            .reshape([rows, classes])?
            .softmax_cross_entropy(&y_true.detach().reshape([rows, classes])?)?;
        return Ok(per_row.reshape(positions.to_vec())?);
    }
    let p = y_pred.div(&y_pred.sum(&[-1], true)?)?.clip(EPSILON, 1.0 - EPSILON)?;
    Ok(y_true.mul(&p.log()?)?.sum(&[-1], false)?.neg()?)
}

/// The margins of Keras's `hinge` and `squared_hinge`: targets that are all 0 or 1 become -1 or
/// 1 (decided on the device, as Keras's `ops.cond` does), then `max(1 - y_true * y_pred, 0)`.
fn hinge_margins(y_true: &Tensor, y_pred: &Tensor) -> Result<Tensor> {
    let y_true = no_grad(|| -> Result<Tensor> {
        let y = y_true.detach();
        let is_zero_or_one = y.eq(&y.zeros_like()?)?.add(&y.eq(&y.ones_like()?)?)?;
        let all: Vec<isize> = (0..y.rank() as isize).collect();
        let any_other = is_zero_or_one.neg()?.add_scalar(1.0)?.max(&all, false)?;
        let binary = any_other.neg()?.add_scalar(1.0)?;
        // 2y - 1 where binary, y elsewhere: y + binary * (y - 1).
        Ok(y.add(&y.add_scalar(-1.0)?.mul(&binary)?)?)
    })?;
    Ok(y_true.mul(y_pred)?.neg()?.add_scalar(1.0)?.relu()?)
}

/// Keras's `log_cosh` over the last axis, as `|x| + log(1 + exp(-2|x|)) - log 2` for
/// x = y_pred - y_true: the same function as Keras's `x + softplus(-2x) - log 2`, finite for any
/// x, and with the right derivative (tanh x, 0 at x = 0) through `abs`'s sign.
fn log_cosh(y_true: &Tensor, y_pred: &Tensor) -> Result<Tensor> {
    let magnitude = y_pred.sub(y_true)?.abs()?;
    let tail = magnitude.mul_scalar(-2.0)?.exp()?.add_scalar(1.0)?.log()?;
    Ok(magnitude.add(&tail)?.add_scalar(-std::f64::consts::LN_2)?.mean(&[-1], false)?)
}

/// `x / max(||x||, 1e-7)` along the last axis: Keras's `normalize` as its cosine similarity uses
/// it (`x * min(rsqrt(sum(x^2)), 1 / epsilon)`).
fn l2_normalize(x: &Tensor) -> Result<Tensor> {
    let norm = x.square()?.sum(&[-1], true)?.sqrt()?.clip(EPSILON, f64::INFINITY)?;
    Ok(x.div(&norm)?)
}

/// Keras's `kl_divergence` over the last axis.
fn kl_divergence(y_true: &Tensor, y_pred: &Tensor) -> Result<Tensor> {
    let t = y_true.clip(EPSILON, 1.0)?;
    let p = y_pred.clip(EPSILON, 1.0)?;
    Ok(t.mul(&t.div(&p)?.log()?)?.sum(&[-1], false)?)
}

impl FromStr for Loss {
    type Err = NnError;

    /// Keras's names and aliases, in snake or camel case ("mse", "binary_crossentropy",
    /// "SparseCategoricalCrossentropy", "kld"...); cross-entropies take probabilities.
    fn from_str(name: &str) -> Result<Loss> {
        let key: String = name.chars().filter(|&c| c != '_').flat_map(char::to_lowercase).collect();
        Ok(match key.as_str() {
            "meansquarederror" | "mse" => Loss::MeanSquaredError,
            "meanabsoluteerror" | "mae" => Loss::MeanAbsoluteError,
            "binarycrossentropy" => Loss::BinaryCrossentropy { from_logits: false, label_smoothing: 0.0 },
            "categoricalcrossentropy" => {
                Loss::CategoricalCrossentropy { from_logits: false, label_smoothing: 0.0 }
            }
            "sparsecategoricalcrossentropy" => Loss::SparseCategoricalCrossentropy { from_logits: false },
            "hinge" => Loss::Hinge,
            "kldivergence" | "kld" | "kullbackleiblerdivergence" => Loss::KlDivergence,
            "meanabsolutepercentageerror" | "mape" => Loss::MeanAbsolutePercentageError,
            "meansquaredlogarithmicerror" | "msle" => Loss::MeanSquaredLogarithmicError,
            "squaredhinge" => Loss::SquaredHinge,
            "categoricalhinge" => Loss::CategoricalHinge,
            "logcosh" => Loss::LogCosh,
            "poisson" => Loss::Poisson,
            "cosinesimilarity" => Loss::CosineSimilarity,
            _ => {
                return Err(NnError::Usage(format!(
                    "unknown loss {name:?}; expected one of mean_squared_error (mse), mean_absolute_error (mae), \
                     mean_absolute_percentage_error (mape), mean_squared_logarithmic_error (msle), \
                     binary_crossentropy, categorical_crossentropy, sparse_categorical_crossentropy, hinge, \
                     squared_hinge, categorical_hinge, kl_divergence (kld), log_cosh, poisson, cosine_similarity"
                )));
            }
        })
    }
}

impl fmt::Display for Loss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What `compile` accepts as a loss: a [`Loss`], its Keras name, a [`CustomLoss`], or the
/// name a custom loss was registered under ([`register_loss`]).
pub trait IntoLoss {
    /// The loss, or an error naming an unknown name.
    fn into_loss(self) -> Result<AnyLoss>;
}

impl IntoLoss for Loss {
    fn into_loss(self) -> Result<AnyLoss> {
        self.check()?;
        Ok(AnyLoss::Builtin(self))
    }
}

impl IntoLoss for AnyLoss {
    fn into_loss(self) -> Result<AnyLoss> {
        match &self {
            AnyLoss::Builtin(loss) => loss.check()?,
            AnyLoss::Custom(_) => {}
        }
        Ok(self)
    }
}

impl IntoLoss for &str {
    /// A built-in name, or a registered custom loss made from an empty config.
    fn into_loss(self) -> Result<AnyLoss> {
        AnyLoss::from_class(self, &crate::layers::Config::new())
    }
}

impl IntoLoss for String {
    fn into_loss(self) -> Result<AnyLoss> {
        self.as_str().into_loss()
    }
}
