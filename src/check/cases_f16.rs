//! Cases for f16 storage: the conversions, then every product kernel reading and writing f16
//! (repeated under every schedule, as the f32 products are), forward and backward. Inputs are
//! f32; each case casts them to f16 on the tape, so the gradients come back through the casts,
//! and casts its result to f32 for the comparison. Both backends read f16, compute in f32 and
//! round what they store, so they differ only where sums taken in another order round to
//! neighbouring f16 values (2^-10 apart, relative): [`F16_TOLERANCE`].

use super::{Case, F16_TOLERANCE, input};
use tensor_core::Padding::{Same, Valid};
use tensor_core::{Activation, DType, Result, Tensor};

/// `f` on the case's inputs cast to f16, its result cast back to f32.
fn in_f16(f: impl Fn(&[Tensor]) -> Result<Tensor> + 'static) -> impl Fn(&[Tensor]) -> Result<Tensor> {
    move |x: &[Tensor]| {
        let halves = x.iter().map(|t| t.cast(DType::F16)).collect::<Result<Vec<_>>>()?;
        f(&halves)?.cast(DType::F32)
    }
}

pub(super) fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    // Values across f16's whole range (its largest is 65,504), and tiny ones, its subnormals.
    let wide = vec![input(&[1, 1031], -65_000.0, 65_000.0, 1100), input(&[7, 13], -1e-6, 1e-6, 1101)];
    cases.push(
        Case::new("cast f16", F16_TOLERANCE, wide, |x| {
            Tensor::concat(&[&x[0].reshape([1031])?, &x[1].reshape([91])?], 0)?
                .cast(DType::F16)?
                .cast(DType::F32)
        })
        .forward_only()
        .needing_f16(),
    );
    let mut product = |case: Case, detail: &str| {
        let mut case = case.with_every_product_schedule().needing_f16();
        case.shapes = format!("{} {detail}", case.shapes);
        cases.push(case);
    };
    for (m, k, n, seed) in [(65, 17, 129, 1110), (128, 33, 128, 1112)] {
        let inputs = vec![input(&[m, k], -1.0, 1.0, seed), input(&[k, n], -1.0, 1.0, seed + 1)];
        product(Case::new("matmul f16", F16_TOLERANCE, inputs, in_f16(|x| x[0].matmul(&x[1]))), "");
    }
    let transposed = vec![input(&[17, 65], -1.0, 1.0, 1114), input(&[9, 17], -1.0, 1.0, 1115)];
    let transposed =
        Case::new("matmul f16", F16_TOLERANCE, transposed, in_f16(|x| x[0].matmul_t(&x[1], true, true)));
    product(transposed, "AᵀBᵀ");
    let batched = vec![input(&[3, 9, 33], -1.0, 1.0, 1116), input(&[3, 33, 11], -1.0, 1.0, 1117)];
    product(Case::new("matmul f16 batched", F16_TOLERANCE, batched, in_f16(|x| x[0].matmul(&x[1]))), "");
    let inputs = vec![
        input(&[65, 17], -1.0, 1.0, 1120),
        input(&[17, 129], -1.0, 1.0, 1121),
        input(&[129], -1.0, 1.0, 1122),
    ];
    let dense = Case::new(
        "affine f16",
        F16_TOLERANCE,
        inputs,
        in_f16(|x| x[0].affine(&x[1], Some(&x[2]), Activation::Relu)),
    );
    product(dense, "Relu");
    // Stride 1 runs the three implicit products in f16; stride 2's input gradient goes through
    // col2im, widened to f32 for it.
    let convolutions = [
        ([3, 7, 5, 4], (3, 3), 5, (1, 1), Same, Activation::Relu),
        ([3, 7, 5, 4], (3, 2), 5, (2, 2), Valid, Activation::LeakyRelu(0.2)),
    ];
    for (i, &(dims, window, filters, strides, padding, activation)) in convolutions.iter().enumerate() {
        let seed = 1130 + 10 * i as u64;
        let inputs = vec![
            input(&dims, -1.0, 1.0, seed),
            input(&[window.0, window.1, dims[3], filters], -1.0, 1.0, seed + 1),
            input(&[filters], -1.0, 1.0, seed + 2),
        ];
        let conv = Case::new(
            "conv2d_affine f16",
            F16_TOLERANCE,
            inputs,
            in_f16(move |x: &[Tensor]| x[0].conv2d_affine(&x[1], Some(&x[2]), activation, strides, padding)),
        );
        product(conv, &format!("{strides:?} {padding:?} {activation:?}"));
    }
    // The reference CNN's layers between the products, run widened: pooling and a softmax.
    let pooled = vec![input(&[2, 9, 7, 3], -1.0, 1.0, 1150)];
    cases.push(
        Case::new(
            "max_pool2d f16",
            F16_TOLERANCE,
            pooled,
            in_f16(|x| x[0].max_pool2d((2, 2), (2, 2), Valid)),
        )
        .needing_f16(),
    );
    cases
}
