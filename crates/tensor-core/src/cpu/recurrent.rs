//! Fused recurrent cell steps, LSTM's and GRU's, and their backward rules: the gate arithmetic
//! of one timestep, element by element, after the products that feed it.

use super::unary::{activate_one, activation_derivative_times};
use crate::Element;
use crate::backend::RecurrentCell;

/// One LSTM step from the gates' pre-activations `gates` (rows, 4 * units; i, f, c, o) and the
/// previous cell state `c_prev` (rows, units): `[h | c]` (rows, 2 * units) with
/// `c = f * c_prev + i * activation(c̃)` and `h = o * activation(c)`.
pub(crate) fn lstm_cell<T: Element>(cell: RecurrentCell, gates: &[T], c_prev: &[T]) -> Vec<T> {
    let RecurrentCell { rows, units, activation, recurrent_activation, .. } = cell;
    let mut out = vec![T::zero(); rows * 2 * units];
    for r in 0..rows {
        let z = &gates[r * 4 * units..(r + 1) * 4 * units];
        for u in 0..units {
            let gate = |k: usize| activate_one(recurrent_activation, z[k * units + u]);
            let (i, f, o) = (gate(0), gate(1), gate(3));
            let candidate = activate_one(activation, z[2 * units + u]);
            let c = f * c_prev[r * units + u] + i * candidate;
            out[r * 2 * units + u] = o * activate_one(activation, c);
            out[r * 2 * units + units + u] = c;
        }
    }
    out
}

/// The gradients of [`lstm_cell`] with respect to `gates` and `c_prev`, given the gradient
/// `grad` of its output `out` (both `[h | c]`). The gates are recomputed from their
/// pre-activations rather than saved.
pub(crate) fn lstm_cell_backward<T: Element>(
    cell: RecurrentCell,
    gates: &[T],
    c_prev: &[T],
    out: &[T],
    grad: &[T],
) -> (Vec<T>, Vec<T>) {
    let RecurrentCell { rows, units, activation, recurrent_activation, .. } = cell;
    let mut d_gates = vec![T::zero(); rows * 4 * units];
    let mut d_c_prev = vec![T::zero(); rows * units];
    for r in 0..rows {
        let z = &gates[r * 4 * units..(r + 1) * 4 * units];
        for u in 0..units {
            let gate = |k: usize| activate_one(recurrent_activation, z[k * units + u]);
            let (i, f, o) = (gate(0), gate(1), gate(3));
            let candidate = activate_one(activation, z[2 * units + u]);
            let c = out[r * 2 * units + units + u];
            let (dh, dc_out) = (grad[r * 2 * units + u], grad[r * 2 * units + units + u]);
            let activated = activate_one(activation, c);
            // h = o * activation(c) reaches c too.
            let dc = dc_out + activation_derivative_times(activation, activated, dh * o);
            let d = &mut d_gates[r * 4 * units..(r + 1) * 4 * units];
            d[u] = activation_derivative_times(recurrent_activation, i, dc * candidate);
            d[units + u] = activation_derivative_times(recurrent_activation, f, dc * c_prev[r * units + u]);
            d[2 * units + u] = activation_derivative_times(activation, candidate, dc * i);
            d[3 * units + u] = activation_derivative_times(recurrent_activation, o, dh * activated);
            d_c_prev[r * units + u] = dc * f;
        }
    }
    (d_gates, d_c_prev)
}

/// The reset gate's scale of the state's candidate projection: the gate `r` itself with
/// `reset_after`, else 1 (the caller applied it before the projection).
fn reset_scale<T: Element>(cell: RecurrentCell, pre_activation: T) -> T {
    if cell.reset_after { activate_one(cell.recurrent_activation, pre_activation) } else { T::one() }
}

/// One GRU step: from the input's projections `x` (rows, 3 * units; z, r, h), the previous
/// state's `inner` (the same layout) and the previous state `h_prev` (rows, units),
/// `h = z * h_prev + (1 - z) * activation(x_h + s * inner_h)` with
/// `z = recurrent_activation(x_z + inner_z)` and `s` = [`reset_scale`].
pub(crate) fn gru_cell<T: Element>(cell: RecurrentCell, x: &[T], inner: &[T], h_prev: &[T]) -> Vec<T> {
    let RecurrentCell { rows, units, activation, recurrent_activation, .. } = cell;
    let mut out = vec![T::zero(); rows * units];
    for r in 0..rows {
        let (xr, ir) = (&x[r * 3 * units..(r + 1) * 3 * units], &inner[r * 3 * units..(r + 1) * 3 * units]);
        for u in 0..units {
            let z = activate_one(recurrent_activation, xr[u] + ir[u]);
            let scale = reset_scale(cell, xr[units + u] + ir[units + u]);
            let candidate = activate_one(activation, xr[2 * units + u] + scale * ir[2 * units + u]);
            let h_prev = h_prev[r * units + u];
            out[r * units + u] = z * h_prev + (T::one() - z) * candidate;
        }
    }
    out
}

/// The gradients of [`gru_cell`] with respect to `x`, `inner` and `h_prev`, given the gradient
/// `grad` of its output. The gates are recomputed from the operands rather than saved; without
/// `reset_after` the reset gate is not the cell's, and its columns get no gradient.
pub(crate) fn gru_cell_backward<T: Element>(
    cell: RecurrentCell,
    x: &[T],
    inner: &[T],
    h_prev: &[T],
    grad: &[T],
) -> (Vec<T>, Vec<T>, Vec<T>) {
    let RecurrentCell { rows, units, activation, recurrent_activation, reset_after } = cell;
    let mut d_x = vec![T::zero(); rows * 3 * units];
    let mut d_inner = vec![T::zero(); rows * 3 * units];
    let mut d_h_prev = vec![T::zero(); rows * units];
    for r in 0..rows {
        let row = r * 3 * units..(r + 1) * 3 * units;
        let (xr, ir) = (&x[row.clone()], &inner[row.clone()]);
        for u in 0..units {
            let z = activate_one(recurrent_activation, xr[u] + ir[u]);
            let scale = reset_scale(cell, xr[units + u] + ir[units + u]);
            let candidate = activate_one(activation, xr[2 * units + u] + scale * ir[2 * units + u]);
            let (g, h_prev) = (grad[r * units + u], h_prev[r * units + u]);
            let d_candidate = activation_derivative_times(activation, candidate, g * (T::one() - z));
            let d_z = activation_derivative_times(recurrent_activation, z, g * (h_prev - candidate));
            let d_reset = if reset_after {
                activation_derivative_times(recurrent_activation, scale, d_candidate * ir[2 * units + u])
            } else {
                T::zero()
            };
            let (dx, di) = (&mut d_x[row.clone()], &mut d_inner[row.clone()]);
            dx[u] = d_z;
            di[u] = d_z;
            dx[units + u] = d_reset;
            di[units + u] = d_reset;
            dx[2 * units + u] = d_candidate;
            di[2 * units + u] = d_candidate * scale;
            d_h_prev[r * units + u] = g * z;
        }
    }
    (d_x, d_inner, d_h_prev)
}
