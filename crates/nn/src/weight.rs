//! A layer's weight: a named tensor that training updates in place.

use std::sync::atomic::{AtomicU64, Ordering};

use tensor_core::{Device, Tensor};

use crate::Result;

static NEXT_WEIGHT_ID: AtomicU64 = AtomicU64::new(1);

/// A named weight tensor. Trainable weights receive gradients and optimizer updates; others
/// (BatchNormalization's moving statistics, frozen layers) are only read or assigned directly.
#[derive(Debug)]
pub struct Weight {
    id: u64,
    name: String,
    value: Tensor,
    trainable: bool,
}

impl Weight {
    pub fn new(name: impl Into<String>, value: Tensor, trainable: bool) -> Weight {
        Weight { id: NEXT_WEIGHT_ID.fetch_add(1, Ordering::Relaxed), name: name.into(), value, trainable }
    }

    /// Identifies this weight for the whole run (optimizer state and gradients are keyed by it).
    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn set_name(&mut self, name: impl Into<String>) {
        self.name = name.into();
    }

    /// The current value. Shares storage with the weight: in-place updates are visible through it.
    pub fn value(&self) -> &Tensor {
        &self.value
    }

    pub fn trainable(&self) -> bool {
        self.trainable
    }

    pub fn set_trainable(&mut self, trainable: bool) {
        self.trainable = trainable;
    }

    pub fn numel(&self) -> usize {
        self.value.numel()
    }

    /// Another handle on this weight: the same identity and the same storage, so a layer holding
    /// it trains, reads and saves the very values this one does (how a sub-model or a nested
    /// copy of a model shares its weights). The handles part once either moves to another
    /// device, as a moved tensor is a new one.
    pub(crate) fn share(&self) -> Weight {
        Weight { id: self.id, name: self.name.clone(), value: self.value.clone(), trainable: self.trainable }
    }

    /// Overwrites the value in place (shape, dtype and device must match).
    pub fn assign(&self, value: &Tensor) -> Result<()> {
        Ok(self.value.assign(value)?)
    }

    /// Moves the value to `device` (a no-op when it is already there).
    pub fn to_device(&mut self, device: &Device) -> Result<()> {
        self.value = self.value.to(device)?;
        Ok(())
    }
}
