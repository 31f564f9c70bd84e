//! Data-parallel training across processes: what `fit` needs from the processes' communication
//! library ([`Communicator`]), and the world of an MPI job (`mpirun -np N ...`) when tessera is
//! built with its `mpi` feature.
//!
//! Under a communicator of N ranks, `fit` splits every global batch into N disjoint shards (the
//! same shuffled order on every rank), sums the ranks' gradients weighted by their sample counts
//! in one flat buffer and divides by the global count, so every rank takes the step
//! single-process training on the whole batch would take; see `training/replicated.rs`.

#[cfg(feature = "mpi")]
mod mpi;

#[cfg(feature = "mpi")]
pub use self::mpi::MpiCommunicator;

use crate::Result;

/// The collective operations data-parallel training needs, over a fixed group of ranks that
/// all call them in the same order. An implementation either completes the operation on every
/// rank or ends the whole job: a rank left waiting would hang it.
pub trait Communicator {
    /// This process's rank, from 0.
    fn rank(&self) -> usize;

    /// How many ranks take part.
    fn size(&self) -> usize;

    /// Replaces `values` on every rank by their element-wise sum over the ranks.
    fn all_reduce_sum_f32(&self, values: &mut [f32]);

    /// Replaces `values` on every rank by their element-wise sum over the ranks.
    fn all_reduce_sum_f64(&self, values: &mut [f64]);

    /// Every rank's `value`, in rank order, on every rank.
    fn all_gather_u64(&self, value: u64) -> Vec<u64>;

    /// Ends every rank of the job, after printing `message` on this one's standard error.
    fn abort(&self, message: &str) -> !;
}

/// The world of the MPI job this process was started in (`mpirun -np N`, N > 1), MPI being
/// initialised on first use and finalised when the process exits; `None` when the process was
/// not started by an MPI launcher, when the job has a single rank, or without the `mpi` feature.
pub fn launched_world() -> Result<Option<Box<dyn Communicator>>> {
    #[cfg(feature = "mpi")]
    {
        mpi::launched_world()
    }
    #[cfg(not(feature = "mpi"))]
    {
        Ok(None)
    }
}
