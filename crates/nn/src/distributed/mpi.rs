//! [`Communicator`] over an MPI communicator (the `mpi` crate, over the system's MPI library).

use std::sync::OnceLock;

use mpi::collective::SystemOperation;
use mpi::topology::SimpleCommunicator;
use mpi::traits::CommunicatorCollectives as _;

use super::Communicator;
use crate::{NnError, Result};

/// The environment variables by which the common launchers give a process its world's size:
/// OpenMPI's `mpirun`, and the PMI of MPICH's hydra and Slurm.
const WORLD_SIZE_VARIABLES: [&str; 2] = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE"];

/// Data-parallel training over an MPI communicator: the world of `mpirun`, or any communicator a
/// program made (a split of the world, say) and passes to `FitOptions::communicator`.
pub struct MpiCommunicator<C: mpi::traits::Communicator = SimpleCommunicator> {
    communicator: C,
}

impl<C: mpi::traits::Communicator> MpiCommunicator<C> {
    /// Collectives over `communicator`'s ranks.
    pub fn new(communicator: C) -> Self {
        MpiCommunicator { communicator }
    }
}

impl<C: mpi::traits::Communicator> Communicator for MpiCommunicator<C> {
    fn rank(&self) -> usize {
        // MPI ranks are never negative.
        self.communicator.rank().unsigned_abs() as usize
    }

    fn size(&self) -> usize {
        self.communicator.size().unsigned_abs() as usize
    }

    fn all_reduce_sum_f32(&self, values: &mut [f32]) {
        let local = values.to_vec();
        self.communicator.all_reduce_into(&local[..], values, SystemOperation::sum());
    }

    fn all_reduce_sum_f64(&self, values: &mut [f64]) {
        let local = values.to_vec();
        self.communicator.all_reduce_into(&local[..], values, SystemOperation::sum());
    }

    fn all_gather_u64(&self, value: u64) -> Vec<u64> {
        let mut all = vec![0u64; self.size()];
        self.communicator.all_gather_into(&value, &mut all[..]);
        all
    }

    fn abort(&self, message: &str) -> ! {
        eprintln!("error: {message}");
        self.communicator.abort(1)
    }
}

/// Whether MPI was initialised here (true) or found initialised by the program itself (false);
/// decided once.
static INITIALISED: OnceLock<bool> = OnceLock::new();

/// See [`super::launched_world`].
pub(super) fn launched_world() -> Result<Option<Box<dyn Communicator>>> {
    let launched = WORLD_SIZE_VARIABLES
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .find_map(|size| size.trim().parse::<usize>().ok());
    if launched.is_none_or(|size| size <= 1) {
        return Ok(None);
    }
    INITIALISED.get_or_init(initialise);
    if mpi::is_finalized() {
        return Err(NnError::Usage(
            "fit: MPI was already finalised in this process; data-parallel training needs it running".into(),
        ));
    }
    Ok(Some(Box::new(MpiCommunicator::new(SimpleCommunicator::world()))))
}

/// Initialises MPI unless the program already did, and finalises it at exit: a rank that exits
/// without finalising is taken by `mpirun` for one that failed. Returns whether it initialised.
fn initialise() -> bool {
    // The universe is forgotten rather than dropped: dropping it would finalise MPI at once.
    let Some(universe) = mpi::initialize() else {
        return false;
    };
    std::mem::forget(universe);
    // SAFETY: `finalise_at_exit` has the signature atexit expects and touches no Rust state
    // that exit has torn down.
    unsafe { atexit(finalise_at_exit) };
    true
}

unsafe extern "C" {
    fn atexit(callback: extern "C" fn()) -> std::ffi::c_int;
}

extern "C" fn finalise_at_exit() {
    if !mpi::is_finalized() {
        // SAFETY: MPI was initialised by `initialise` and is not finalised yet.
        unsafe { mpi::ffi::MPI_Finalize() };
    }
}
