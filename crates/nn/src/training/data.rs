//! Data on the model's device: sample counts checked, the validation tail split off, batches
//! gathered by index.

use tensor_core::{DType, Device, Tensor};

use crate::{Model, NnError, Result};

/// A model's inputs: one tensor, or one per input of a model with several, each with the samples
/// along its first axis.
#[derive(Clone, Debug)]
pub struct Inputs(pub(crate) Vec<Tensor>);

impl From<Tensor> for Inputs {
    fn from(x: Tensor) -> Self {
        Inputs(vec![x])
    }
}

impl From<&Tensor> for Inputs {
    fn from(x: &Tensor) -> Self {
        Inputs(vec![x.clone()])
    }
}

impl From<Vec<Tensor>> for Inputs {
    fn from(xs: Vec<Tensor>) -> Self {
        Inputs(xs)
    }
}

impl From<&[Tensor]> for Inputs {
    fn from(xs: &[Tensor]) -> Self {
        Inputs(xs.to_vec())
    }
}

impl From<&[&Tensor]> for Inputs {
    fn from(xs: &[&Tensor]) -> Self {
        Inputs(xs.iter().map(|&x| x.clone()).collect())
    }
}

impl<const N: usize> From<[&Tensor; N]> for Inputs {
    fn from(xs: [&Tensor; N]) -> Self {
        Inputs(xs.iter().map(|&x| x.clone()).collect())
    }
}

/// A model's targets (Keras's `y`): one tensor for a model of one output, or one per output of a
/// model with several, in the model's order or keyed by output layer name
/// ([`Targets::named`]), each with the samples along its first axis.
#[derive(Clone, Debug)]
pub struct Targets(TargetList);

#[derive(Clone, Debug)]
enum TargetList {
    Ordered(Vec<Tensor>),
    Named(Vec<(String, Tensor)>),
}

impl Targets {
    /// Targets keyed by the name of the output layer they are for (Keras's dict of targets).
    pub fn named<'t>(targets: impl IntoIterator<Item = (&'t str, &'t Tensor)>) -> Targets {
        Targets(TargetList::Named(targets.into_iter().map(|(k, t)| (k.to_string(), t.clone())).collect()))
    }

    /// One target tensor per output of `model`, in its output order; a count or a name that does
    /// not match the outputs is an error naming `what`.
    pub(crate) fn per_output(self, model: &Model, what: &str) -> Result<Vec<Tensor>> {
        let names = model.output_names();
        match self.0 {
            TargetList::Ordered(targets) if targets.len() == names.len() => Ok(targets),
            TargetList::Ordered(targets) => Err(NnError::Data(format!(
                "{what}: model \"{}\" has {} output(s) ({}), so y needs {} target tensor(s), got {}",
                model.name(),
                names.len(),
                names.join(", "),
                names.len(),
                targets.len()
            ))),
            TargetList::Named(mut named) => {
                if let Some((twice, _)) = named
                    .iter()
                    .enumerate()
                    .find(|(i, (k, _))| named[..*i].iter().any(|(earlier, _)| earlier == k))
                    .map(|(_, pair)| pair)
                {
                    return Err(NnError::Data(format!("{what}: y names output \"{twice}\" twice")));
                }
                if let Some((unknown, _)) = named.iter().find(|(k, _)| !names.contains(k)) {
                    return Err(NnError::Data(format!(
                        "{what}: y names output \"{unknown}\", but model \"{}\"'s outputs are {}",
                        model.name(),
                        names.join(", ")
                    )));
                }
                names
                    .iter()
                    .map(|name| match named.iter().position(|(k, _)| k == name) {
                        Some(i) => Ok(named.swap_remove(i).1),
                        None => Err(NnError::Data(format!(
                            "{what}: y has no target for output \"{name}\"; every output needs one"
                        ))),
                    })
                    .collect()
            }
        }
    }
}

impl From<Tensor> for Targets {
    fn from(y: Tensor) -> Self {
        Targets(TargetList::Ordered(vec![y]))
    }
}

impl From<&Tensor> for Targets {
    fn from(y: &Tensor) -> Self {
        Targets(TargetList::Ordered(vec![y.clone()]))
    }
}

impl From<Vec<Tensor>> for Targets {
    fn from(ys: Vec<Tensor>) -> Self {
        Targets(TargetList::Ordered(ys))
    }
}

impl From<&[Tensor]> for Targets {
    fn from(ys: &[Tensor]) -> Self {
        Targets(TargetList::Ordered(ys.to_vec()))
    }
}

impl<const N: usize> From<[&Tensor; N]> for Targets {
    fn from(ys: [&Tensor; N]) -> Self {
        Targets(TargetList::Ordered(ys.iter().map(|&y| y.clone()).collect()))
    }
}

/// Moves `x` to `model`'s device and dtype, checking that every input holds the same number of
/// samples (at least one); returns the inputs and that number. `what` names the data in errors
/// ("fit", "validation_data"...).
pub(crate) fn upload_inputs(model: &Model, x: Inputs, what: &str) -> Result<(Vec<Tensor>, usize)> {
    let inputs = x.0.iter().map(|t| upload(model, t)).collect::<Result<Vec<_>>>()?;
    let Some(first) = inputs.first() else {
        return Err(NnError::Data(format!("{what}: expected at least one input tensor")));
    };
    let samples = match first.dims().first() {
        Some(&n) if n > 0 => n,
        _ => {
            return Err(NnError::Data(format!(
                "{what}: there are no samples (the first input has shape {})",
                first.shape()
            )));
        }
    };
    check_samples(what, samples, inputs.iter().enumerate().map(|(i, t)| (format!("input {i}"), t)))?;
    Ok((inputs, samples))
}

/// `t` on `model`'s device, in the dtype of its weights.
fn upload(model: &Model, t: &Tensor) -> Result<Tensor> {
    Placement::of(model).place(t)
}

/// Where a model's data goes: its device, in the dtype of its weights (if it has any).
#[derive(Clone, Debug)]
pub(crate) struct Placement {
    device: Device,
    dtype: Option<DType>,
}

impl Placement {
    pub(crate) fn of(model: &Model) -> Placement {
        Placement {
            device: model.device().clone(),
            dtype: model.weights().first().map(|w| w.value().dtype()),
        }
    }

    /// `t` on the device, in the dtype.
    pub(crate) fn place(&self, t: &Tensor) -> Result<Tensor> {
        let t = t.to(&self.device)?;
        Ok(match self.dtype {
            Some(dtype) if dtype != t.dtype() => t.to_dtype(dtype)?,
            _ => t,
        })
    }
}

/// `weights` on `model`'s device and in its dtype, checked to hold one weight per sample of
/// `samples`; `what` names the data in errors.
pub(crate) fn sample_weights_of(
    model: &Model,
    weights: &Tensor,
    samples: usize,
    what: &str,
) -> Result<Tensor> {
    if weights.dims() != [samples] {
        return Err(NnError::Data(format!(
            "{what}: expected sample_weight of shape ({samples},), one weight per sample, got {}",
            weights.shape()
        )));
    }
    upload(model, weights)
}

/// Checks that each named tensor holds `samples` samples.
pub(crate) fn check_samples<'t>(
    what: &str,
    samples: usize,
    mut named: impl Iterator<Item = (String, &'t Tensor)>,
) -> Result<()> {
    match named.find(|(_, t)| t.dims().first() != Some(&samples)) {
        Some((name, t)) => Err(NnError::Data(format!(
            "{what}: input 0 holds {samples} samples but {name} has shape {}; every input and y need one \
             entry per sample",
            t.shape()
        ))),
        None => Ok(()),
    }
}

/// Inputs, targets (one tensor per output) and optional per-sample loss weights on the model's
/// device, in its dtype.
pub(crate) struct Dataset {
    inputs: Vec<Tensor>,
    targets: Vec<Tensor>,
    weights: Option<Tensor>,
    samples: usize,
}

/// One batch: the inputs, the targets (one per output) and the samples' loss weights, if any.
pub(crate) type Batch = (Vec<Tensor>, Vec<Tensor>, Option<Tensor>);

impl Dataset {
    /// Uploads `x` (see [`upload_inputs`]) and the targets, one per output, checking that each
    /// has a target per sample.
    pub(crate) fn new(model: &Model, x: Inputs, targets: &[Tensor], what: &str) -> Result<Dataset> {
        let (inputs, samples) = upload_inputs(model, x, what)?;
        let targets = targets.iter().map(|y| upload(model, y)).collect::<Result<Vec<_>>>()?;
        let names = model.output_names();
        let label = |k: usize| match targets.len() {
            1 => "y".to_string(),
            _ => format!("y for output \"{}\"", names.get(k).map_or("?", String::as_str)),
        };
        check_samples(what, samples, targets.iter().enumerate().map(|(k, t)| (label(k), t)))?;
        Ok(Dataset { inputs, targets, weights: None, samples })
    }

    /// The dataset with `weights` (shape `(N,)`, one per sample, finite) scaling each sample's
    /// loss; `None` leaves it unweighted.
    pub(crate) fn with_weights(
        mut self,
        model: &Model,
        weights: Option<&Tensor>,
        what: &str,
    ) -> Result<Dataset> {
        let Some(weights) = weights else { return Ok(self) };
        self.weights = Some(sample_weights_of(model, weights, self.samples, what)?);
        Ok(self)
    }

    /// The targets, one per output, for weights derived from them (class weights).
    pub(crate) fn targets(&self) -> &[Tensor] {
        &self.targets
    }

    pub(crate) fn samples(&self) -> usize {
        self.samples
    }

    /// Splits off the last `fraction` of the samples (Keras's `validation_split`: the tail,
    /// before any shuffling). Both parts must be non-empty.
    pub(crate) fn split_tail(&self, fraction: f64) -> Result<(Dataset, Dataset)> {
        let split_at = (self.samples as f64 * (1.0 - fraction)).floor() as usize;
        if split_at == 0 || split_at == self.samples {
            return Err(NnError::Data(format!(
                "the training data has {} samples, too few to hold out validation_split={fraction} of them; \
                 give more data or another fraction",
                self.samples
            )));
        }
        let part = |start: usize, end: usize| -> Result<Dataset> {
            let slice = |t: &Tensor| t.slice(0, start, end);
            Ok(Dataset {
                inputs: self.inputs.iter().map(slice).collect::<tensor_core::Result<_>>()?,
                targets: self.targets.iter().map(slice).collect::<tensor_core::Result<_>>()?,
                weights: self.weights.as_ref().map(slice).transpose()?,
                samples: end - start,
            })
        };
        Ok((part(0, split_at)?, part(split_at, self.samples)?))
    }

    /// The samples at `indices`, gathered on the device.
    pub(crate) fn batch(&self, indices: &[usize]) -> Result<Batch> {
        let weights = self.weights.as_ref().map(|w| w.gather_rows(indices)).transpose()?;
        Ok((gather(&self.inputs, indices)?, gather(&self.targets, indices)?, weights))
    }
}

/// The rows at `indices` of each tensor, gathered on the device.
pub(crate) fn gather(tensors: &[Tensor], indices: &[usize]) -> Result<Vec<Tensor>> {
    Ok(tensors.iter().map(|t| t.gather_rows(indices)).collect::<tensor_core::Result<_>>()?)
}

/// The order in which an epoch visits `samples` samples: shuffled by `seed` or in order.
pub(crate) fn sample_order(samples: usize, shuffle: bool, seed: u64) -> Vec<usize> {
    if shuffle { crate::data::permutation(samples, seed) } else { (0..samples).collect() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffles_are_permutations_fixed_by_the_seed() {
        let a = sample_order(100, true, 7);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
        assert_eq!(a, sample_order(100, true, 7));
        assert_ne!(a, sample_order(100, true, 8));
        assert_ne!(a, sorted);
        assert_eq!(sample_order(5, false, 7), vec![0, 1, 2, 3, 4]);
    }
}
