//! What `fit` returns: the logs of every epoch, as Keras's `History` callback keeps them.

use std::collections::BTreeMap;

/// Metric values by name ("loss", "accuracy", "val_loss", ...), sorted by name as Keras 3 sorts
/// its logs.
pub type Logs = BTreeMap<String, f64>;

/// Per-epoch values of every logged quantity: `history.get("val_loss")` is one value per epoch.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    epochs: Vec<usize>,
    values: BTreeMap<String, Vec<f64>>,
}

impl History {
    /// The values of `key` ("loss", "val_accuracy", ...) in epoch order, if it was logged.
    pub fn get(&self, key: &str) -> Option<&[f64]> {
        self.values.get(key).map(Vec::as_slice)
    }

    /// Every logged name with its values (Keras's `history.history`).
    pub fn history(&self) -> &BTreeMap<String, Vec<f64>> {
        &self.values
    }

    /// The logged names, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }

    /// The (0-based) epochs that ran, in order (Keras's `history.epoch`).
    pub fn epochs(&self) -> &[usize] {
        &self.epochs
    }

    /// The number of epochs recorded.
    pub fn len(&self) -> usize {
        self.epochs.len()
    }

    /// Whether no epoch ran.
    pub fn is_empty(&self) -> bool {
        self.epochs.is_empty()
    }

    /// Appends the logs of `epoch`, as `fit` does after each one (and as a program does that
    /// rebuilds the history of a run it resumes).
    pub fn record(&mut self, epoch: usize, logs: &Logs) {
        self.epochs.push(epoch);
        for (key, &value) in logs {
            self.values.entry(key.clone()).or_default().push(value);
        }
    }
}
