//! Registries of user classes by name, as Keras's `keras.saving.register_keras_serializable`:
//! `compile` resolves a name it does not know through them, and `load_model` makes the custom
//! loss or metric a saved training config names from them. One registry per kind of object.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock};

use crate::{NnError, Result};

/// Factories of one kind of object, by class name.
pub(crate) struct Registry<F: ?Sized> {
    kind: &'static str,
    factories: LazyLock<RwLock<HashMap<String, Arc<F>>>>,
}

impl<F: ?Sized> Registry<F> {
    pub(crate) const fn new(kind: &'static str) -> Self {
        Registry { kind, factories: LazyLock::new(|| RwLock::new(HashMap::new())) }
    }

    /// Adds (or replaces) the factory of `name`.
    pub(crate) fn insert(&self, name: &str, factory: Arc<F>) -> Result<()> {
        self.factories.write().map_err(|_| self.poisoned())?.insert(name.to_string(), factory);
        Ok(())
    }

    /// The factory registered as `name`, if any.
    pub(crate) fn get(&self, name: &str) -> Result<Option<Arc<F>>> {
        Ok(self.factories.read().map_err(|_| self.poisoned())?.get(name).cloned())
    }

    /// The registered names, sorted, for error messages.
    pub(crate) fn names(&self) -> Result<Vec<String>> {
        let mut names: Vec<String> =
            self.factories.read().map_err(|_| self.poisoned())?.keys().cloned().collect();
        names.sort();
        Ok(names)
    }

    /// A factory panicked while registering on another thread.
    fn poisoned(&self) -> NnError {
        NnError::Usage(format!(
            "the registry of custom {}s was poisoned by a panic on another thread",
            self.kind
        ))
    }
}
