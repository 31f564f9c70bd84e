//! Every op, forward and backward, on the GPU against the CPU reference: the cases of
//! `tessera::check` (random inputs at odd shapes; tolerances there: relative L2 error at most
//! 1e-5 for elementwise ops and 1e-4 for reductions, matmul and convolution).

mod common;

#[test]
fn every_op_matches_the_cpu_reference() {
    let Some(gpu) = common::gpu() else { return };
    println!("{}", tessera::check::header());
    let outcomes = tessera::check::run(&gpu, None, |o| println!("{o}"));
    let failed: Vec<String> = outcomes.iter().filter(|o| !o.passed()).map(|o| o.to_string()).collect();
    println!("{} comparisons on {gpu}, {} failed", outcomes.len(), failed.len());
    assert!(failed.is_empty(), "GPU disagrees with the CPU:\n{}", failed.join("\n"));
}

/// Max pooling's gradient with windows that leave gaps (strides past the window, rows and
/// columns past the last window) is zero there, whatever the reused memory held: the buffer
/// pool is first filled with NaN-filled buffers of the gradient's size, then freed.
#[test]
fn max_pool_gradient_is_zero_where_no_window_covers() {
    use tessera::tensor_core::{DType, Padding, Tape, Tensor};
    let Some(gpu) = common::gpu() else { return };
    let dims = [2, 9, 11, 4];
    let x = Tensor::uniform(dims.to_vec(), -1.0, 1.0, 31, DType::F32, &tessera::Device::Cpu).unwrap();
    let gradient = |device: &tessera::Device| -> Vec<f64> {
        let tape = Tape::new();
        let x = tape.watch(&x.to(device).unwrap());
        let y = x.max_pool2d((2, 2), (3, 3), Padding::Valid).unwrap();
        let grads = tape.backward(&y).unwrap();
        grads.get(&x).unwrap().to_vec_f64().unwrap()
    };
    let dirty: Vec<Tensor> =
        (0..8).map(|_| Tensor::full(dims.to_vec(), f64::NAN, DType::F32, &gpu).unwrap()).collect();
    drop(dirty);
    let (cpu, on_gpu) = (gradient(&tessera::Device::Cpu), gradient(&gpu));
    assert!(cpu.iter().filter(|&&g| g == 0.0).count() > cpu.len() / 2, "the case should leave gaps");
    // Exact: each input takes at most one output's gradient.
    assert_eq!(on_gpu, cpu);
}

/// Readbacks from several threads at once on one device each get their own values: a mapping's
/// callback may run on another thread's poll, after this thread's wait has returned.
#[test]
fn concurrent_readbacks_each_get_their_values() {
    use tessera::tensor_core::{DType, Tensor};
    let Some(gpu) = common::gpu() else { return };
    std::thread::scope(|scope| {
        for thread in 0..4u32 {
            let gpu = &gpu;
            scope.spawn(move || {
                for round in 0..400u32 {
                    let value = f64::from(thread * 1000 + round);
                    let t = Tensor::full(vec![37], value, DType::F32, gpu).unwrap().add_scalar(1.0).unwrap();
                    assert_eq!(
                        t.to_vec_f64().unwrap(),
                        vec![value + 1.0; 37],
                        "thread {thread}, round {round}"
                    );
                }
            });
        }
    });
}
