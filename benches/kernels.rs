//! Criterion microbenchmarks of every kernel family on the default GPU, reported as throughput
//! (GFLOP/s as "elem/s" of floating-point operations, GB/s as bytes/s). The same benchmarks
//! back `tessera bench`, which adds the adapter's measured ceiling.

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tessera::Device;
use tessera::bench::{Work, benchmarks, synchronize};

fn kernels(c: &mut Criterion) {
    let device = match Device::gpu() {
        Ok(device) => device,
        Err(e) => {
            eprintln!("no GPU to benchmark: {e}");
            return;
        }
    };
    let mut group = c.benchmark_group(format!("{device}"));
    group.sample_size(10).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3));
    for bench in benchmarks(true) {
        group.throughput(match bench.work {
            Work::Flops(f) => Throughput::Elements(f as u64),
            Work::Bytes(b) => Throughput::Bytes(b as u64),
        });
        let inputs = match (bench.inputs)(&device) {
            Ok(inputs) => inputs,
            Err(e) => {
                eprintln!("{} {}: {e}", bench.name, bench.shape);
                continue;
            }
        };
        group.bench_function(format!("{} {}", bench.name, bench.shape), |b| {
            b.iter_custom(|iterations| {
                let start = Instant::now();
                for _ in 0..iterations {
                    drop((bench.run)(&inputs).expect("benchmark op runs"));
                }
                synchronize(&device).expect("device finishes");
                start.elapsed()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, kernels);
criterion_main!(benches);
