//! What an optimizer update hands a backend: the rule with this step's scalars. The public
//! optimizers (`crate::optim`) compute these from their hyper-parameters and the step count;
//! both backends apply them in place with the same formulas, in the same order of operations,
//! so the CPU and the GPU stay bit-identical.

/// One step of one update rule. The state slots an update reads and writes, in this order, are
/// the ones [`UpdateRule::slots`] names.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum UpdateRule {
    /// Keras SGD: `w -= lr * g`; with momentum `m = momentum * m - lr * g` then `w += m`, or
    /// with Nesterov `w += momentum * m - lr * g`. Momentum 0 keeps no slot.
    Sgd {
        learning_rate: f64,
        momentum: f64,
        nesterov: bool,
    },
    /// Keras RMSprop: `v = rho * v + (1 - rho) * g^2`; centered, also
    /// `a = rho * a + (1 - rho) * g` and the denominator `v - a^2 + eps`, else `v + eps` (epsilon
    /// inside the root); `increment = lr * g / sqrt(denominator)`; with momentum
    /// `m = momentum * m + increment` and `w -= m`, else `w -= increment`.
    RmsProp {
        learning_rate: f64,
        rho: f64,
        momentum: f64,
        centered: bool,
        epsilon: f64,
    },
    /// Keras Adagrad: `acc += g^2`, `w -= lr * g / sqrt(acc + eps)`.
    Adagrad {
        learning_rate: f64,
        epsilon: f64,
    },
    /// Keras Adadelta, with `rms(x) = sqrt(x + eps)`: `acc_g = rho * acc_g + (1 - rho) * g^2`,
    /// `delta = -rms(acc_delta) * g / rms(acc_g)`,
    /// `acc_delta = rho * acc_delta + (1 - rho) * delta^2`, `w += lr * delta`.
    Adadelta {
        learning_rate: f64,
        rho: f64,
        epsilon: f64,
    },
    Adam(AdamStep),
    Nadam(NadamStep),
}

impl UpdateRule {
    /// The rule's name, for errors.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            UpdateRule::Sgd { .. } => "sgd",
            UpdateRule::RmsProp { .. } => "rmsprop",
            UpdateRule::Adagrad { .. } => "adagrad",
            UpdateRule::Adadelta { .. } => "adadelta",
            UpdateRule::Adam(_) => "adam",
            UpdateRule::Nadam(_) => "nadam",
        }
    }

    /// Keras's names of the state slots this step updates, in the order a backend takes them.
    pub(crate) fn slots(&self) -> &'static [&'static str] {
        match *self {
            UpdateRule::Sgd { momentum, .. } if momentum != 0.0 => &["momentum"],
            UpdateRule::Sgd { .. } => &[],
            UpdateRule::RmsProp { momentum, centered, .. } => match (momentum > 0.0, centered) {
                (false, false) => &["velocity"],
                (true, false) => &["velocity", "momentum"],
                (false, true) => &["velocity", "average_gradient"],
                (true, true) => &["velocity", "momentum", "average_gradient"],
            },
            UpdateRule::Adagrad { .. } => &["accumulator"],
            UpdateRule::Adadelta { .. } => &["accumulated_grad", "accumulated_delta_var"],
            UpdateRule::Adam(s) if s.amsgrad => &["momentum", "velocity", "velocity_hat"],
            UpdateRule::Adam(_) | UpdateRule::Nadam(_) => &["momentum", "velocity"],
        }
    }
}

/// What the Adam kernel sees at step `t`: the bias corrections are folded into `alpha`.
/// `m += (g - m) * (1 - beta_1)`, `v += (g^2 - v) * (1 - beta_2)`,
/// `w -= m * alpha / (sqrt(v) + eps)`; with `amsgrad`, `v_hat = max(v_hat, v)` (NaN if either
/// is) takes `v`'s place in the last step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct AdamStep {
    /// `learning_rate * sqrt(1 - beta_2^t) / (1 - beta_1^t)`.
    pub(crate) alpha: f64,
    pub(crate) beta_1: f64,
    pub(crate) beta_2: f64,
    pub(crate) epsilon: f64,
    pub(crate) amsgrad: bool,
}

/// What the Nadam kernel sees at step `t`: Keras's momentum schedule
/// `u_t = beta_1 * (1 - 0.5 * 0.96^t)` and its running product. The moments as in Adam, then
/// `m_hat = u_{t+1} * m / (1 - u_product_{t+1}) + (1 - u_t) * g / (1 - u_product_t)`,
/// `v_hat = v / (1 - beta_2^t)`, `w -= m_hat * lr / (sqrt(v_hat) + eps)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct NadamStep {
    pub(crate) learning_rate: f64,
    pub(crate) beta_1: f64,
    pub(crate) beta_2: f64,
    pub(crate) epsilon: f64,
    /// `u_t`.
    pub(crate) u: f64,
    /// `u_{t+1}`.
    pub(crate) u_next: f64,
    /// `u_1 * ... * u_t`.
    pub(crate) u_product: f64,
    /// `u_1 * ... * u_{t+1}`.
    pub(crate) u_product_next: f64,
    /// `beta_2^t`.
    pub(crate) beta_2_power: f64,
}
