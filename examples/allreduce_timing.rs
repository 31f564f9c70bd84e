//! How long data-parallel training's one collective per step takes: the sum over the ranks of a
//! flat f32 buffer holding the reference CNN's gradients (and their counts). Run under MPI:
//!
//! ```text
//! cargo build --release --features mpi --example allreduce_timing
//! mpirun -np 2 --bind-to core target/release/examples/allreduce_timing
//! ```

use std::time::Instant;

use tessera::nn::distributed::launched_world;
use tessera::train::reference_cnn;

const WARM_UP: usize = 5;
const TIMED: usize = 50;

fn main() -> anyhow::Result<()> {
    let Some(world) = launched_world()? else {
        anyhow::bail!(
            "start this under mpirun with at least 2 ranks, e.g. mpirun -np 2 {}",
            env!("CARGO_CRATE_NAME")
        );
    };
    let model = reference_cnn()?;
    // One value per parameter, and one count per weight tensor.
    let length = model.count_params().0 + model.weights().len();
    let mut buffer = vec![1.0f32; length];
    for _ in 0..WARM_UP {
        world.all_reduce_sum_f32(&mut buffer);
    }
    let mut seconds = Vec::with_capacity(TIMED);
    for _ in 0..TIMED {
        let started = Instant::now();
        world.all_reduce_sum_f32(&mut buffer);
        seconds.push(started.elapsed().as_secs_f64());
    }
    seconds.sort_by(f64::total_cmp);
    if world.rank() == 0 {
        println!(
            "allreduce of {length} f32 ({:.2} MiB) over {} ranks: median {:.3} ms, fastest {:.3} ms",
            (length * 4) as f64 / (1 << 20) as f64,
            world.size(),
            1e3 * seconds[TIMED / 2],
            1e3 * seconds[0]
        );
    }
    Ok(())
}
