//! The gate arithmetic of one LSTM or GRU timestep as a single op each, forward and backward:
//! a recurrent layer runs its products (the inputs' for every timestep at once, the state's
//! once per step) and then one of these per step, instead of a dozen small elementwise ops.

use crate::autodiff::{Backward, record};
use crate::backend::{Activation, RecurrentCell};
use crate::{Error, Result, Shape, Tensor};

/// The cell of `rows` rows of `units` units that operands of shapes (rows, `gates` * units) and
/// `state` (rows, units) describe, or an error naming `op` and both shapes.
fn cell_of(
    op: &'static str,
    gates: (&Tensor, usize),
    state: &Tensor,
    activation: Activation,
    recurrent_activation: Activation,
) -> Result<RecurrentCell> {
    let (projected, count) = gates;
    activation.check(op)?;
    recurrent_activation.check(op)?;
    projected.same_kind(op, state)?;
    match (projected.dims(), state.dims()) {
        (&[rows, width], &[state_rows, units]) if rows == state_rows && width == count * units => {
            Ok(RecurrentCell { rows, units, activation, recurrent_activation, reset_after: false })
        }
        _ => Err(Error::shape(
            op,
            format!(
                "expected gates of shape (rows, {count} * units) and a state of shape (rows, units), got {} \
                 and {}",
                projected.shape(),
                state.shape()
            ),
        )),
    }
}

impl Tensor {
    /// One LSTM step as Keras computes it: `self` holds the gates' pre-activations
    /// `x·W + h·U + b` (rows, 4 * units) in the order i, f, c, o; with `i`, `f`, `o` =
    /// `recurrent_activation` of theirs and `c̃ = activation(·)`, the new cell state is
    /// `c = f * c_prev + i * c̃` and the new output `h = o * activation(c)`. Returns `[h | c]`,
    /// (rows, 2 * units): slice it for each.
    pub fn lstm_cell(
        &self,
        c_prev: &Tensor,
        activation: Activation,
        recurrent_activation: Activation,
    ) -> Result<Tensor> {
        let cell = cell_of("lstm_cell", (self, 4), c_prev, activation, recurrent_activation)?;
        let storage = self.storage().lstm_cell(&c_prev.storage(), cell)?;
        let out = Tensor::from_storage(storage, Shape::new([cell.rows, 2 * cell.units]));
        let saved = out.detach();
        record(out, &[self, c_prev], || {
            Box::new(LstmCellBackward { gates: self.detach(), c_prev: c_prev.detach(), out: saved, cell })
        })
    }

    /// One GRU step as Keras computes it: `self` is the input's projection `x·W + b_input` and
    /// `inner` the previous state's projection, both (rows, 3 * units) in the order z, r, h.
    /// With `z` = `recurrent_activation(x_z + inner_z)`, returns `h = z * h_prev + (1 - z) * h̃`,
    /// (rows, units), where with `reset_after` (Keras's default) `inner` is
    /// `h_prev·U + b_recurrent`, `r = recurrent_activation(x_r + inner_r)` and
    /// `h̃ = activation(x_h + r * inner_h)`; without it the caller has already applied the reset
    /// gate, `inner_h = (r * h_prev)·U_h`, so `h̃ = activation(x_h + inner_h)` and the r columns
    /// are not read (their gradient is zero).
    pub fn gru_cell(
        &self,
        inner: &Tensor,
        h_prev: &Tensor,
        activation: Activation,
        recurrent_activation: Activation,
        reset_after: bool,
    ) -> Result<Tensor> {
        let op = "gru_cell";
        let cell = RecurrentCell {
            reset_after,
            ..cell_of(op, (self, 3), h_prev, activation, recurrent_activation)?
        };
        self.same_kind(op, inner)?;
        if inner.shape() != self.shape() {
            return Err(Error::shape(
                op,
                format!("expected the state's projection of shape {}, got {}", self.shape(), inner.shape()),
            ));
        }
        let storage = self.storage().gru_cell(&inner.storage(), &h_prev.storage(), cell)?;
        let out = Tensor::from_storage(storage, h_prev.shape().clone());
        record(out, &[self, inner, h_prev], || {
            Box::new(GruCellBackward {
                x: self.detach(),
                inner: inner.detach(),
                h_prev: h_prev.detach(),
                cell,
            })
        })
    }
}

struct LstmCellBackward {
    gates: Tensor,
    c_prev: Tensor,
    /// `[h | c]`: the backward rule needs the new cell state.
    out: Tensor,
    cell: RecurrentCell,
}

impl Backward for LstmCellBackward {
    fn name(&self) -> &'static str {
        "lstm_cell"
    }

    fn backward(&self, grad: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let (d_gates, d_c_prev) = self.gates.storage().lstm_cell_backward(
            &self.c_prev.storage(),
            &self.out.storage(),
            &grad.storage(),
            self.cell,
        )?;
        Ok(vec![
            Some(Tensor::from_storage(d_gates, self.gates.shape().clone())),
            Some(Tensor::from_storage(d_c_prev, self.c_prev.shape().clone())),
        ])
    }
}

struct GruCellBackward {
    x: Tensor,
    inner: Tensor,
    h_prev: Tensor,
    cell: RecurrentCell,
}

impl Backward for GruCellBackward {
    fn name(&self) -> &'static str {
        "gru_cell"
    }

    fn backward(&self, grad: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let (d_x, d_inner, d_h_prev) = self.x.storage().gru_cell_backward(
            &self.inner.storage(),
            &self.h_prev.storage(),
            &grad.storage(),
            self.cell,
        )?;
        Ok(vec![
            Some(Tensor::from_storage(d_x, self.x.shape().clone())),
            Some(Tensor::from_storage(d_inner, self.inner.shape().clone())),
            Some(Tensor::from_storage(d_h_prev, self.h_prev.shape().clone())),
        ])
    }
}
