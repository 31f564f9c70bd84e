//! A check that every new weight's shape passes before its values are allocated, installed for
//! the length of one call on this thread: how the model-file loader refuses a declared weight
//! that no tensor of the file can fill before any layer is built. (Otherwise a file of a few
//! kilobytes declaring a Dense layer of 10^9 units takes gigabytes before its tensors are read.)

use std::cell::RefCell;
use std::rc::Rc;

use crate::Result;

/// Judges a weight by its layer's name, its own name and its shape; an error says why it cannot
/// be.
type Gate = dyn Fn(&str, &str, &[usize]) -> Result<()>;

thread_local! {
    static GATE: RefCell<Option<Rc<Gate>>> = const { RefCell::new(None) };
}

/// Runs `run` with `gate` checking every weight a layer creates on this thread, then restores
/// the gate before it (also when `run` fails or panics).
pub(crate) fn with_weight_gate<R>(
    gate: impl Fn(&str, &str, &[usize]) -> Result<()> + 'static,
    run: impl FnOnce() -> R,
) -> R {
    /// Puts the previous gate back when dropped.
    struct Restore(Option<Rc<Gate>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            GATE.with(|g| *g.borrow_mut() = previous);
        }
    }
    let previous = GATE.with(|g| g.borrow_mut().replace(Rc::new(gate)));
    let _restore = Restore(previous);
    run()
}

/// Passes the weight `weight` of `shape` in layer `layer` through the installed gate, if any.
pub(crate) fn check_weight(layer: &str, weight: &str, shape: &[usize]) -> Result<()> {
    // Cloned out, so that a gate may itself build layers without a borrow conflict.
    match GATE.with(|g| g.borrow().clone()) {
        Some(gate) => gate(layer, weight, shape),
        None => Ok(()),
    }
}
