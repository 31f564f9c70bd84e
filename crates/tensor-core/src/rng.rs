//! A counter-based random number generator: the value at position `i` of stream `seed` is a pure
//! function of the two, so a mask or an initialisation is reproducible, needs no state, and comes
//! out the same from any backend that evaluates the same integer hash (a shader can).

/// One round of a 32-bit integer hash with good avalanche (two xor-shift-multiply steps).
fn mix(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^= x >> 16;
    x
}

/// 32 random bits at position `index` of the stream named by `seed`.
pub fn random_bits(seed: u64, index: u32) -> u32 {
    let (lo, hi) = (seed as u32, (seed >> 32) as u32);
    mix(mix(index ^ mix(lo)).wrapping_add(hi) ^ 0x9e37_79b9)
}

/// A uniform sample in [0, 1) with 24 bits of resolution (exact in f32).
pub fn uniform(seed: u64, index: u32) -> f64 {
    (random_bits(seed, index) >> 8) as f64 / (1u32 << 24) as f64
}

/// A standard normal sample (Box–Muller over two uniform draws of a derived stream).
pub fn normal(seed: u64, index: u32) -> f64 {
    let u1 = uniform(seed, index.wrapping_mul(2));
    let u2 = uniform(seed, index.wrapping_mul(2).wrapping_add(1));
    let radius = (-2.0 * (1.0 - u1).ln()).sqrt();
    radius * (std::f64::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_is_in_range_and_roughly_flat() {
        let n = 100_000;
        let samples: Vec<f64> = (0..n).map(|i| uniform(42, i)).collect();
        assert!(samples.iter().all(|&u| (0.0..1.0).contains(&u)));
        let mean = samples.iter().sum::<f64>() / n as f64;
        assert!((mean - 0.5).abs() < 0.01, "mean {mean}");
        let below_tenth = samples.iter().filter(|&&u| u < 0.1).count() as f64 / n as f64;
        assert!((below_tenth - 0.1).abs() < 0.01, "P(u<0.1) = {below_tenth}");
    }

    #[test]
    fn streams_differ_and_repeat() {
        assert_eq!(random_bits(7, 3), random_bits(7, 3));
        assert_ne!(random_bits(7, 3), random_bits(8, 3));
        assert_ne!(random_bits(7, 3), random_bits(7, 4));
        assert_ne!(random_bits(1 << 32, 0), random_bits(0, 0));
    }

    #[test]
    fn normal_has_unit_variance() {
        let n = 50_000;
        let s: Vec<f64> = (0..n).map(|i| normal(3, i)).collect();
        let mean = s.iter().sum::<f64>() / n as f64;
        let var = s.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.02 && (var - 1.0).abs() < 0.03, "mean {mean} var {var}");
    }
}
