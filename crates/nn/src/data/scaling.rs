//! Feature scaling: min-max to [0, 1] and standardisation to zero mean and unit variance.
//!
//! Features lie along the last axis (a column of a table, a channel of an NHWC image), as in
//! Keras's `Normalization(axis=-1)`; a rank-0 or rank-1 tensor is one feature. Statistics are
//! fitted on the host in f64 (the data is read back once); transforms are tensor ops on the
//! data's own device and dtype.

use tensor_core::{DType, Device, Element, Tensor};

use crate::{NnError, Result};

/// The smallest standard deviation [`StandardScaler`] divides by, so a constant feature maps
/// to 0 instead of NaN (Keras's `Normalization` floors it at `backend.epsilon()`, 1e-7).
const MIN_STD: f64 = 1e-7;

/// Scales values linearly so that `min` maps to 0 and `max` to 1.
#[derive(Clone, Debug, PartialEq)]
pub struct MinMaxScaler {
    min: Vec<f64>,
    max: Vec<f64>,
}

impl MinMaxScaler {
    /// One range for every feature, e.g. `new(0.0, 255.0)` for 8-bit pixels.
    pub fn new(min: f64, max: f64) -> Result<MinMaxScaler> {
        if !(min.is_finite() && max.is_finite() && min < max) {
            return Err(NnError::Data(format!(
                "MinMaxScaler: need finite bounds with min < max, got min {min}, max {max}"
            )));
        }
        Ok(MinMaxScaler { min: vec![min], max: vec![max] })
    }

    /// The minimum and maximum of each feature of `x`. A constant feature gets a range of 1
    /// (as scikit-learn does), so it maps to 0 rather than dividing by zero.
    pub fn fit(x: &Tensor) -> Result<MinMaxScaler> {
        let stats = feature_stats("MinMaxScaler::fit", x)?;
        Ok(MinMaxScaler {
            min: stats.iter().map(|s| s.min).collect(),
            max: stats.iter().map(|s| s.max).collect(),
        })
    }

    /// The lower bound of each feature (one value when given to [`MinMaxScaler::new`]).
    pub fn min(&self) -> &[f64] {
        &self.min
    }

    /// The upper bound of each feature.
    pub fn max(&self) -> &[f64] {
        &self.max
    }

    /// `(x - min) / (max - min)`, per feature.
    pub fn transform(&self, x: &Tensor) -> Result<Tensor> {
        let scale: Vec<f64> = self
            .min
            .iter()
            .zip(&self.max)
            .map(|(lo, hi)| if hi > lo { 1.0 / (hi - lo) } else { 1.0 })
            .collect();
        affine("MinMaxScaler", x, &self.min, &scale)
    }
}

/// Standardises each feature: subtracts its mean and divides by its standard deviation.
#[derive(Clone, Debug, PartialEq)]
pub struct StandardScaler {
    mean: Vec<f64>,
    std: Vec<f64>,
}

impl StandardScaler {
    /// The mean and population standard deviation (as Keras's `Normalization`) of each feature
    /// of `x`; the deviation is floored at 1e-7 so a constant feature maps to 0.
    pub fn fit(x: &Tensor) -> Result<StandardScaler> {
        let stats = feature_stats("StandardScaler::fit", x)?;
        Ok(StandardScaler {
            mean: stats.iter().map(|s| s.mean).collect(),
            std: stats.iter().map(|s| (s.m2 / s.count as f64).sqrt().max(MIN_STD)).collect(),
        })
    }

    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    pub fn std(&self) -> &[f64] {
        &self.std
    }

    /// `(x - mean) / std`, per feature.
    pub fn transform(&self, x: &Tensor) -> Result<Tensor> {
        let scale: Vec<f64> = self.std.iter().map(|s| 1.0 / s).collect();
        affine("StandardScaler", x, &self.mean, &scale)
    }
}

/// `(x - shift) * scale`, broadcasting one value per feature (or one for all) along the last
/// axis; `shift` and `scale` have the same length.
fn affine(op: &str, x: &Tensor, shift: &[f64], scale: &[f64]) -> Result<Tensor> {
    let features = shift.len();
    if features > 1 && x.dims().last() != Some(&features) {
        return Err(NnError::Data(format!(
            "{op}: fitted on {features} features (the last axis), cannot transform shape {}",
            x.shape()
        )));
    }
    let per_feature = |values: &[f64]| -> Result<Tensor> {
        let host = Tensor::from_slice(values, [features], &Device::Cpu)?;
        Ok(host.to_dtype(x.dtype())?.to(x.device())?)
    };
    Ok(x.sub(&per_feature(shift)?)?.mul(&per_feature(scale)?)?)
}

/// Running statistics of one feature (Welford's update, stable for large counts and means).
#[derive(Clone, Copy)]
struct FeatureStats {
    count: usize,
    mean: f64,
    m2: f64,
    min: f64,
    max: f64,
}

impl FeatureStats {
    const EMPTY: FeatureStats =
        FeatureStats { count: 0, mean: 0.0, m2: 0.0, min: f64::INFINITY, max: f64::NEG_INFINITY };

    fn push(&mut self, v: f64) {
        self.count += 1;
        let delta = v - self.mean;
        self.mean += delta / self.count as f64;
        self.m2 += delta * (v - self.mean);
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }
}

/// The statistics of each feature (last axis) of `x`, read back to the host once.
fn feature_stats(op: &str, x: &Tensor) -> Result<Vec<FeatureStats>> {
    if x.numel() == 0 {
        return Err(NnError::Data(format!("{op}: cannot fit on an empty tensor (shape {})", x.shape())));
    }
    let features = if x.rank() <= 1 { 1 } else { x.dims()[x.rank() - 1] };
    // Reading the native dtype avoids a full f64 copy of a large f32 dataset.
    Ok(match x.dtype() {
        DType::F16 | DType::F32 => stats_of(&x.to_dtype(DType::F32)?.to_vec::<f32>()?, features),
        DType::F64 => stats_of(&x.to_vec::<f64>()?, features),
    })
}

fn stats_of<T: Element>(values: &[T], features: usize) -> Vec<FeatureStats> {
    let mut stats = vec![FeatureStats::EMPTY; features];
    for row in values.chunks_exact(features) {
        for (s, &v) in stats.iter_mut().zip(row) {
            s.push(v.f64());
        }
    }
    stats
}
