//! Scopes in which ops are not recorded (inference, metric bookkeeping, backward rules).

use std::cell::Cell;

thread_local! {
    static DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// While alive, ops on this thread record nothing on any tape.
pub struct NoGradGuard {
    _not_send: std::marker::PhantomData<*const ()>,
}

impl NoGradGuard {
    pub fn new() -> Self {
        DEPTH.with(|d| d.set(d.get() + 1));
        NoGradGuard { _not_send: std::marker::PhantomData }
    }
}

impl Default for NoGradGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for NoGradGuard {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(d.get() - 1));
    }
}

/// Runs `f` without recording anything on any tape.
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    let _guard = NoGradGuard::new();
    f()
}

/// Whether recording is switched off on this thread.
pub(crate) fn is_active() -> bool {
    DEPTH.with(|d| d.get() > 0)
}
