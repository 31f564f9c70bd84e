//! Layer arguments that Keras also accepts by name or in short form: `activation="relu"`,
//! `padding="same"`, `kernel_size=3`.

use tensor_core::Padding;

/// A setting given by value or by its Keras name. Builders stay infallible; a name is checked
/// when the layer is built, and an unknown one is an error that lists the names accepted.
#[derive(Clone, Debug, PartialEq)]
pub enum Spec<T> {
    /// The setting itself.
    Value(T),
    /// Its Keras name, resolved when the layer is built.
    Name(String),
}

/// A setting Keras lets users name with a string.
pub trait KerasName: Sized + Clone {
    /// What the setting is, for error messages ("activation").
    const KIND: &'static str;

    /// The names accepted, for error messages.
    const NAMES: &'static [&'static str];

    /// The setting `name` stands for, if it is one of [`KerasName::NAMES`] (or a spelling of
    /// one that Keras also accepts).
    fn from_name(name: &str) -> Option<Self>;
}

impl<T: KerasName> Spec<T> {
    /// The value, or what the name stands for; the error says which names exist.
    pub fn resolve(&self) -> Result<T, String> {
        match self {
            Spec::Value(value) => Ok(value.clone()),
            Spec::Name(name) => T::from_name(name).ok_or_else(|| {
                format!("unknown {} \"{name}\"; expected one of: {}", T::KIND, T::NAMES.join(", "))
            }),
        }
    }
}

impl<T: KerasName> From<T> for Spec<T> {
    fn from(value: T) -> Self {
        Spec::Value(value)
    }
}

impl<T: KerasName> From<&str> for Spec<T> {
    fn from(name: &str) -> Self {
        Spec::Name(name.to_string())
    }
}

impl<T: KerasName> From<String> for Spec<T> {
    fn from(name: String) -> Self {
        Spec::Name(name)
    }
}

impl KerasName for Padding {
    const KIND: &'static str = "padding";
    const NAMES: &'static [&'static str] = &["valid", "same"];

    fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "valid" => Some(Padding::Valid),
            "same" => Some(Padding::Same),
            _ => None,
        }
    }
}

/// A (height, width) pair, such as a kernel size or strides; a single number means both, as in
/// Keras (`kernel_size=3`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size2(pub usize, pub usize);

impl Size2 {
    /// As a (height, width) tuple.
    pub fn pair(self) -> (usize, usize) {
        (self.0, self.1)
    }
}

impl From<usize> for Size2 {
    fn from(n: usize) -> Self {
        Size2(n, n)
    }
}

impl From<(usize, usize)> for Size2 {
    fn from((h, w): (usize, usize)) -> Self {
        Size2(h, w)
    }
}
