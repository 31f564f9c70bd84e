//! Optimizer update rules with Keras 3's formulas and defaults: SGD (with momentum or Nesterov),
//! RMSprop, Adagrad, Adadelta, Adam and Nadam.
//!
//! Each optimizer is a small struct of hyper-parameters ([`Sgd`], [`Adam`]...), wrapped in
//! [`Optimizer`]. Every parameter tensor has a [`State`] holding its slot tensors (momentums,
//! velocities...), made by [`Optimizer::state_for`]. [`Optimizer::step`] updates a parameter and
//! its state in place, in one fused kernel per parameter tensor; updates are never recorded on a
//! tape.
//!
//! ```
//! use tensor_core::optim::{Adam, Optimizer};
//! use tensor_core::{Device, Tensor};
//! let w = Tensor::from_vec(vec![1.0f32, -2.0], [2], &Device::Cpu).unwrap();
//! let g = Tensor::from_vec(vec![0.5f32, 0.5], [2], &Device::Cpu).unwrap();
//! let mut adam = Optimizer::from(Adam::default());
//! let mut state = adam.state_for(&w).unwrap();
//! adam.step(&w, &g, &mut state, 1).unwrap();
//! adam.set_learning_rate(1e-4).unwrap();
//! adam.step(&w, &g, &mut state, 2).unwrap();
//! ```

mod adadelta;
mod adagrad;
mod adam;
mod nadam;
mod rmsprop;
mod sgd;

use std::fmt::Debug;
use std::ops::RangeBounds;

pub use adadelta::Adadelta;
pub use adagrad::Adagrad;
pub use adam::Adam;
pub use nadam::Nadam;
use nadam::UProduct;
pub use rmsprop::RmsProp;
pub use sgd::Sgd;

use crate::cpu::CpuStorage;
use crate::gpu::storage::GpuStorage;
use crate::storage::Storage;
use crate::{Error, Result, Tensor};

/// One of the optimizers, as `nn` holds it after `compile`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Optimizer {
    Sgd(Sgd),
    RmsProp(RmsProp),
    Adagrad(Adagrad),
    Adadelta(Adadelta),
    Adam(Adam),
    Nadam(Nadam),
}

impl Optimizer {
    /// Keras's name for it, lower case ("sgd", "adam"...).
    pub fn name(&self) -> &'static str {
        match self {
            Optimizer::Sgd(_) => sgd::NAME,
            Optimizer::RmsProp(_) => rmsprop::NAME,
            Optimizer::Adagrad(_) => adagrad::NAME,
            Optimizer::Adadelta(_) => adadelta::NAME,
            Optimizer::Adam(_) => adam::NAME,
            Optimizer::Nadam(_) => nadam::NAME,
        }
    }

    /// The learning rate the next step will use.
    pub fn learning_rate(&self) -> f64 {
        match self {
            Optimizer::Sgd(o) => o.learning_rate,
            Optimizer::RmsProp(o) => o.learning_rate,
            Optimizer::Adagrad(o) => o.learning_rate,
            Optimizer::Adadelta(o) => o.learning_rate,
            Optimizer::Adam(o) => o.learning_rate,
            Optimizer::Nadam(o) => o.learning_rate,
        }
    }

    /// Sets the learning rate used from the next step on (schedules and callbacks call this).
    pub fn set_learning_rate(&mut self, learning_rate: f64) -> Result<()> {
        check_range(self.name(), "learning_rate", learning_rate, NON_NEGATIVE)?;
        let slot = match self {
            Optimizer::Sgd(o) => &mut o.learning_rate,
            Optimizer::RmsProp(o) => &mut o.learning_rate,
            Optimizer::Adagrad(o) => &mut o.learning_rate,
            Optimizer::Adadelta(o) => &mut o.learning_rate,
            Optimizer::Adam(o) => &mut o.learning_rate,
            Optimizer::Nadam(o) => &mut o.learning_rate,
        };
        *slot = learning_rate;
        Ok(())
    }

    /// Checks every hyper-parameter against its domain.
    fn check(&self) -> Result<()> {
        match self {
            Optimizer::Sgd(o) => o.check(),
            Optimizer::RmsProp(o) => o.check(),
            Optimizer::Adagrad(o) => o.check(),
            Optimizer::Adadelta(o) => o.check(),
            Optimizer::Adam(o) => o.check(),
            Optimizer::Nadam(o) => o.check(),
        }
    }

    /// A fresh state for `param`: its slot tensors, shaped like it, at their initial values.
    pub fn state_for(&self, param: &Tensor) -> Result<State> {
        self.check()?;
        let slots = match self {
            Optimizer::Sgd(o) => o.slots(param)?,
            Optimizer::RmsProp(o) => o.slots(param)?,
            Optimizer::Adagrad(o) => o.slots(param)?,
            Optimizer::Adadelta(o) => o.slots(param)?,
            Optimizer::Adam(o) => o.slots(param)?,
            Optimizer::Nadam(o) => o.slots(param)?,
        };
        Ok(State { slots })
    }

    /// Updates `param` and its `state` in place from the gradient `grad`. `iteration` counts the
    /// training steps from 1 (Keras's `optimizer.iterations + 1`); Adam and Nadam correct their
    /// moments' bias with it.
    pub fn step(&self, param: &Tensor, grad: &Tensor, state: &mut State, iteration: u64) -> Result<()> {
        self.check()?;
        if iteration == 0 {
            return Err(Error::argument(self.name(), "iteration counts training steps from 1, got 0"));
        }
        match (self, &mut state.slots) {
            (Optimizer::Sgd(o), Slots::Sgd { momentum }) => o.update(param, grad, momentum.as_ref()),
            (Optimizer::RmsProp(o), Slots::RmsProp { velocity, momentum, average_gradient }) => {
                o.update(param, grad, velocity, momentum.as_ref(), average_gradient.as_ref())
            }
            (Optimizer::Adagrad(o), Slots::Adagrad { accumulator }) => o.update(param, grad, accumulator),
            (Optimizer::Adadelta(o), Slots::Adadelta { accumulated_grad, accumulated_delta_var }) => {
                o.update(param, grad, accumulated_grad, accumulated_delta_var)
            }
            (Optimizer::Adam(o), Slots::Adam { momentum, velocity }) => {
                o.update(param, grad, momentum, velocity, iteration)
            }
            (Optimizer::Nadam(o), Slots::Nadam { momentum, velocity, u_product }) => {
                o.update(param, grad, momentum, velocity, u_product, iteration)
            }
            (o, slots) => Err(Error::argument(
                o.name(),
                format!(
                    "this state was made by {}; make one with this optimizer's `state_for`",
                    slots.name()
                ),
            )),
        }
    }
}

impl From<Sgd> for Optimizer {
    fn from(o: Sgd) -> Self {
        Optimizer::Sgd(o)
    }
}

impl From<RmsProp> for Optimizer {
    fn from(o: RmsProp) -> Self {
        Optimizer::RmsProp(o)
    }
}

impl From<Adagrad> for Optimizer {
    fn from(o: Adagrad) -> Self {
        Optimizer::Adagrad(o)
    }
}

impl From<Adadelta> for Optimizer {
    fn from(o: Adadelta) -> Self {
        Optimizer::Adadelta(o)
    }
}

impl From<Adam> for Optimizer {
    fn from(o: Adam) -> Self {
        Optimizer::Adam(o)
    }
}

impl From<Nadam> for Optimizer {
    fn from(o: Nadam) -> Self {
        Optimizer::Nadam(o)
    }
}

/// An optimizer's per-parameter state: the slot tensors Keras keeps for one variable.
#[derive(Debug)]
pub struct State {
    slots: Slots,
}

impl State {
    /// The slot tensors with Keras's names ("momentum", "velocity"...), for checkpoints: they
    /// share storage with the state, so `assign` to them restores it.
    pub fn tensors(&self) -> Vec<(&'static str, &Tensor)> {
        let named: Vec<(&'static str, Option<&Tensor>)> = match &self.slots {
            Slots::Sgd { momentum } => vec![("momentum", momentum.as_ref())],
            Slots::RmsProp { velocity, momentum, average_gradient } => vec![
                ("velocity", Some(velocity)),
                ("momentum", momentum.as_ref()),
                ("average_gradient", average_gradient.as_ref()),
            ],
            Slots::Adagrad { accumulator } => vec![("accumulator", Some(accumulator))],
            Slots::Adadelta { accumulated_grad, accumulated_delta_var } => {
                vec![
                    ("accumulated_grad", Some(accumulated_grad)),
                    ("accumulated_delta_var", Some(accumulated_delta_var)),
                ]
            }
            Slots::Adam { momentum, velocity } | Slots::Nadam { momentum, velocity, .. } => {
                vec![("momentum", Some(momentum)), ("velocity", Some(velocity))]
            }
        };
        named.into_iter().filter_map(|(name, t)| Some((name, t?))).collect()
    }
}

/// The slots of each optimizer; optional ones exist only where Keras creates them.
#[derive(Debug)]
enum Slots {
    Sgd { momentum: Option<Tensor> },
    RmsProp { velocity: Tensor, momentum: Option<Tensor>, average_gradient: Option<Tensor> },
    Adagrad { accumulator: Tensor },
    Adadelta { accumulated_grad: Tensor, accumulated_delta_var: Tensor },
    Adam { momentum: Tensor, velocity: Tensor },
    Nadam { momentum: Tensor, velocity: Tensor, u_product: UProduct },
}

impl Slots {
    fn name(&self) -> &'static str {
        match self {
            Slots::Sgd { .. } => sgd::NAME,
            Slots::RmsProp { .. } => rmsprop::NAME,
            Slots::Adagrad { .. } => adagrad::NAME,
            Slots::Adadelta { .. } => adadelta::NAME,
            Slots::Adam { .. } => adam::NAME,
            Slots::Nadam { .. } => nadam::NAME,
        }
    }
}

/// The domain of learning rates, epsilons and initial accumulators: finite and not negative.
const NON_NEGATIVE: std::ops::Range<f64> = 0.0..f64::INFINITY;

/// Checks that hyper-parameter `name` of optimizer `op` lies in `range`.
fn check_range(op: &'static str, name: &str, value: f64, range: impl RangeBounds<f64> + Debug) -> Result<()> {
    if range.contains(&value) {
        Ok(())
    } else {
        Err(Error::argument(op, format!("{name} must be in {range:?}, got {value}")))
    }
}

/// The error for a state whose optional slots do not match the optimizer's settings.
fn settings_changed(op: &'static str, detail: String) -> Error {
    Error::argument(op, format!("{detail}; make a new state with `state_for` after changing the settings"))
}

/// Checks `grad` and the state `slots` against `param`, then runs the kernel of their device:
/// `cpu` on their host data, or `gpu`, which records one fused dispatch. Either updates `param`
/// and the slots in place.
fn apply<const K: usize>(
    op: &'static str,
    param: &Tensor,
    grad: &Tensor,
    slots: [&Tensor; K],
    cpu: impl FnOnce(&mut CpuStorage, &CpuStorage, [&mut CpuStorage; K]),
    gpu: impl FnOnce(&GpuStorage, &GpuStorage, [&GpuStorage; K]) -> Result<()>,
) -> Result<()> {
    param.same_layout(op, grad)?;
    for slot in slots {
        if slot.shape() != param.shape() || slot.dtype() != param.dtype() || slot.device() != param.device() {
            return Err(Error::argument(
                op,
                format!(
                    "the state is for a {} {} tensor on {}, not this {} {} parameter on {}; make one with `state_for`",
                    slot.dtype(),
                    slot.shape(),
                    slot.device(),
                    param.dtype(),
                    param.shape(),
                    param.device()
                ),
            ));
        }
    }
    // Each operand is locked separately, so a shared buffer would deadlock (and be a bug anyway).
    if param.shares_storage(grad) || slots.iter().any(|s| s.shares_storage(param) || s.shares_storage(grad)) {
        return Err(Error::argument(
            op,
            "the parameter, its gradient and its state tensors must not share storage",
        ));
    }
    let mut p = param.storage_mut();
    let g = grad.storage();
    let mut guards = slots.map(Tensor::storage_mut);
    // The devices were checked above: every slot lives where the parameter does.
    match (&mut *p, &*g) {
        (Storage::Cpu(p), Storage::Cpu(g)) => cpu(
            p,
            g,
            guards.each_mut().map(|s| match &mut **s {
                Storage::Cpu(s) => s,
                Storage::Gpu(_) => unreachable!("a slot on another device than its parameter"),
            }),
        ),
        (Storage::Gpu(p), Storage::Gpu(g)) => gpu(
            p,
            g,
            guards.each_ref().map(|s| match &**s {
                Storage::Gpu(s) => s,
                Storage::Cpu(_) => unreachable!("a slot on another device than its parameter"),
            }),
        )?,
        _ => return Err(crate::ops::mixed_devices(op, param, grad)),
    }
    Ok(())
}
