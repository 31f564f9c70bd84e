//! Optimizer updates: one fused in-place pass per parameter tensor over the parameter, its
//! gradient and its state slots. Each follows the `update_step` of the Keras 3 optimizer it is
//! named after (keras/src/optimizers/*.py), in the same order of operations. What a kernel sees
//! each step is one small plain struct (the hyper-parameters, or for Adam and Nadam the step's
//! scalars), which a shader's uniform mirrors.

use crate::Element;
use crate::optim::{Adadelta, Adagrad, RmsProp, Sgd};

/// What the Adam kernel sees at step `t`: the bias corrections are folded into `alpha`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct AdamStep {
    /// `learning_rate * sqrt(1 - beta_2^t) / (1 - beta_1^t)`.
    pub(crate) alpha: f64,
    pub(crate) beta_1: f64,
    pub(crate) beta_2: f64,
    pub(crate) epsilon: f64,
}

/// What the Nadam kernel sees at step `t`: Keras's momentum schedule
/// `u_t = beta_1 * (1 - 0.5 * 0.96^t)` and its running product.
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

/// `w -= lr * g` (Keras SGD with momentum 0).
pub(crate) fn sgd<T: Element>(h: &Sgd, param: &mut [T], grad: &[T]) {
    let lr = T::of(h.learning_rate);
    for (w, &g) in param.iter_mut().zip(grad) {
        *w = *w - g * lr;
    }
}

/// Keras SGD with momentum: `m = momentum * m - lr * g`, then `w += m`, or with Nesterov
/// `w += momentum * m - lr * g`.
pub(crate) fn sgd_momentum<T: Element>(h: &Sgd, param: &mut [T], grad: &[T], momentums: &mut [T]) {
    let (lr, momentum) = (T::of(h.learning_rate), T::of(h.momentum));
    for ((w, &g), m) in param.iter_mut().zip(grad).zip(momentums) {
        *m = *m * momentum - g * lr;
        *w = *w + if h.nesterov { *m * momentum - g * lr } else { *m };
    }
}

/// Keras RMSprop: `v = rho * v + (1 - rho) * g^2`; centered, also `a = rho * a + (1 - rho) * g`
/// and the denominator `v - a^2 + eps`, else `v + eps` (epsilon inside the root);
/// `increment = lr * g / sqrt(denominator)`; with momentum `m = momentum * m + increment` and
/// `w -= m`, else `w -= increment`. Momentum and centering are on when their slots are given.
pub(crate) fn rmsprop<T: Element>(
    h: &RmsProp,
    param: &mut [T],
    grad: &[T],
    velocities: &mut [T],
    mut momentums: Option<&mut [T]>,
    mut average_gradients: Option<&mut [T]>,
) {
    let (lr, rho, momentum, epsilon) =
        (T::of(h.learning_rate), T::of(h.rho), T::of(h.momentum), T::of(h.epsilon));
    let one_minus_rho = T::of(1.0 - h.rho);
    for (i, (w, &g)) in param.iter_mut().zip(grad).enumerate() {
        let v = &mut velocities[i];
        *v = rho * *v + one_minus_rho * g * g;
        let denominator = match average_gradients.as_deref_mut() {
            Some(averages) => {
                let a = &mut averages[i];
                *a = rho * *a + one_minus_rho * g;
                *v - *a * *a + epsilon
            }
            None => *v + epsilon,
        };
        let increment = lr * g / denominator.sqrt();
        *w = *w
            - match momentums.as_deref_mut() {
                Some(momentums) => {
                    let m = &mut momentums[i];
                    *m = momentum * *m + increment;
                    *m
                }
                None => increment,
            };
    }
}

/// Keras Adagrad: `acc += g^2`, `w -= lr * g / sqrt(acc + eps)`.
pub(crate) fn adagrad<T: Element>(h: &Adagrad, param: &mut [T], grad: &[T], accumulators: &mut [T]) {
    let (lr, epsilon) = (T::of(h.learning_rate), T::of(h.epsilon));
    for ((w, &g), acc) in param.iter_mut().zip(grad).zip(accumulators) {
        *acc = *acc + g * g;
        *w = *w - lr * g / (*acc + epsilon).sqrt();
    }
}

/// Keras Adadelta, with `rms(x) = sqrt(x + eps)`: `acc_g = rho * acc_g + (1 - rho) * g^2`,
/// `delta = -rms(acc_delta) * g / rms(acc_g)`, `acc_delta = rho * acc_delta + (1 - rho) * delta^2`,
/// `w += lr * delta`.
pub(crate) fn adadelta<T: Element>(
    h: &Adadelta,
    param: &mut [T],
    grad: &[T],
    accumulated_grads: &mut [T],
    accumulated_deltas: &mut [T],
) {
    let (lr, rho, epsilon) = (T::of(h.learning_rate), T::of(h.rho), T::of(h.epsilon));
    let one_minus_rho = T::of(1.0 - h.rho);
    for (((w, &g), acc_g), acc_delta) in
        param.iter_mut().zip(grad).zip(accumulated_grads).zip(accumulated_deltas)
    {
        *acc_g = rho * *acc_g + one_minus_rho * g * g;
        let delta = -((*acc_delta + epsilon).sqrt() * g / (*acc_g + epsilon).sqrt());
        *acc_delta = rho * *acc_delta + one_minus_rho * delta * delta;
        *w = *w + lr * delta;
    }
}

/// Keras Adam (without amsgrad): `m += (g - m) * (1 - beta_1)`, `v += (g^2 - v) * (1 - beta_2)`,
/// `w -= m * alpha / (sqrt(v) + eps)`.
pub(crate) fn adam<T: Element>(
    s: &AdamStep,
    param: &mut [T],
    grad: &[T],
    momentums: &mut [T],
    velocities: &mut [T],
) {
    let (alpha, epsilon) = (T::of(s.alpha), T::of(s.epsilon));
    let (one_minus_beta_1, one_minus_beta_2) = (T::of(1.0 - s.beta_1), T::of(1.0 - s.beta_2));
    for (((w, &g), m), v) in param.iter_mut().zip(grad).zip(momentums).zip(velocities) {
        *m = *m + (g - *m) * one_minus_beta_1;
        *v = *v + (g * g - *v) * one_minus_beta_2;
        *w = *w - *m * alpha / (v.sqrt() + epsilon);
    }
}

/// Keras Nadam: the moments as in Adam, then
/// `m_hat = u_{t+1} * m / (1 - u_product_{t+1}) + (1 - u_t) * g / (1 - u_product_t)`,
/// `v_hat = v / (1 - beta_2^t)`, `w -= m_hat * lr / (sqrt(v_hat) + eps)`.
pub(crate) fn nadam<T: Element>(
    s: &NadamStep,
    param: &mut [T],
    grad: &[T],
    momentums: &mut [T],
    velocities: &mut [T],
) {
    let (lr, epsilon) = (T::of(s.learning_rate), T::of(s.epsilon));
    let (one_minus_beta_1, one_minus_beta_2) = (T::of(1.0 - s.beta_1), T::of(1.0 - s.beta_2));
    let (u, u_next) = (T::of(s.u), T::of(s.u_next));
    let (one_minus_u_product, one_minus_u_product_next) =
        (T::of(1.0 - s.u_product), T::of(1.0 - s.u_product_next));
    let one_minus_beta_2_power = T::of(1.0 - s.beta_2_power);
    for (((w, &g), m), v) in param.iter_mut().zip(grad).zip(momentums).zip(velocities) {
        *m = *m + (g - *m) * one_minus_beta_1;
        *v = *v + (g * g - *v) * one_minus_beta_2;
        let m_hat = u_next * *m / one_minus_u_product_next + (T::one() - u) * g / one_minus_u_product;
        let v_hat = *v / one_minus_beta_2_power;
        *w = *w - m_hat * lr / (v_hat.sqrt() + epsilon);
    }
}
