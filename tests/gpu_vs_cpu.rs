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
