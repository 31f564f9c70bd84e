//! Weight initializers with Keras's formulas, and the seeds that make them reproducible.
//!
//! Every layer draws a seed when it is constructed, from a per-thread stream that
//! [`set_random_seed`] restarts (Keras's `keras.utils.set_random_seed`): two layers of a model
//! differ, and the same program builds the same weights on every run.

use std::cell::Cell;

use tensor_core::{DType, Device, Tensor, rng};

use crate::layers::KerasName;
use crate::{NnError, Result};

/// How a weight's first values are drawn.
#[derive(Clone, Debug, PartialEq)]
pub enum Initializer {
    /// All 0 (Keras's default for biases).
    Zeros,
    /// All 1.
    Ones,
    /// All the given value.
    Constant(f64),
    /// Uniform in `±sqrt(6 / (fan_in + fan_out))`: Keras's default for kernels.
    GlorotUniform,
    /// Truncated normal (at two standard deviations, as Keras) with variance
    /// `2 / (fan_in + fan_out)`.
    GlorotNormal,
    /// Truncated normal with variance `2 / fan_in`, for ReLU networks.
    HeNormal,
    /// Uniform in `±sqrt(6 / fan_in)`.
    HeUniform,
    /// Truncated normal with variance `1 / fan_in`: LeCun's rule (what some texts call Xavier's
    /// "variance 1/n"), for SELU and tanh networks.
    LecunNormal,
    /// Uniform in `±sqrt(3 / fan_in)`: variance `1 / fan_in`.
    LecunUniform,
    /// Normal samples (Keras's default: mean 0, standard deviation 0.05).
    RandomNormal { mean: f64, stddev: f64 },
    /// Uniform samples in [minval, maxval) (Keras's default: ±0.05).
    RandomUniform { minval: f64, maxval: f64 },
    /// A (semi-)orthogonal matrix times `gain`: Keras's default for recurrent kernels.
    Orthogonal { gain: f64 },
}

impl Initializer {
    /// Keras's `RandomNormal()`: mean 0, standard deviation 0.05.
    pub fn random_normal() -> Initializer {
        Initializer::RandomNormal { mean: 0.0, stddev: 0.05 }
    }

    /// Keras's `RandomUniform()`: uniform in [-0.05, 0.05).
    pub fn random_uniform() -> Initializer {
        Initializer::RandomUniform { minval: -0.05, maxval: 0.05 }
    }

    /// Keras's `Orthogonal()`: gain 1.
    pub fn orthogonal() -> Initializer {
        Initializer::Orthogonal { gain: 1.0 }
    }

    /// A tensor of `shape` on the CPU, drawn from the stream `seed`.
    pub fn sample(&self, shape: &[usize], seed: u64, dtype: DType) -> Result<Tensor> {
        let cpu = &Device::Cpu;
        let (fan_in, fan_out) = fans(shape);
        Ok(match *self {
            Initializer::Zeros => Tensor::zeros(shape, dtype, cpu)?,
            Initializer::Ones => Tensor::ones(shape, dtype, cpu)?,
            Initializer::Constant(value) => Tensor::full(shape, value, dtype, cpu)?,
            Initializer::GlorotUniform => {
                uniform_limit(shape, (6.0 / (fan_in + fan_out)).sqrt(), seed, dtype)?
            }
            Initializer::HeUniform => uniform_limit(shape, (6.0 / fan_in).sqrt(), seed, dtype)?,
            Initializer::GlorotNormal => {
                truncated_normal(shape, (2.0 / (fan_in + fan_out)).sqrt(), seed, dtype)?
            }
            Initializer::HeNormal => truncated_normal(shape, (2.0 / fan_in).sqrt(), seed, dtype)?,
            Initializer::LecunNormal => truncated_normal(shape, (1.0 / fan_in).sqrt(), seed, dtype)?,
            Initializer::LecunUniform => uniform_limit(shape, (3.0 / fan_in).sqrt(), seed, dtype)?,
            Initializer::RandomNormal { mean, stddev } => {
                Tensor::normal(shape, mean, stddev, seed, dtype, cpu)?
            }
            Initializer::RandomUniform { minval, maxval } => {
                Tensor::uniform(shape, minval, maxval, seed, dtype, cpu)?
            }
            Initializer::Orthogonal { gain } => orthogonal(shape, gain, seed, dtype)?,
        })
    }
}

impl KerasName for Initializer {
    const KIND: &'static str = "initializer";
    const NAMES: &'static [&'static str] = &[
        "zeros",
        "ones",
        "glorot_uniform",
        "glorot_normal",
        "he_normal",
        "he_uniform",
        "lecun_normal",
        "lecun_uniform",
        "random_normal",
        "random_uniform",
        "orthogonal",
    ];

    /// Accepts Keras's snake_case names and its class names ("GlorotUniform").
    fn from_name(name: &str) -> Option<Self> {
        let key: String = name.chars().filter(|&c| c != '_').flat_map(char::to_lowercase).collect();
        match key.as_str() {
            "zeros" => Some(Initializer::Zeros),
            "ones" => Some(Initializer::Ones),
            "glorotuniform" => Some(Initializer::GlorotUniform),
            "glorotnormal" => Some(Initializer::GlorotNormal),
            "henormal" => Some(Initializer::HeNormal),
            "heuniform" => Some(Initializer::HeUniform),
            "lecunnormal" => Some(Initializer::LecunNormal),
            "lecununiform" => Some(Initializer::LecunUniform),
            "randomnormal" => Some(Initializer::random_normal()),
            "randomuniform" => Some(Initializer::random_uniform()),
            "orthogonal" => Some(Initializer::orthogonal()),
            _ => None,
        }
    }
}

/// Keras's fan-in and fan-out: a dense kernel (in, out) has them directly; a convolution kernel
/// (KH, KW, C, F) multiplies its input and output channels by the receptive field KH * KW.
pub fn fans(shape: &[usize]) -> (f64, f64) {
    match shape {
        [] => (1.0, 1.0),
        [n] => (*n as f64, *n as f64),
        [.., inputs, outputs] => {
            let receptive: usize = shape[..shape.len() - 2].iter().product();
            ((inputs * receptive) as f64, (outputs * receptive) as f64)
        }
    }
}

fn uniform_limit(shape: &[usize], limit: f64, seed: u64, dtype: DType) -> Result<Tensor> {
    Ok(Tensor::uniform(shape, -limit, limit, seed, dtype, &Device::Cpu)?)
}

/// Keras scales a normal truncated at two standard deviations by this, so that the truncated
/// distribution keeps the variance asked for.
const TRUNCATED_STDDEV_CORRECTION: f64 = 0.879_625_661_034_239_8;

/// Normal samples of standard deviation `stddev`, redrawing (from derived streams) any beyond
/// two standard deviations, as Keras's `TruncatedNormal` does.
fn truncated_normal(shape: &[usize], stddev: f64, seed: u64, dtype: DType) -> Result<Tensor> {
    let scale = stddev / TRUNCATED_STDDEV_CORRECTION;
    let values = (0..stream_len(shape)?)
        .map(|i| {
            let mut draw = 0;
            let mut z = rng::normal(seed, i);
            while z.abs() > 2.0 {
                draw += 1;
                z = rng::normal(derive_seed(seed, draw), i);
            }
            z * scale
        })
        .collect();
    Ok(Tensor::from_vec(values, shape, &Device::Cpu)?.to_dtype(dtype)?)
}

/// Keras's `Orthogonal`: the weight flattened to (rows, cols) = (all but last, last); the Q
/// factor of a (max, min) normal matrix, with R's diagonal made positive, transposed when there
/// are fewer rows than columns. Modified Gram–Schmidt gives exactly that Q.
fn orthogonal(shape: &[usize], gain: f64, seed: u64, dtype: DType) -> Result<Tensor> {
    let Some((&cols, rest)) = shape.split_last().filter(|(_, rest)| !rest.is_empty()) else {
        return Err(NnError::Usage(format!(
            "the orthogonal initializer needs a weight of rank 2 or more, got shape {shape:?}"
        )));
    };
    let rows: usize = rest.iter().product();
    let (tall, narrow) = (rows.max(cols), rows.min(cols));
    // Column-major: column j of the (tall, narrow) matrix is q[j].
    let mut q: Vec<Vec<f64>> = (0..narrow)
        .map(|j| (0..tall).map(|i| rng::normal(seed, (i * narrow + j) as u32)).collect())
        .collect();
    for j in 0..narrow {
        let (done, rest) = q.split_at_mut(j);
        let column = &mut rest[0];
        for previous in done.iter() {
            let projection: f64 = previous.iter().zip(column.iter()).map(|(p, c)| p * c).sum();
            column.iter_mut().zip(previous).for_each(|(c, p)| *c -= projection * p);
        }
        let norm = column.iter().map(|c| c * c).sum::<f64>().sqrt();
        column.iter_mut().for_each(|c| *c /= norm);
    }
    let values = (0..rows * cols)
        .map(|k| {
            let (r, c) = (k / cols, k % cols);
            gain * if rows >= cols { q[c][r] } else { q[r][c] }
        })
        .collect();
    Ok(Tensor::from_vec(values, shape, &Device::Cpu)?.to_dtype(dtype)?)
}

/// The number of elements of `shape`, if a random stream is long enough for them.
fn stream_len(shape: &[usize]) -> Result<u32> {
    let n: usize = shape.iter().product();
    u32::try_from(n).map_err(|_| {
        NnError::Usage(format!("a weight of shape {shape:?} has more elements than a random stream"))
    })
}

/// An independent stream derived from `seed`: the `stream`-th weight of a layer, or the
/// `stream`-th redraw of a truncated normal.
pub fn derive_seed(seed: u64, stream: u32) -> u64 {
    let index = stream.wrapping_mul(2);
    (u64::from(rng::random_bits(seed, index)) << 32) | u64::from(rng::random_bits(seed, index + 1))
}

/// Where a thread's stream of layer seeds starts unless [`set_random_seed`] says otherwise.
const DEFAULT_SEED: u64 = 1337;

thread_local! {
    /// The seed the stream of layer seeds was started from, and how many were drawn since.
    static LAYER_SEEDS: Cell<(u64, u32)> = const { Cell::new((DEFAULT_SEED, 0)) };
}

/// Restarts this thread's stream of layer seeds: the layers constructed afterwards get the same
/// weights on every run (Keras's `keras.utils.set_random_seed`).
pub fn set_random_seed(seed: u64) {
    LAYER_SEEDS.with(|s| s.set((seed, 0)));
}

/// The next seed of this thread's stream, for a newly constructed layer (a layer of your own
/// draws its seed here too, so [`set_random_seed`] makes its weights reproducible).
pub fn next_layer_seed() -> u64 {
    LAYER_SEEDS.with(|s| {
        let (seed, drawn) = s.get();
        s.set((seed, drawn.wrapping_add(1)));
        derive_seed(seed, drawn)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(init: &Initializer, shape: &[usize], seed: u64) -> Vec<f64> {
        init.sample(shape, seed, DType::F64).unwrap().to_vec::<f64>().unwrap()
    }

    fn std(v: &[f64]) -> f64 {
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64).sqrt()
    }

    #[test]
    fn fans_follow_keras() {
        assert_eq!(fans(&[20, 30]), (20.0, 30.0));
        assert_eq!(fans(&[3, 5, 4, 8]), (60.0, 120.0));
        assert_eq!(fans(&[7]), (7.0, 7.0));
    }

    #[test]
    fn limits_and_spreads_follow_the_formulas() {
        // (100, 200): glorot limit sqrt(6/300); he limit sqrt(6/100). 20,000 samples: the
        // sample std is within 3% of the target (its relative error is ~1/sqrt(2n) = 0.5%).
        let shape = [100, 200];
        let limit = (6.0f64 / 300.0).sqrt();
        let g = values(&Initializer::GlorotUniform, &shape, 1);
        assert!(g.iter().all(|v| v.abs() <= limit));
        assert!((std(&g) - limit / 3f64.sqrt()).abs() < 0.03 * limit / 3f64.sqrt());
        let he = values(&Initializer::HeUniform, &shape, 1);
        assert!(he.iter().all(|v| v.abs() <= (0.06f64).sqrt()));
        // LeCun uniform: limit sqrt(3/100), so variance 1/100.
        let lecun = values(&Initializer::LecunUniform, &shape, 1);
        assert!(lecun.iter().all(|v| v.abs() <= (0.03f64).sqrt()));
        assert!((std(&lecun) - 0.1).abs() < 0.03 * 0.1, "lecun_uniform std {}", std(&lecun));
        for (init, target) in [
            (Initializer::GlorotNormal, (2.0f64 / 300.0).sqrt()),
            (Initializer::HeNormal, 0.02f64.sqrt()),
            (Initializer::LecunNormal, 0.1),
        ] {
            let v = values(&init, &shape, 2);
            let bound = 2.0 * target / TRUNCATED_STDDEV_CORRECTION;
            assert!(v.iter().all(|x| x.abs() <= bound), "{init:?} not truncated");
            assert!((std(&v) - target).abs() < 0.03 * target, "{init:?}: std {} vs {target}", std(&v));
        }
    }

    #[test]
    fn seeds_reproduce_and_differ() {
        let init = Initializer::GlorotUniform;
        assert_eq!(values(&init, &[4, 5], 9), values(&init, &[4, 5], 9));
        assert_ne!(values(&init, &[4, 5], 9), values(&init, &[4, 5], 10));
        set_random_seed(5);
        let (a, b) = (next_layer_seed(), next_layer_seed());
        set_random_seed(5);
        assert_eq!((a, b), (next_layer_seed(), next_layer_seed()));
        assert_ne!(a, b);
    }

    #[test]
    fn orthogonal_columns_are_orthonormal() {
        // Tall (6, 4) has orthonormal columns, wide (3, 5) orthonormal rows; round-off ~1e-15.
        for (rows, cols) in [(6, 4), (3, 5), (4, 4)] {
            let q = values(&Initializer::orthogonal(), &[rows, cols], 3);
            let (outer, inner, stride_o, stride_i) =
                if rows >= cols { (cols, rows, 1, cols) } else { (rows, cols, cols, 1) };
            for a in 0..outer {
                for b in 0..outer {
                    let dot: f64 = (0..inner)
                        .map(|k| q[a * stride_o + k * stride_i] * q[b * stride_o + k * stride_i])
                        .sum();
                    let expected = if a == b { 1.0 } else { 0.0 };
                    assert!((dot - expected).abs() < 1e-12, "({rows},{cols}) {a}.{b} = {dot}");
                }
            }
        }
        assert!(Initializer::orthogonal().sample(&[5], 0, DType::F32).is_err());
    }

    #[test]
    fn names_accept_snake_and_class_case() {
        assert_eq!(Initializer::from_name("glorot_uniform"), Some(Initializer::GlorotUniform));
        assert_eq!(Initializer::from_name("HeNormal"), Some(Initializer::HeNormal));
        assert_eq!(Initializer::from_name("lecun_normal"), Some(Initializer::LecunNormal));
        assert_eq!(Initializer::from_name("LecunUniform"), Some(Initializer::LecunUniform));
        assert_eq!(Initializer::from_name("xavier"), None);
    }
}
