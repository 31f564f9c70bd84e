//! Cases for the product kernels, which `run` repeats under every schedule the autotuner may
//! pick: between them they reach every variant a schedule has — plain, batched and transposed
//! matrices; a dense layer's and a convolution's fused bias and activation (forward), gated
//! operands and bias column sums (backward); the convolution's three products at stride 1 and
//! the strided input gradient; shapes that fill no tile (checked loads) and shapes that fill
//! every tile exactly (unchecked loads); a reduction longer than one dispatch's loop.

use super::{Case, REDUCTION_TOLERANCE, input};
use tensor_core::Padding::{Same, Valid};
use tensor_core::{Activation, Tensor};

pub(super) fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let mut product = |case: Case, detail: &str| {
        let mut case = case.with_every_product_schedule();
        case.shapes = format!("{} {detail}", case.shapes);
        cases.push(case);
    };
    // Rows and columns that fill no tile; then 128 x 128, which every tile divides.
    for (m, k, n, seed) in [(65, 17, 129, 1000), (128, 33, 128, 1002)] {
        let inputs = vec![input(&[m, k], -1.0, 1.0, seed), input(&[k, n], -1.0, 1.0, seed + 1)];
        product(Case::new("matmul", REDUCTION_TOLERANCE, inputs, |x| x[0].matmul(&x[1])), "");
    }
    let transposed = vec![input(&[17, 65], -1.0, 1.0, 1004), input(&[9, 17], -1.0, 1.0, 1005)];
    product(
        Case::new("matmul", REDUCTION_TOLERANCE, transposed, |x| x[0].matmul_t(&x[1], true, true)),
        "AᵀBᵀ",
    );
    let batched = vec![input(&[3, 9, 33], -1.0, 1.0, 1006), input(&[3, 33, 11], -1.0, 1.0, 1007)];
    product(Case::new("matmul batched", REDUCTION_TOLERANCE, batched, |x| x[0].matmul(&x[1])), "");
    // A weight gradient's shape with k past one dispatch's loop: several slices add up.
    let deep = vec![input(&[140_000, 3], -1.0, 1.0, 1008), input(&[140_000, 5], -1.0, 1.0, 1009)];
    let deep = Case::new("matmul deep", REDUCTION_TOLERANCE, deep, |x| x[0].matmul_t(&x[1], true, false));
    product(deep.forward_only(), "Aᵀ");
    for (activation, seed) in [(Activation::Relu, 1010), (Activation::Tanh, 1013)] {
        let inputs = vec![
            input(&[65, 17], -1.0, 1.0, seed),
            input(&[17, 129], -1.0, 1.0, seed + 1),
            input(&[129], -1.0, 1.0, seed + 2),
        ];
        let dense = Case::new("affine", REDUCTION_TOLERANCE, inputs, move |x| {
            x[0].affine(&x[1], Some(&x[2]), activation)
        });
        product(dense, &format!("{activation:?}"));
    }
    // A convolution's three products, fused with its bias and activation: stride 1 (implicit
    // products throughout) and stride 2 (the input gradient through col2im); then channels and
    // filters of 128 over 2 x 8 x 8 pixels, which fill every tile.
    let convolutions = [
        ([3, 7, 5, 4], (3, 3), 5, (1, 1), Same, Activation::Relu),
        ([3, 7, 5, 4], (3, 2), 5, (2, 2), Valid, Activation::LeakyRelu(0.2)),
        ([2, 8, 8, 128], (3, 3), 128, (1, 1), Same, Activation::Relu),
    ];
    for (i, &(dims, window, filters, strides, padding, activation)) in convolutions.iter().enumerate() {
        let seed = 1020 + 10 * i as u64;
        let inputs = vec![
            input(&dims, -1.0, 1.0, seed),
            input(&[window.0, window.1, dims[3], filters], -1.0, 1.0, seed + 1),
            input(&[filters], -1.0, 1.0, seed + 2),
        ];
        let conv = Case::new("conv2d_affine", REDUCTION_TOLERANCE, inputs, move |x: &[Tensor]| {
            x[0].conv2d_affine(&x[1], Some(&x[2]), activation, strides, padding)
        });
        product(conv, &format!("{strides:?} {padding:?} {activation:?}"));
    }
    cases
}
