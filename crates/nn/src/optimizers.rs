//! Optimizers: tensor-core's update rules (Keras 3's formulas and defaults), chosen by Keras name
//! or as structs with options, and the per-weight state a compiled model keeps for them.
//!
//! ```
//! use nn::optimizers::{self, Adam, IntoOptimizer};
//! let by_name = "adam".into_optimizer().unwrap();
//! let with_options = Adam { learning_rate: 1e-4, ..Adam::default() }.into_optimizer().unwrap();
//! assert_eq!(by_name.learning_rate(), 1e-3);
//! assert_eq!(with_options.learning_rate(), 1e-4);
//! assert!(optimizers::get("adamw").is_err());
//! ```

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use tensor_core::Tensor;
use tensor_core::optim::State;
pub use tensor_core::optim::{Adadelta, Adagrad, Adam, Nadam, Optimizer, RmsProp, Sgd};

use crate::{NnError, Result, Weight};

/// The optimizer Keras names `name` (case-insensitive), with Keras's default settings.
pub fn get(name: &str) -> Result<Optimizer> {
    Ok(match name.to_lowercase().as_str() {
        "sgd" => Sgd::default().into(),
        "rmsprop" => RmsProp::default().into(),
        "adagrad" => Adagrad::default().into(),
        "adadelta" => Adadelta::default().into(),
        "adam" => Adam::default().into(),
        "nadam" => Nadam::default().into(),
        _ => {
            return Err(NnError::Usage(format!(
                "unknown optimizer {name:?}; expected one of sgd, rmsprop, adagrad, adadelta, adam, nadam"
            )));
        }
    })
}

/// What `compile` accepts as an optimizer: an [`Optimizer`], one of its structs, or a Keras name.
pub trait IntoOptimizer {
    /// The optimizer, or an error naming an unknown name.
    fn into_optimizer(self) -> Result<Optimizer>;
}

impl IntoOptimizer for &str {
    fn into_optimizer(self) -> Result<Optimizer> {
        get(self)
    }
}

impl IntoOptimizer for String {
    fn into_optimizer(self) -> Result<Optimizer> {
        get(&self)
    }
}

/// Each optimizer value converts as it is (one impl per type: a blanket `Into<Optimizer>` impl
/// would overlap with the one for names).
macro_rules! into_optimizer {
    ($($t:ty),*) => {$(
        impl IntoOptimizer for $t {
            fn into_optimizer(self) -> Result<Optimizer> {
                Ok(self.into())
            }
        }
    )*};
}

into_optimizer!(Optimizer, Sgd, RmsProp, Adagrad, Adadelta, Adam, Nadam);

/// An optimizer with the state it keeps for each weight (by weight id) and its step count.
pub(crate) struct OptimizerState {
    rule: Optimizer,
    states: HashMap<u64, State>,
    iterations: u64,
}

impl OptimizerState {
    pub(crate) fn new(rule: Optimizer) -> OptimizerState {
        OptimizerState { rule, states: HashMap::new(), iterations: 0 }
    }

    pub(crate) fn learning_rate(&self) -> f64 {
        self.rule.learning_rate()
    }

    pub(crate) fn set_learning_rate(&mut self, learning_rate: f64) -> Result<()> {
        Ok(self.rule.set_learning_rate(learning_rate)?)
    }

    /// The update rule with its hyper-parameters.
    pub(crate) fn rule(&self) -> &Optimizer {
        &self.rule
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
        let state = self.rule.state_for(param)?;
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

    /// One training step: updates each parameter in place from its gradient, all in one
    /// optimizer call (on a GPU, one dispatch); `updates` holds (weight id, the weight's value,
    /// its gradient). A weight's state is created the first time it is updated.
    pub(crate) fn apply(&mut self, updates: &[(u64, Tensor, Tensor)]) -> Result<()> {
        self.iterations += 1;
        for (id, param, _) in updates {
            if let Entry::Vacant(e) = self.states.entry(*id) {
                e.insert(self.rule.state_for(param)?);
            }
        }
        // Every weight's state, in the order of the updates (each id appears once).
        let mut states: HashMap<u64, &mut State> = self.states.iter_mut().map(|(id, s)| (*id, s)).collect();
        let mut items = Vec::with_capacity(updates.len());
        for (id, param, grad) in updates {
            let state = states
                .remove(id)
                .ok_or_else(|| NnError::Usage(format!("weight {id} appears twice in one optimizer step")))?;
            items.push((param, grad, state));
        }
        Ok(self.rule.step_many(&mut items, self.iterations)?)
    }
}
