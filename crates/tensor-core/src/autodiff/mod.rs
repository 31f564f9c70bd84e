//! Reverse-mode automatic differentiation on a flat tape (a Wengert list).
//!
//! A [`Tape`] records every op whose inputs it is watching; [`Tape::backward`] walks the records
//! once, newest first, asks each op's [`Backward`] rule for its inputs' gradients, and sums them.
//! Each op's rule is a small struct next to the op's forward code: adding an op touches one file.

mod backward;
mod gradients;
mod no_grad;
mod tape;

pub use backward::Backward;
pub use gradients::Gradients;
pub use no_grad::{NoGradGuard, no_grad};
pub use tape::Tape;
pub(crate) use tape::{TapeLink, record};
