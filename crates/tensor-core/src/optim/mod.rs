//! Optimizer update rules with Keras 3's formulas and defaults: SGD (with momentum or Nesterov),
//! RMSprop, Adagrad, Adadelta, Adam and Nadam.
//!
//! Each optimizer is a small struct of hyper-parameters ([`Sgd`], [`Adam`]...), wrapped in
//! [`Optimizer`]. Every parameter tensor has a [`State`] holding its slot tensors (momentums,
//! velocities...), made by [`Optimizer::state_for`]. [`Optimizer::step_many`] updates a set of
//! parameters and their states in place, as one training step: on a GPU with one dispatch for
//! all of them ([`Optimizer::step`] updates one). Updates are never recorded on a tape.
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

use crate::backend::UpdateRule;
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

    /// The settings that decide which slots a state has, for errors.
    fn slot_settings(&self) -> String {
        match self {
            Optimizer::Sgd(o) => format!("momentum {}", o.momentum),
            Optimizer::RmsProp(o) => format!("momentum {} and centered {}", o.momentum, o.centered),
            other => format!("{}'s settings", other.name()),
        }
    }

    /// What every slot of a fresh state starts at (Adagrad's accumulators start at its
    /// `initial_accumulator_value`, every other slot at 0).
    fn slot_start(&self) -> f64 {
        match self {
            Optimizer::Adagrad(o) => o.initial_accumulator_value,
            _ => 0.0,
        }
    }

    /// The update rule at step `iteration`, given the state of one of the parameters it updates
    /// (Nadam keeps its momentum schedule's running product there).
    fn rule(&self, state: &mut State, iteration: u64) -> UpdateRule {
        match self {
            Optimizer::Sgd(o) => o.rule(),
            Optimizer::RmsProp(o) => o.rule(),
            Optimizer::Adagrad(o) => o.rule(),
            Optimizer::Adadelta(o) => o.rule(),
            Optimizer::Adam(o) => o.rule(iteration),
            Optimizer::Nadam(o) => o.rule(iteration, state.u_product.at(o.beta_1, iteration)),
        }
    }

    /// A fresh state for `param`: its slot tensors, shaped like it, at their initial values.
    pub fn state_for(&self, param: &Tensor) -> Result<State> {
        self.check()?;
        let mut state = State { optimizer: self.name(), slots: Vec::new(), u_product: UProduct::START };
        let names = self.rule(&mut state, 1).slots();
        state.slots = names
            .iter()
            .map(|&name| Ok((name, param.full_like(self.slot_start())?)))
            .collect::<Result<_>>()?;
        Ok(state)
    }

    /// Updates `param` and its `state` in place from the gradient `grad`. `iteration` counts the
    /// training steps from 1 (Keras's `optimizer.iterations + 1`); Adam and Nadam correct their
    /// moments' bias with it.
    pub fn step(&self, param: &Tensor, grad: &Tensor, state: &mut State, iteration: u64) -> Result<()> {
        self.step_many(&mut [(param, grad, state)], iteration)
    }

    /// Updates every `(parameter, gradient, state)` in place, as training step `iteration`: the
    /// same as [`Optimizer::step`] on each, but on a GPU one dispatch updates them all (their
    /// parameters and states are packed into shared buffers on the first step, each tensor
    /// becoming a view of its range). They must all live on one device, in one dtype.
    pub fn step_many(&self, items: &mut [(&Tensor, &Tensor, &mut State)], iteration: u64) -> Result<()> {
        self.check()?;
        let op = self.name();
        if iteration == 0 {
            return Err(Error::argument(op, "iteration counts training steps from 1, got 0"));
        }
        let Some((first, _, _)) = items.first() else { return Ok(()) };
        let (dtype, device) = (first.dtype(), first.device().clone());
        let mut rule = None;
        for (param, grad, state) in items.iter_mut() {
            if param.dtype() != dtype || param.device() != &device {
                return Err(Error::argument(
                    op,
                    format!(
                        "one step updates parameters of one dtype on one device: {} on {} and {} on {}",
                        dtype,
                        device,
                        param.dtype(),
                        param.device()
                    ),
                ));
            }
            check_item(op, param, grad, state)?;
            let this = self.rule(state, iteration);
            if this.slots() != state.slots.iter().map(|(name, _)| *name).collect::<Vec<_>>() {
                return Err(settings_changed(
                    op,
                    format!(
                        "the state holds the slots {:?}, but with {} a step needs {:?}",
                        state.names(),
                        self.slot_settings(),
                        this.slots()
                    ),
                ));
            }
            rule = Some(this);
        }
        let Some(rule) = rule else { return Ok(()) };
        // Each operand is locked separately, so two sharing a buffer would deadlock (and be a
        // bug in the caller anyway).
        let written: Vec<&Tensor> = items
            .iter()
            .flat_map(|(p, _, s)| std::iter::once(*p).chain(s.slots.iter().map(|(_, t)| t)))
            .collect();
        let read = items.iter().map(|(_, g, _)| *g);
        for (i, w) in written.iter().enumerate() {
            if written[i + 1..].iter().any(|o| o.shares_storage(w))
                || read.clone().any(|g| g.shares_storage(w))
            {
                return Err(Error::argument(
                    op,
                    "the parameters, their gradients and their state tensors must not share storage",
                ));
            }
        }
        let mut params: Vec<_> = items.iter().map(|(p, _, _)| p.storage_mut()).collect();
        let grads: Vec<_> = items.iter().map(|(_, g, _)| g.storage()).collect();
        let mut slots: Vec<Vec<_>> =
            items.iter().map(|(_, _, s)| s.slots.iter().map(|(_, t)| t.storage_mut()).collect()).collect();
        let mut operands: Vec<(&mut Storage, &Storage, Vec<&mut Storage>)> = params
            .iter_mut()
            .zip(&grads)
            .zip(slots.iter_mut())
            .map(|((p, g), s)| (&mut **p, &**g, s.iter_mut().map(|s| &mut **s).collect()))
            .collect();
        Storage::update(&rule, &mut operands)
    }
}

/// Checks one parameter's gradient and state against it.
fn check_item(op: &'static str, param: &Tensor, grad: &Tensor, state: &State) -> Result<()> {
    param.same_layout(op, grad)?;
    if state.optimizer != op {
        return Err(Error::argument(
            op,
            format!("this state was made by {}; make one with this optimizer's `state_for`", state.optimizer),
        ));
    }
    for (_, slot) in &state.slots {
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
    Ok(())
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
    /// The optimizer that made it.
    optimizer: &'static str,
    slots: Vec<(&'static str, Tensor)>,
    /// Nadam's momentum-schedule product, advanced each step (unused by the others).
    u_product: UProduct,
}

impl State {
    /// The slot tensors with Keras's names ("momentum", "velocity"...), for checkpoints: they
    /// share storage with the state, so `assign` to them restores it.
    pub fn tensors(&self) -> Vec<(&'static str, &Tensor)> {
        self.slots.iter().map(|(name, t)| (*name, t)).collect()
    }

    fn names(&self) -> Vec<&'static str> {
        self.slots.iter().map(|(name, _)| *name).collect()
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
