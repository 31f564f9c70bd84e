//! The elementwise and reduction ops every backend provides, and the integer codes that name
//! them inside kernels.

/// Declares a fieldless enum of kernel op codes. A variant's discriminant is the code a kernel
/// switches on, and `wgsl()` writes the same codes as WGSL constants (`UNARY_ADD_SCALAR`...), so
/// Rust and the shaders read them from this one definition.
macro_rules! codes {
    ($(#[$meta:meta])* $vis:vis enum $name:ident ($prefix:literal) { $($(#[$vmeta:meta])* $variant:ident),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        $vis enum $name { $($(#[$vmeta])* $variant),* }

        impl $name {
            /// Every code, in order.
            pub(crate) const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The code a kernel switches on.
            pub(crate) fn code(self) -> u32 {
                self as u32
            }

            /// The codes as WGSL constants, for a kernel's generated header.
            pub(crate) fn wgsl() -> String {
                let names = [$(stringify!($variant)),*];
                Self::ALL
                    .iter()
                    .zip(names)
                    .map(|(code, name)| {
                        format!("const {}_{}: u32 = {}u;\n", $prefix, $crate::backend::ops::screaming(name), code.code())
                    })
                    .collect()
            }
        }
    };
}

/// `AddScalar` as `ADD_SCALAR`.
pub(crate) fn screaming(camel: &str) -> String {
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

codes! {
    /// The unary kernels, without their scalar arguments.
    pub(crate) enum UnaryCode ("UNARY") {
        Neg, Exp, Log, Sqrt, Abs, Sign, Square, Powf, AddScalar, MulScalar, Relu, LeakyRelu, Sigmoid,
        Tanh, Step, Clip,
    }
}

/// The elementwise unary ops every backend provides. Scalars ride along as f64.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum UnaryOp {
    Neg,
    Exp,
    Log,
    Sqrt,
    Abs,
    /// -1, 0 or 1.
    Sign,
    Square,
    Powf(f64),
    AddScalar(f64),
    MulScalar(f64),
    Relu,
    LeakyRelu(f64),
    Sigmoid,
    Tanh,
    /// 1 where `x >= threshold`, else 0: the McCulloch–Pitts unit.
    Step(f64),
    /// `x` clamped to `[low, high]`.
    Clip(f64, f64),
}

impl UnaryOp {
    /// The op's kernel code and its scalar arguments (0 where it has none).
    pub(crate) fn code(self) -> (UnaryCode, f64, f64) {
        match self {
            UnaryOp::Neg => (UnaryCode::Neg, 0.0, 0.0),
            UnaryOp::Exp => (UnaryCode::Exp, 0.0, 0.0),
            UnaryOp::Log => (UnaryCode::Log, 0.0, 0.0),
            UnaryOp::Sqrt => (UnaryCode::Sqrt, 0.0, 0.0),
            UnaryOp::Abs => (UnaryCode::Abs, 0.0, 0.0),
            UnaryOp::Sign => (UnaryCode::Sign, 0.0, 0.0),
            UnaryOp::Square => (UnaryCode::Square, 0.0, 0.0),
            UnaryOp::Powf(e) => (UnaryCode::Powf, e, 0.0),
            UnaryOp::AddScalar(c) => (UnaryCode::AddScalar, c, 0.0),
            UnaryOp::MulScalar(c) => (UnaryCode::MulScalar, c, 0.0),
            UnaryOp::Relu => (UnaryCode::Relu, 0.0, 0.0),
            UnaryOp::LeakyRelu(alpha) => (UnaryCode::LeakyRelu, alpha, 0.0),
            UnaryOp::Sigmoid => (UnaryCode::Sigmoid, 0.0, 0.0),
            UnaryOp::Tanh => (UnaryCode::Tanh, 0.0, 0.0),
            UnaryOp::Step(t) => (UnaryCode::Step, t, 0.0),
            UnaryOp::Clip(low, high) => (UnaryCode::Clip, low, high),
        }
    }

    /// The op's name, for errors and the tape.
    pub(crate) fn name(self) -> &'static str {
        match self {
            UnaryOp::Neg => "neg",
            UnaryOp::Exp => "exp",
            UnaryOp::Log => "log",
            UnaryOp::Sqrt => "sqrt",
            UnaryOp::Abs => "abs",
            UnaryOp::Sign => "sign",
            UnaryOp::Square => "square",
            UnaryOp::Powf(_) => "powf",
            UnaryOp::AddScalar(_) => "add_scalar",
            UnaryOp::MulScalar(_) => "mul_scalar",
            UnaryOp::Relu => "relu",
            UnaryOp::LeakyRelu(_) => "leaky_relu",
            UnaryOp::Sigmoid => "sigmoid",
            UnaryOp::Tanh => "tanh",
            UnaryOp::Step(_) => "step",
            UnaryOp::Clip(..) => "clip",
        }
    }
}

codes! {
    /// The elementwise binary ops every backend provides.
    pub(crate) enum BinaryOp ("BINARY") {
        Add,
        Sub,
        Mul,
        Div,
        /// 1 where the operands are equal, else 0 (not differentiable).
        Equal,
    }
}

impl BinaryOp {
    pub(crate) fn name(self) -> &'static str {
        match self {
            BinaryOp::Add => "add",
            BinaryOp::Sub => "sub",
            BinaryOp::Mul => "mul",
            BinaryOp::Div => "div",
            BinaryOp::Equal => "eq",
        }
    }
}

codes! {
    /// The reductions every backend provides.
    pub(crate) enum ReduceOp ("REDUCE") {
        Sum,
        Max,
        /// The sum divided by the number of elements reduced into each output.
        Mean,
    }
}

/// An elementwise activation that a product (a dense layer's, a convolution's) applies to each
/// output as it stores it, and whose derivative the backward pass computes from that output
/// alone, so the pre-activation values are never stored.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum Activation {
    /// No activation.
    #[default]
    Identity,
    /// `max(x, 0)`; its derivative at 0 is 0, as in Keras and PyTorch.
    Relu,
    /// `x` where positive, `alpha * x` elsewhere. `alpha` must be at least 0 (Keras's
    /// `negative_slope` domain), so that the output is positive exactly where the input was.
    LeakyRelu(f64),
    /// `1 / (1 + exp(-x))`.
    Sigmoid,
    /// The hyperbolic tangent.
    Tanh,
}

codes! {
    /// The fused activations, without their argument.
    pub(crate) enum ActivationCode ("ACTIVATION") { Identity, Relu, LeakyRelu, Sigmoid, Tanh }
}

impl Activation {
    /// The activation's kernel code and argument (`alpha`, 0 where there is none).
    pub(crate) fn code(self) -> (ActivationCode, f64) {
        match self {
            Activation::Identity => (ActivationCode::Identity, 0.0),
            Activation::Relu => (ActivationCode::Relu, 0.0),
            Activation::LeakyRelu(alpha) => (ActivationCode::LeakyRelu, alpha),
            Activation::Sigmoid => (ActivationCode::Sigmoid, 0.0),
            Activation::Tanh => (ActivationCode::Tanh, 0.0),
        }
    }

    /// The same function as a unary op, for backends that apply it on its own.
    pub(crate) fn as_unary(self) -> Option<UnaryOp> {
        match self {
            Activation::Identity => None,
            Activation::Relu => Some(UnaryOp::Relu),
            Activation::LeakyRelu(alpha) => Some(UnaryOp::LeakyRelu(alpha)),
            Activation::Sigmoid => Some(UnaryOp::Sigmoid),
            Activation::Tanh => Some(UnaryOp::Tanh),
        }
    }

    /// Checks the activation's argument, naming `op` in the error.
    pub(crate) fn check(self, op: &'static str) -> crate::Result<()> {
        match self {
            Activation::LeakyRelu(alpha) if !(alpha >= 0.0 && alpha.is_finite()) => {
                Err(crate::Error::argument(
                    op,
                    format!("a fused leaky_relu needs a finite slope >= 0, got {alpha}"),
                ))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_become_wgsl_constants() {
        assert_eq!(screaming("AddScalar"), "ADD_SCALAR");
        let wgsl = UnaryCode::wgsl();
        assert!(wgsl.contains("const UNARY_NEG: u32 = 0u;"), "{wgsl}");
        assert!(wgsl.contains("const UNARY_ADD_SCALAR: u32 = 8u;"), "{wgsl}");
        assert_eq!(UnaryCode::ALL.len(), 16);
        assert!(ReduceOp::wgsl().contains("const REDUCE_MEAN: u32 = 2u;"));
    }
}
