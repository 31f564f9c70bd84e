//! Optimizers: tensor-core's update rules (Keras 3's formulas and defaults), chosen by Keras name
//! or as structs with options, Keras's base-class options on top of them ([`Configured`]:
//! schedules, clipping, weight decay), and the per-weight state a compiled model keeps for them.
//!
//! ```
//! use nn::optimizers::{self, Adam, IntoOptimizer, OptimizerOptions};
//! let by_name = "adam".into_optimizer().unwrap();
//! let with_options = Adam { learning_rate: 1e-4, ..Adam::default() }.clipvalue(0.5).into_optimizer().unwrap();
//! assert_eq!(by_name.learning_rate(0), 1e-3);
//! assert_eq!(with_options.learning_rate(0), 1e-4);
//! assert_eq!("adamw".into_optimizer().unwrap().weight_decay, Some(0.004));
//! assert!(optimizers::get("lion").is_err());
//! ```

mod configured;
pub mod schedules;

use std::collections::HashMap;
use std::collections::hash_map::Entry;

pub use configured::{AdamW, Configured, OptimizerOptions};
use tensor_core::Tensor;
use tensor_core::optim::State;
pub use tensor_core::optim::{Adadelta, Adagrad, Adam, Nadam, Optimizer, RmsProp, Sgd};

use crate::{NnError, Result, Weight};

/// The optimizer Keras names `name` (case-insensitive), with Keras's default settings; "adamw"
/// is Adam with a weight decay of 0.004.
pub fn get(name: &str) -> Result<Configured> {
    Ok(match name.to_lowercase().as_str() {
        "sgd" => Sgd::default().into(),
        "rmsprop" => RmsProp::default().into(),
        "adagrad" => Adagrad::default().into(),
        "adadelta" => Adadelta::default().into(),
        "adam" => Adam::default().into(),
        "adamw" => AdamW::default().into(),
        "nadam" => Nadam::default().into(),
        _ => {
            return Err(NnError::Usage(format!(
                "unknown optimizer {name:?}; expected one of sgd, rmsprop, adagrad, adadelta, adam, adamw, nadam"
            )));
        }
    })
}

/// What `compile` accepts as an optimizer: an [`Optimizer`], one of its structs, a
/// [`Configured`] one, or a Keras name.
pub trait IntoOptimizer {
    /// The optimizer, checked, or an error naming an unknown name or a bad option.
    fn into_optimizer(self) -> Result<Configured>;
}

impl IntoOptimizer for &str {
    fn into_optimizer(self) -> Result<Configured> {
        get(self)
    }
}

impl IntoOptimizer for String {
    fn into_optimizer(self) -> Result<Configured> {
        get(&self)
    }
}

/// Each optimizer value converts as it is (one impl per type: a blanket `Into<Configured>` impl
/// would overlap with the one for names).
macro_rules! into_optimizer {
    ($($t:ty),*) => {$(
        impl IntoOptimizer for $t {
            fn into_optimizer(self) -> Result<Configured> {
                let configured = Configured::from(self);
                configured.check()?;
                Ok(configured)
            }
        }
    )*};
}

into_optimizer!(Configured, Optimizer, Sgd, RmsProp, Adagrad, Adadelta, Adam, AdamW, Nadam);

/// An optimizer with the state it keeps for each weight (by weight id) and its step count.
pub(crate) struct OptimizerState {
    config: Configured,
    states: HashMap<u64, State>,
    iterations: u64,
}

impl OptimizerState {
    pub(crate) fn new(config: Configured) -> OptimizerState {
        OptimizerState { config, states: HashMap::new(), iterations: 0 }
    }

    /// The learning rate of the next step (a schedule's at the current step count).
    pub(crate) fn learning_rate(&self) -> f64 {
        self.config.learning_rate(self.iterations)
    }

    /// Sets the learning rate of the following steps; an error when it follows a schedule, as
    /// Keras's setter raises.
    pub(crate) fn set_learning_rate(&mut self, learning_rate: f64) -> Result<()> {
        if let Some(schedule) = &self.config.schedule {
            return Err(NnError::Usage(format!(
                "the optimizer's learning rate follows a {} schedule and cannot be set (Keras refuses it too); \
                 compile with a fixed learning rate to change it from a callback",
                schedule.class_name()
            )));
        }
        Ok(self.config.optimizer.set_learning_rate(learning_rate)?)
    }

    /// The optimizer with its hyper-parameters and options.
    pub(crate) fn config(&self) -> &Configured {
        &self.config
    }

    /// The training steps applied so far (Keras's `optimizer.iterations`).
    pub(crate) fn iterations(&self) -> u64 {
        self.iterations
    }

    /// Sets the step count, to resume training where a checkpoint left it (Adam and Nadam
    /// correct their moments with it; dropout seeds follow it).
    pub(crate) fn set_iterations(&mut self, iterations: u64) {
        self.iterations = iterations;
    }

    /// The slot tensors kept for the weight `id`, by Keras's slot names ("momentum"...); none
    /// before its first update.
    pub(crate) fn slots(&self, id: u64) -> Vec<(&'static str, &Tensor)> {
        self.states.get(&id).map(State::tensors).unwrap_or_default()
    }

    /// Gives the weight `id`, whose value is `param`, the state whose slots `saved` gives: it is
    /// called with each slot's name and a fresh slot (zeros of the right shape, dtype and device)
    /// and returns the values to put there.
    pub(crate) fn restore(
        &mut self,
        id: u64,
        param: &Tensor,
        mut saved: impl FnMut(&str, &Tensor) -> Result<Tensor>,
    ) -> Result<()> {
        let state = self.config.optimizer.state_for(param)?;
        for (name, slot) in state.tensors() {
            slot.assign(&saved(name, slot)?)?;
        }
        self.states.insert(id, state);
        Ok(())
    }

    /// Moves the state of each of `weights` to the device its value is on now.
    pub(crate) fn follow(&mut self, weights: &[&Weight]) -> Result<()> {
        for weight in weights {
            let Some(old) = self.states.remove(&weight.id()) else { continue };
            let old = old.tensors();
            self.restore(weight.id(), weight.value(), |name, fresh| {
                let value = old.iter().find(|(n, _)| *n == name).map(|(_, t)| *t);
                let value =
                    value.ok_or_else(|| NnError::Usage(format!("optimizer state without slot {name}")))?;
                Ok(value.to(fresh.device())?)
            })?;
        }
        Ok(())
    }

    /// One training step: clips the gradients and decays the weights as the options say, then
    /// updates each parameter in place from its gradient, all in one optimizer call (on a GPU,
    /// one dispatch); `updates` holds (weight id, the weight's value, its gradient). A weight's
    /// state is created the first time it is updated. A schedule sets the step's learning rate
    /// from the steps taken before it, as Keras evaluates it at `optimizer.iterations`.
    pub(crate) fn apply(&mut self, updates: &[(u64, Tensor, Tensor)]) -> Result<()> {
        let learning_rate = self.config.learning_rate(self.iterations);
        self.config.optimizer.set_learning_rate(learning_rate)?;
        self.iterations += 1;
        for (id, param, _) in updates {
            if let Entry::Vacant(e) = self.states.entry(*id) {
                e.insert(self.config.optimizer.state_for(param)?);
            }
        }
        let gradients = self.config.clip(updates.iter().map(|(_, _, g)| g.clone()).collect())?;
        let params: Vec<&Tensor> = updates.iter().map(|(_, p, _)| p).collect();
        self.config.decay(&params, learning_rate)?;
        // Every weight's state, in the order of the updates (each id appears once).
        let mut states: HashMap<u64, &mut State> = self.states.iter_mut().map(|(id, s)| (*id, s)).collect();
        let mut items = Vec::with_capacity(updates.len());
        for ((id, param, _), grad) in updates.iter().zip(&gradients) {
            let state = states
                .remove(id)
                .ok_or_else(|| NnError::Usage(format!("weight {id} appears twice in one optimizer step")))?;
            items.push((param, grad, state));
        }
        Ok(self.config.optimizer.step_many(&mut items, self.iterations)?)
    }
}
