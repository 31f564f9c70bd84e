//! The CPU backend is the reference every GPU kernel is compared with, so its sums must be the
//! more accurate side: they accumulate in f64 whatever the dtype. An f32 running sum would stop
//! at 2^24 and drift by percents over millions of terms; these cases would catch it.

use tessera::{DType, Device, Tensor};

#[test]
fn the_sum_of_two_to_the_25_ones_is_exact() {
    let ones = Tensor::ones([1 << 25], DType::F32, &Device::Cpu).unwrap();
    assert_eq!(ones.sum(&[0], false).unwrap().to_vec_f64().unwrap(), vec![33_554_432.0]);
    assert_eq!(ones.sum_all().unwrap().item().unwrap(), 33_554_432.0);
}

#[test]
fn the_mean_of_16_million_tenths_is_a_tenth() {
    let n = 16_700_000;
    let tenths = Tensor::full([n], 0.1, DType::F32, &Device::Cpu).unwrap();
    let mean = tenths.mean(&[0], false).unwrap().to_vec_f64().unwrap()[0];
    // The nearest f32 to 0.1, to f32 precision (an f32 running sum gives 0.1153).
    assert!((mean - 0.1f32 as f64).abs() <= 1e-8, "mean {mean}");
}

#[test]
fn softmax_and_cross_entropy_normalise_millions_of_terms_accurately() {
    // Equal logits: every probability is exactly 1 / n, the loss exactly ln(n).
    let n = 1 << 24;
    let logits = Tensor::zeros([1, n + 1], DType::F32, &Device::Cpu).unwrap();
    let y = logits.softmax(1).unwrap().to_vec_f64().unwrap();
    let expected = 1.0 / (n + 1) as f64;
    assert!(y.iter().all(|&p| ((p - expected) / expected).abs() < 1e-6), "softmax {}", y[0]);
    let ids = Tensor::from_vec(vec![3.0f32], [1], &Device::Cpu).unwrap();
    let loss = logits.sparse_softmax_cross_entropy(&ids).unwrap().item().unwrap();
    let ln = ((n + 1) as f64).ln();
    assert!(((loss - ln) / ln).abs() < 1e-6, "loss {loss}, ln(n) {ln}");
}

#[test]
fn batch_statistics_of_millions_of_values_are_accurate() {
    // 2^24 + 2 values of 0.5 and 1.5 alternating: mean 1, variance 0.25 exactly.
    let n = (1 << 24) + 2;
    let values: Vec<f32> = (0..n).map(|i| if i % 2 == 0 { 0.5 } else { 1.5 }).collect();
    let x = Tensor::from_vec(values, [n, 1], &Device::Cpu).unwrap();
    let (gamma, beta) = (
        Tensor::ones([1], DType::F32, &Device::Cpu).unwrap(),
        Tensor::zeros([1], DType::F32, &Device::Cpu).unwrap(),
    );
    let (_, mean, variance) = x.batch_norm_train(&gamma, &beta, -1, 1e-3).unwrap();
    assert_eq!(mean.item().unwrap(), 1.0);
    assert_eq!(variance.item().unwrap(), 0.25);
}
