//! Softmax cross-entropy straight from logits, per sample, with dense (one-hot or soft) labels or
//! with class ids. Fused forward and backward kernels: stable for logits of any magnitude, and no
//! softmax tensor is stored between the two.

use crate::autodiff::{Backward, record};
use crate::backend::Rows;
use crate::{Error, Result, Shape, Tensor};

/// How the labels are given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Labels {
    /// (N, C) target distributions.
    Dense,
    /// N class ids stored as floats.
    Sparse,
}

impl Labels {
    fn name(self) -> &'static str {
        match self {
            Labels::Dense => "softmax_cross_entropy",
            Labels::Sparse => "sparse_softmax_cross_entropy",
        }
    }
}

/// The (N, C) layout of `logits`.
fn rows(op: &'static str, logits: &Tensor) -> Result<Rows> {
    match *logits.dims() {
        [rows, classes] if classes > 0 => Ok(Rows { rows, classes }),
        _ => Err(Error::shape(
            op,
            format!("expected logits of shape (N, C) with C >= 1, got {}", logits.shape()),
        )),
    }
}

/// Checks that `ids` holds one class id per sample, shaped (N,) or (N, 1), and, where
/// `check_values` says so, that each is an integer in `[0, C)` (which reads GPU labels back).
fn check_class_ids(op: &'static str, ids: &Tensor, p: Rows, check_values: bool) -> Result<()> {
    if !matches!(*ids.dims(), [n] | [n, 1] if n == p.rows) {
        return Err(Error::shape(
            op,
            format!(
                "expected {} class ids, shape ({},) or ({}, 1), got shape {}",
                p.rows,
                p.rows,
                p.rows,
                ids.shape()
            ),
        ));
    }
    if !check_values {
        return Ok(());
    }
    let values = ids.to_vec_f64()?;
    let in_range = |v: f64| v.fract() == 0.0 && v >= 0.0 && v < p.classes as f64;
    match values.iter().position(|&v| !in_range(v)) {
        Some(i) => Err(Error::argument(
            op,
            format!("label {i} is {}, not a class id in [0, {})", values[i], p.classes),
        )),
        None => Ok(()),
    }
}

/// Runs the forward kernel without recording: one loss per sample.
fn forward(kind: Labels, p: Rows, logits: &Tensor, labels: &Tensor) -> Result<Tensor> {
    let storage = logits.storage().cross_entropy(&labels.storage(), p, kind == Labels::Sparse)?;
    Ok(Tensor::from_storage(storage, Shape::new([p.rows])))
}

/// The gradient with respect to the logits given each sample's loss gradient `grad`: the fused
/// backward kernel, untracked.
fn logits_grad(kind: Labels, p: Rows, logits: &Tensor, labels: &Tensor, grad: &Tensor) -> Result<Tensor> {
    logits.same_kind(kind.name(), grad)?;
    let storage = logits.storage().cross_entropy_backward(
        &labels.storage(),
        &grad.storage(),
        p,
        kind == Labels::Sparse,
    )?;
    Ok(Tensor::from_storage(storage, logits.shape().clone()))
}

/// Runs the forward kernel and records the fused backward rule.
fn cross_entropy(kind: Labels, p: Rows, logits: &Tensor, labels: &Tensor) -> Result<Tensor> {
    let out = forward(kind, p, logits, labels)?;
    record(out, &[logits, labels], || {
        Box::new(CrossEntropyBackward { kind, rows: p, logits: logits.detach(), labels: labels.detach() })
    })
}

impl Tensor {
    /// Cross-entropy of `softmax(self)` against `labels`, one value per sample: `self` holds
    /// (N, C) logits and `labels` (N, C) target distributions (one-hot or soft). Fused, so it
    /// stays finite where a separate softmax would underflow. Labels are constants: they get no
    /// gradient.
    pub fn softmax_cross_entropy(&self, labels: &Tensor) -> Result<Tensor> {
        let kind = Labels::Dense;
        let p = rows(kind.name(), self)?;
        self.same_layout(kind.name(), labels)?;
        cross_entropy(kind, p, self, labels)
    }

    /// Cross-entropy of `softmax(self)` against class ids, one value per sample: `self` holds
    /// (N, C) logits and `labels` N integer class ids stored as floats (shape (N,) or (N, 1), as
    /// Keras accepts). The ids are checked, which for labels on a GPU reads them back to the
    /// host; see [`Tensor::sparse_softmax_cross_entropy_prechecked`] for training loops. Labels
    /// get no gradient.
    pub fn sparse_softmax_cross_entropy(&self, labels: &Tensor) -> Result<Tensor> {
        self.sparse_cross_entropy(labels, true)
    }

    /// [`Tensor::sparse_softmax_cross_entropy`] for labels whose ids the caller has already
    /// checked (a training loop checks its whole label set once, before the first step): labels
    /// on a GPU are not read back, so a step does not wait on the device. Labels on the CPU are
    /// still checked, which costs nothing. On a GPU an id that is not an integer in `[0, C)` gives
    /// NaN for its sample's loss and gradient; nothing is ever read out of range.
    pub fn sparse_softmax_cross_entropy_prechecked(&self, labels: &Tensor) -> Result<Tensor> {
        self.sparse_cross_entropy(labels, false)
    }

    /// The sparse cross-entropy, checking the ids' values on a GPU only when `check_on_gpu`.
    fn sparse_cross_entropy(&self, labels: &Tensor, check_on_gpu: bool) -> Result<Tensor> {
        let kind = Labels::Sparse;
        let p = rows(kind.name(), self)?;
        self.same_kind(kind.name(), labels)?;
        check_class_ids(kind.name(), labels, p, check_on_gpu || !labels.device().is_gpu())?;
        cross_entropy(kind, p, self, labels)
    }
}

struct CrossEntropyBackward {
    kind: Labels,
    rows: Rows,
    logits: Tensor,
    labels: Tensor,
}

impl Backward for CrossEntropyBackward {
    fn name(&self) -> &'static str {
        self.kind.name()
    }

    fn backward(&self, grad: &Tensor, needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let d_logits = needs[0]
            .then(|| logits_grad(self.kind, self.rows, &self.logits, &self.labels, grad))
            .transpose()?;
        Ok(vec![d_logits, None])
    }
}
