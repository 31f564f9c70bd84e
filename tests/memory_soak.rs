//! A memory soak of the main job at small scale: after its first epoch (which sizes the caches
//! and the buffer pool), a run's memory stays flat — the process's resident set on the CPU and on
//! the GPU, and the GPU pool's buffers. One test in its own binary, so that no other test's
//! allocations land in the figures.

mod common;

use tessera::memory::{MemorySample, describe};
use tessera::train::{TrainOptions, run};
use tessera::{Device, tensor_core::gpu::PoolStats};

const EPOCHS: usize = 4;

/// How much the resident set may grow from the end of the second epoch to the end of the last:
/// the allocator's own bookkeeping moves by a few pages from epoch to epoch, a leak of the
/// epoch's tensors (megabytes of images and activations per epoch) would be far beyond it.
const RESIDENT_GROWTH_TOLERANCE: u64 = 4 << 20;

/// Trains `EPOCHS` epochs on a slice of the data on `device` and returns the memory samples.
fn soak(device: Device, name: &str) -> Vec<MemorySample> {
    let out_dir = std::env::temp_dir().join(format!("tessera-memory-soak-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out_dir);
    let options = TrainOptions {
        epochs: EPOCHS,
        limit: Some(400),
        device,
        out_dir: out_dir.clone(),
        verbose: 0,
        ..Default::default()
    };
    let (_, result) = run(&options).unwrap();
    std::fs::remove_dir_all(out_dir).unwrap();
    for sample in &result.memory {
        println!("{name} epoch {}: {}", sample.epoch + 1, describe(sample));
    }
    assert_eq!(result.memory.len(), EPOCHS, "one sample per epoch");
    result.memory
}

fn assert_resident_flat(samples: &[MemorySample], name: &str) {
    let resident: Vec<u64> =
        samples.iter().map(|s| s.resident_bytes.expect("/proc/self/status has VmRSS")).collect();
    let growth = resident[EPOCHS - 1].saturating_sub(resident[1]);
    assert!(
        growth <= RESIDENT_GROWTH_TOLERANCE,
        "{name}: the resident set grew by {growth} bytes from epoch 2 to epoch {EPOCHS} (tolerance \
         {RESIDENT_GROWTH_TOLERANCE}): {resident:?}"
    );
}

#[test]
fn memory_is_flat_after_the_first_epoch() {
    let cpu = soak(Device::Cpu, "cpu");
    assert!(cpu.iter().all(|s| s.pool.is_none()), "the CPU has no buffer pool");
    assert_resident_flat(&cpu, "cpu");

    let Some(gpu) = common::own_gpu() else { return };
    let samples = soak(Device::Gpu(gpu), "gpu");
    assert_resident_flat(&samples, "gpu");
    // Every epoch after the first reuses the pool's buffers: none created, none more held.
    let pools: Vec<PoolStats> = samples.iter().map(|s| s.pool.expect("a GPU run samples its pool")).collect();
    for (epoch, pool) in pools.iter().enumerate().skip(2) {
        assert_eq!(
            pool.allocations,
            pools[1].allocations,
            "buffers created in epoch {}: {pools:?}",
            epoch + 1
        );
        assert_eq!(
            pool.reserved_bytes,
            pools[1].reserved_bytes,
            "pool grew in epoch {}: {pools:?}",
            epoch + 1
        );
        assert_eq!(pool.live_bytes, pools[1].live_bytes, "live bytes grew in epoch {}: {pools:?}", epoch + 1);
    }
}
