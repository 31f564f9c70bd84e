//! Activation functions, applied elementwise (softmax: along the last axis).

use tensor_core::Tensor;

use crate::Result;
use crate::layers::KerasName;

/// The activations of the notes, by Keras name: "linear", "relu", "sigmoid", "tanh",
/// "softmax", "leaky_relu" and, for the McCulloch–Pitts neuron, "step".
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum Activation {
    /// The identity (Keras's default: no activation).
    #[default]
    Linear,
    /// `max(x, 0)`.
    Relu,
    /// `1 / (1 + exp(-x))`.
    Sigmoid,
    /// The hyperbolic tangent.
    Tanh,
    /// Softmax over the last axis, as Keras's `activation="softmax"`.
    Softmax,
    /// `x` where positive, `negative_slope * x` elsewhere.
    LeakyRelu(f64),
    /// 1 where the input reaches the threshold, else 0: a McCulloch–Pitts threshold unit. Its
    /// gradient is zero, so it is for hand-set weights, not for training.
    Step(f64),
}

impl Activation {
    /// Keras 3's `leaky_relu` default slope for negative inputs.
    pub const LEAKY_RELU_SLOPE: f64 = 0.2;

    /// `leaky_relu` with Keras 3's default slope (0.2).
    pub fn leaky_relu() -> Activation {
        Activation::LeakyRelu(Self::LEAKY_RELU_SLOPE)
    }

    /// The same activation as one a product can apply as it stores its output, when it is one:
    /// elementwise, with a derivative that follows from the output. Softmax is not elementwise
    /// and the step unit has no useful derivative; a leaky relu needs a slope of at least 0.
    pub fn fusable(&self) -> Option<tensor_core::Activation> {
        match *self {
            Activation::Linear => Some(tensor_core::Activation::Identity),
            Activation::Relu => Some(tensor_core::Activation::Relu),
            Activation::Sigmoid => Some(tensor_core::Activation::Sigmoid),
            Activation::Tanh => Some(tensor_core::Activation::Tanh),
            Activation::LeakyRelu(slope) if slope >= 0.0 => Some(tensor_core::Activation::LeakyRelu(slope)),
            Activation::LeakyRelu(_) | Activation::Softmax | Activation::Step(_) => None,
        }
    }

    /// Applies the activation to `x`.
    pub fn apply(&self, x: &Tensor) -> Result<Tensor> {
        Ok(match *self {
            Activation::Linear => x.clone(),
            Activation::Relu => x.relu()?,
            Activation::Sigmoid => x.sigmoid()?,
            Activation::Tanh => x.tanh()?,
            Activation::Softmax => x.softmax(-1)?,
            Activation::LeakyRelu(slope) => x.leaky_relu(slope)?,
            Activation::Step(threshold) => x.step(threshold)?,
        })
    }
}

impl KerasName for Activation {
    const KIND: &'static str = "activation";
    const NAMES: &'static [&'static str] =
        &["linear", "relu", "sigmoid", "tanh", "softmax", "leaky_relu", "step"];

    /// "step" is the unit step at 0 (a threshold folded into the bias).
    fn from_name(name: &str) -> Option<Self> {
        match name {
            "linear" => Some(Activation::Linear),
            "relu" => Some(Activation::Relu),
            "sigmoid" => Some(Activation::Sigmoid),
            "tanh" => Some(Activation::Tanh),
            "softmax" => Some(Activation::Softmax),
            "leaky_relu" => Some(Activation::leaky_relu()),
            "step" => Some(Activation::Step(0.0)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use tensor_core::{Device, Tensor};

    use super::*;
    use crate::layers::Spec;

    fn apply(activation: Activation, values: &[f64]) -> Vec<f64> {
        let x = Tensor::from_slice(values, [1, values.len()], &Device::Cpu).unwrap();
        activation.apply(&x).unwrap().to_vec::<f64>().unwrap()
    }

    #[test]
    fn known_values() {
        // Exact except sigmoid/tanh/softmax, which are within 1e-15 of the closed forms.
        let x = [-2.0, 0.0, 3.0];
        assert_eq!(apply(Activation::Relu, &x), [0.0, 0.0, 3.0]);
        assert_eq!(apply(Activation::leaky_relu(), &x), [-0.4, 0.0, 3.0]);
        assert_eq!(apply(Activation::Step(0.0), &x), [0.0, 1.0, 1.0]);
        assert_eq!(apply(Activation::Step(2.5), &x), [0.0, 0.0, 1.0]);
        assert_eq!(apply(Activation::Linear, &x), x);
        let sig = apply(Activation::Sigmoid, &x);
        assert!((sig[0] - 1.0 / (1.0 + 2f64.exp())).abs() < 1e-15 && sig[1] == 0.5);
        assert!((apply(Activation::Tanh, &x)[2] - 3f64.tanh()).abs() < 1e-15);
        let soft = apply(Activation::Softmax, &x);
        let z: f64 = x.iter().map(|v| v.exp()).sum();
        assert!(soft.iter().zip(&x).all(|(s, v)| (s - v.exp() / z).abs() < 1e-15));
    }

    #[test]
    fn names_resolve_and_unknown_names_are_listed() {
        let relu: Spec<Activation> = "relu".into();
        assert_eq!(relu.resolve().unwrap(), Activation::Relu);
        let bad: Spec<Activation> = "relux".into();
        let message = bad.resolve().unwrap_err();
        assert!(message.contains("\"relux\"") && message.contains("leaky_relu"), "{message}");
    }
}
