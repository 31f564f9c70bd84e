//! Optimizer updates: one in-place pass over a parameter, its gradient and its state slots. Each
//! follows the `update_step` of the Keras 3 optimizer it is named after
//! (keras/src/optimizers/*.py), in the same order of operations, as the GPU kernels do.

use crate::backend::UpdateRule;
use crate::{Element, Error, Result};

/// One step of `rule` on `param`, with the slots [`UpdateRule::slots`] names, in that order.
/// A state with other slots than the rule's is an error (the optimizer makes states to match).
pub(crate) fn update<T: Element>(
    rule: &UpdateRule,
    param: &mut [T],
    grad: &[T],
    slots: &mut [&mut [T]],
) -> Result<()> {
    if slots.len() != rule.slots().len() {
        return Err(Error::argument(
            rule.name(),
            format!("expected the slots {:?}, got {} slots", rule.slots(), slots.len()),
        ));
    }
    let t = |v: f64| T::of(v);
    match (*rule, slots) {
        (UpdateRule::Sgd { learning_rate, .. }, []) => {
            let lr = t(learning_rate);
            for (w, &g) in param.iter_mut().zip(grad) {
                *w = *w - g * lr;
            }
        }
        (UpdateRule::Sgd { learning_rate, momentum, nesterov }, [momentums]) => {
            let (lr, momentum) = (t(learning_rate), t(momentum));
            for ((w, &g), m) in param.iter_mut().zip(grad).zip(momentums.iter_mut()) {
                *m = *m * momentum - g * lr;
                *w = *w + if nesterov { *m * momentum - g * lr } else { *m };
            }
        }
        (UpdateRule::RmsProp { learning_rate, rho, momentum, centered, epsilon }, slots) => {
            let (lr, rho_t, momentum_t, epsilon) = (t(learning_rate), t(rho), t(momentum), t(epsilon));
            let one_minus_rho = t(1.0 - rho);
            let (velocities, mut momentums, mut averages) = match (momentum > 0.0, centered, slots) {
                (true, true, [v, m, a]) => (v, Some(m), Some(a)),
                (true, false, [v, m]) => (v, Some(m), None),
                (false, true, [v, a]) => (v, None, Some(a)),
                (_, _, [v, ..]) => (v, None, None),
                (_, _, []) => return Ok(()),
            };
            for (i, (w, &g)) in param.iter_mut().zip(grad).enumerate() {
                let v = &mut velocities[i];
                *v = rho_t * *v + one_minus_rho * g * g;
                let denominator = match averages.as_deref_mut() {
                    Some(averages) => {
                        let a = &mut averages[i];
                        *a = rho_t * *a + one_minus_rho * g;
                        *v - *a * *a + epsilon
                    }
                    None => *v + epsilon,
                };
                let increment = lr * g / denominator.sqrt();
                *w = *w
                    - match momentums.as_deref_mut() {
                        Some(momentums) => {
                            let m = &mut momentums[i];
                            *m = momentum_t * *m + increment;
                            *m
                        }
                        None => increment,
                    };
            }
        }
        (UpdateRule::Adagrad { learning_rate, epsilon }, [accumulators]) => {
            let (lr, epsilon) = (t(learning_rate), t(epsilon));
            for ((w, &g), acc) in param.iter_mut().zip(grad).zip(accumulators.iter_mut()) {
                *acc = *acc + g * g;
                *w = *w - lr * g / (*acc + epsilon).sqrt();
            }
        }
        (UpdateRule::Adadelta { learning_rate, rho, epsilon }, [accumulated_grads, accumulated_deltas]) => {
            let (lr, rho_t, epsilon) = (t(learning_rate), t(rho), t(epsilon));
            let one_minus_rho = t(1.0 - rho);
            for (((w, &g), acc_g), acc_delta) in param
                .iter_mut()
                .zip(grad)
                .zip(accumulated_grads.iter_mut())
                .zip(accumulated_deltas.iter_mut())
            {
                *acc_g = rho_t * *acc_g + one_minus_rho * g * g;
                let delta = -((*acc_delta + epsilon).sqrt() * g / (*acc_g + epsilon).sqrt());
                *acc_delta = rho_t * *acc_delta + one_minus_rho * delta * delta;
                *w = *w + lr * delta;
            }
        }
        (UpdateRule::Adam(s), [momentums, velocities, hats @ ..]) => {
            let (alpha, epsilon) = (t(s.alpha), t(s.epsilon));
            let (one_minus_beta_1, one_minus_beta_2) = (t(1.0 - s.beta_1), t(1.0 - s.beta_2));
            let mut hats = hats.first_mut();
            for (i, (((w, &g), m), v)) in
                param.iter_mut().zip(grad).zip(momentums.iter_mut()).zip(velocities.iter_mut()).enumerate()
            {
                *m = *m + (g - *m) * one_minus_beta_1;
                *v = *v + (g * g - *v) * one_minus_beta_2;
                let denominator = match hats.as_deref_mut() {
                    // AMSGrad: the largest velocity so far, NaN if either is, as on the GPU.
                    Some(hats) => {
                        let hat = &mut hats[i];
                        *hat = if hat.is_nan() || v.is_nan() { *hat + *v } else { hat.max(*v) };
                        *hat
                    }
                    None => *v,
                };
                *w = *w - *m * alpha / (denominator.sqrt() + epsilon);
            }
        }
        (UpdateRule::Nadam(s), [momentums, velocities]) => {
            let (lr, epsilon) = (t(s.learning_rate), t(s.epsilon));
            let (one_minus_beta_1, one_minus_beta_2) = (t(1.0 - s.beta_1), t(1.0 - s.beta_2));
            let (u, u_next) = (t(s.u), t(s.u_next));
            let (one_minus_u_product, one_minus_u_product_next) =
                (t(1.0 - s.u_product), t(1.0 - s.u_product_next));
            let one_minus_beta_2_power = t(1.0 - s.beta_2_power);
            for (((w, &g), m), v) in
                param.iter_mut().zip(grad).zip(momentums.iter_mut()).zip(velocities.iter_mut())
            {
                *m = *m + (g - *m) * one_minus_beta_1;
                *v = *v + (g * g - *v) * one_minus_beta_2;
                let m_hat = u_next * *m / one_minus_u_product_next + (T::one() - u) * g / one_minus_u_product;
                let v_hat = *v / one_minus_beta_2_power;
                *w = *w - m_hat * lr / (v_hat.sqrt() + epsilon);
            }
        }
        // The count was checked above; no rule takes another number of slots.
        _ => {}
    }
    Ok(())
}
