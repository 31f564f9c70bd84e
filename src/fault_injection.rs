//! A rank that dies mid-training, on request: how the tests show that a data-parallel run ends
//! (rather than hangs) when one of its processes is lost, and resumes from its checkpoint.
//!
//! `TESSERA_ABORT_RANK_AFTER_STEPS=RANK:STEPS` makes rank RANK of an MPI job abort (SIGABRT,
//! as a crash would) after STEPS training steps; other ranks, and single processes, ignore it.

use nn::callbacks::BatchLogs;
use nn::distributed::Communicator;
use nn::{Callback, CallbackContext, NnError, Result};

/// The variable that asks for the abort.
const ABORT_ENV: &str = "TESSERA_ABORT_RANK_AFTER_STEPS";

/// Aborts the process after its count of training steps.
pub(crate) struct AbortAfterSteps {
    steps: usize,
    taken: usize,
}

impl AbortAfterSteps {
    /// The abort the environment asks of this rank of `world`, if any; an error for a value
    /// that is not `RANK:STEPS`.
    pub(crate) fn from_env(world: Option<&dyn Communicator>) -> Result<Option<AbortAfterSteps>> {
        let (Some(world), Ok(value)) = (world, std::env::var(ABORT_ENV)) else {
            return Ok(None);
        };
        let parsed = value.split_once(':').and_then(|(rank, steps)| {
            Some((rank.trim().parse::<usize>().ok()?, steps.trim().parse::<usize>().ok()?))
        });
        let Some((rank, steps)) = parsed else {
            return Err(NnError::Usage(format!("{ABORT_ENV}={value:?}: expected RANK:STEPS, e.g. 1:3")));
        };
        Ok((rank == world.rank()).then_some(AbortAfterSteps { steps, taken: 0 }))
    }
}

impl Callback for AbortAfterSteps {
    fn on_train_batch_end(
        &mut self,
        _step: usize,
        _logs: &BatchLogs<'_>,
        _ctx: &mut CallbackContext<'_>,
    ) -> Result<()> {
        self.taken += 1;
        if self.taken >= self.steps {
            eprintln!("{ABORT_ENV}: aborting after {} training steps", self.taken);
            std::process::abort();
        }
        Ok(())
    }
}
