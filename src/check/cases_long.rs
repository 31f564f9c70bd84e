//! Cases longer than one GPU invocation may loop over (the kernels' bound of 16,384 loop
//! iterations per invocation; Mesa's llvmpipe silently stops a shader at 65,535): reductions,
//! inner products, softmax and cross-entropy rows, batch-norm channels and argmax rows of
//! millions, a row gathered 70,000 times, and a depthwise convolution's kernel gradient summed
//! over 34,060 positions (17,030 per image), so that the segmented paths those kernels take are
//! checked on every adapter and a driver's cap can never pass silently.

use super::{Case, ELEMENTWISE_TOLERANCE, REDUCTION_TOLERANCE, input};

pub(super) fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let long = input(&[2_500_000], 0.0, 1.0, 1500);
    cases.push(Case::new("sum", REDUCTION_TOLERANCE, vec![long.clone()], |x| x[0].sum(&[0], false)));
    cases.push(Case::new("mean", REDUCTION_TOLERANCE, vec![long.clone()], |x| x[0].mean(&[0], false)));
    cases.push(Case::new("max", REDUCTION_TOLERANCE, vec![long], |x| x[0].max(&[0], false)));
    cases.push(Case::new("sum", REDUCTION_TOLERANCE, vec![input(&[2_200_001, 3], 0.0, 1.0, 1501)], |x| {
        x[0].sum(&[0], false)
    }));
    // A flattened 224 x 224 x 3 image into a Dense kernel, with every product schedule.
    cases.push(
        Case::new(
            "matmul",
            REDUCTION_TOLERANCE,
            vec![input(&[3, 150_528], -1.0, 1.0, 1502), input(&[150_528, 5], -1.0, 1.0, 1503)],
            |x| x[0].matmul(&x[1]),
        )
        .with_every_product_schedule(),
    );
    let row = input(&[2, 400_003], -5.0, 5.0, 1504);
    cases.push(Case::new("softmax", REDUCTION_TOLERANCE, vec![row.clone()], |x| x[0].softmax(-1)));
    cases.push(Case::new("log_softmax", REDUCTION_TOLERANCE, vec![row.clone()], |x| x[0].log_softmax(-1)));
    let lanes = input(&[9_001, 3], -5.0, 5.0, 1505);
    cases.push(Case::new("softmax", REDUCTION_TOLERANCE, vec![lanes], |x| x[0].softmax(0)));
    let labels = input(&[2, 400_003], 0.0, 1.0, 1506);
    cases.push(Case::new("softmax_cross_entropy", REDUCTION_TOLERANCE, vec![row.clone(), labels], |x| {
        x[0].softmax_cross_entropy(&x[1])
    }));
    let ids = tensor_core::Tensor::from_vec(vec![7.0f32, 400_002.0], [2], &tensor_core::Device::Cpu)
        .expect("two class ids");
    cases.push(Case::new("sparse_softmax_cross_entropy", REDUCTION_TOLERANCE, vec![row.clone(), ids], |x| {
        x[0].sparse_softmax_cross_entropy(&x[1])
    }));
    cases.push(
        Case::new("argmax", ELEMENTWISE_TOLERANCE, vec![input(&[2, 1_100_003], -1.0, 1.0, 1507)], |x| {
            x[0].argmax(1)
        })
        .forward_only(),
    );
    cases.push(Case::new(
        "batch_norm_train",
        REDUCTION_TOLERANCE,
        vec![
            input(&[1_500_001, 2], -1.0, 3.0, 1508),
            input(&[2], 0.5, 1.5, 1509),
            input(&[2], -1.0, 1.0, 1510),
        ],
        |x| Ok(x[0].batch_norm_train(&x[1], &x[2], -1, 1e-3)?.0),
    ));
    // The gradient of a gather naming one row 70,000 times sums 70,000 sources into it.
    let repeated: Vec<usize> = (0..70_001).map(|i| i % 2 * 3).collect();
    cases.push(Case::new(
        "gather_rows",
        REDUCTION_TOLERANCE,
        vec![input(&[5, 3], -1.0, 1.0, 1511)],
        move |x| x[0].gather_rows(&repeated),
    ));
    // Each kernel element's gradient sums over every output position of the batch, in segments.
    let images = input(&[2, 130, 131, 3], -1.0, 1.0, 1512);
    let kernel = input(&[3, 3, 3, 2], -1.0, 1.0, 1513);
    cases.push(Case::new("depthwise_conv2d", REDUCTION_TOLERANCE, vec![images, kernel], |x| {
        x[0].depthwise_conv2d(&x[1], (1, 1), tensor_core::Padding::Same)
    }));
    cases
}
