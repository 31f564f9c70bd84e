//! Launcher for `shaders/recurrent.wgsl`: LSTM's and GRU's cell steps and their backward rules,
//! an invocation per (row, unit), rows bound in blocks that fit the adapter's bindings.

use super::{WORKGROUP, for_each_row_block, index};
use crate::Result;
use crate::backend::{Activation, RecurrentCell};
use crate::gpu::kernel::{ACTIVATION, ACTIVATION_CODES, INDEX, KernelSpec, kernel, kernel_params};
use crate::gpu::storage::GpuStorage;

kernel_params! {
    struct CellParams {
        rows: u32,
        units: u32,
        alpha: f32,
        recurrent_alpha: f32,
        o0: u32,
        o1: u32,
        o2: u32,
        o3: u32,
        o4: u32,
        o5: u32,
        o6: u32,
        reset_after: u32,
    }
}

kernel!(
    LSTM = "recurrent.wgsl",
    "lstm_cell",
    CellParams,
    [Read, Read, ReadWrite],
    [INDEX, ACTIVATION, ACTIVATION_CODES]
);
kernel!(
    LSTM_BACKWARD = "recurrent.wgsl",
    "lstm_cell_backward",
    CellParams,
    [Read, Read, Read, Read, ReadWrite, ReadWrite],
    [INDEX, ACTIVATION, ACTIVATION_CODES]
);
kernel!(
    GRU = "recurrent.wgsl",
    "gru_cell",
    CellParams,
    [Read, Read, Read, ReadWrite],
    [INDEX, ACTIVATION, ACTIVATION_CODES]
);
kernel!(
    GRU_BACKWARD = "recurrent.wgsl",
    "gru_cell_backward",
    CellParams,
    [Read, Read, Read, Read, ReadWrite, ReadWrite, ReadWrite],
    [INDEX, ACTIVATION, ACTIVATION_CODES]
);

#[cfg(test)]
pub(crate) static KERNELS: &[&crate::gpu::kernel::Kernel] =
    &[&LSTM.kernel, &LSTM_BACKWARD.kernel, &GRU.kernel, &GRU_BACKWARD.kernel];

/// Runs `spec` over `cell`'s rows, binding each operand's rows of `widths[k]` units (in units
/// of `cell.units`) in blocks small enough for every binding to fit.
fn run(
    spec: &'static KernelSpec<CellParams>,
    name: &'static str,
    cell: RecurrentCell,
    operands: &[&GpuStorage],
    widths: &[usize],
) -> Result<()> {
    let device = &operands[0].device;
    let ctx = &device.ctx;
    let code = |a: Activation| f64::from(a.code().0.code());
    let constants =
        [("ACTIVATION", code(cell.activation)), ("RECURRENT_ACTIVATION", code(cell.recurrent_activation))];
    let widest = widths.iter().copied().max().unwrap_or(1) * cell.units;
    for_each_row_block(device, name, cell.rows, widest, |first, rows| {
        let mut offsets = [0u32; 7];
        let mut bindings = Vec::with_capacity(operands.len());
        for ((operand, &width), offset) in operands.iter().zip(widths).zip(&mut offsets) {
            let row = width * cell.units;
            let (binding, skew) = operand.window(first * row, rows * row);
            *offset = index(name, skew)?;
            bindings.push(binding);
        }
        let [o0, o1, o2, o3, o4, o5, o6] = offsets;
        let params = CellParams {
            rows: index(name, rows)?,
            units: index(name, cell.units)?,
            alpha: cell.activation.code().1 as f32,
            recurrent_alpha: cell.recurrent_activation.code().1 as f32,
            o0,
            o1,
            o2,
            o3,
            o4,
            o5,
            o6,
            reset_after: u32::from(cell.reset_after),
        };
        ctx.dispatch(spec, &constants, &params, &bindings, ctx.linear_groups(rows * cell.units, WORKGROUP))
    })
}

/// The new `[h | c]` (rows, 2 * units) of an LSTM step.
pub(crate) fn lstm_cell(cell: RecurrentCell, gates: &GpuStorage, c_prev: &GpuStorage) -> Result<GpuStorage> {
    let out = GpuStorage::empty(&gates.device, cell.rows * 2 * cell.units)?;
    run(&LSTM, "lstm_cell", cell, &[gates, c_prev, &out], &[4, 1, 2])?;
    Ok(out)
}

/// The gradients of an LSTM step with respect to its gates and previous cell state.
pub(crate) fn lstm_cell_backward(
    cell: RecurrentCell,
    gates: &GpuStorage,
    c_prev: &GpuStorage,
    out: &GpuStorage,
    grad: &GpuStorage,
) -> Result<(GpuStorage, GpuStorage)> {
    let device = &gates.device;
    let d_gates = GpuStorage::empty(device, cell.rows * 4 * cell.units)?;
    let d_c_prev = GpuStorage::empty(device, cell.rows * cell.units)?;
    run(
        &LSTM_BACKWARD,
        "lstm_cell",
        cell,
        &[gates, c_prev, out, grad, &d_gates, &d_c_prev],
        &[4, 1, 2, 2, 4, 1],
    )?;
    Ok((d_gates, d_c_prev))
}

/// The new state of a GRU step.
pub(crate) fn gru_cell(
    cell: RecurrentCell,
    x: &GpuStorage,
    inner: &GpuStorage,
    h_prev: &GpuStorage,
) -> Result<GpuStorage> {
    let out = GpuStorage::empty(&x.device, cell.rows * cell.units)?;
    run(&GRU, "gru_cell", cell, &[x, inner, h_prev, &out], &[3, 3, 1, 1])?;
    Ok(out)
}

/// The gradients of a GRU step with respect to the input's and the state's projections and the
/// previous state.
pub(crate) fn gru_cell_backward(
    cell: RecurrentCell,
    x: &GpuStorage,
    inner: &GpuStorage,
    h_prev: &GpuStorage,
    grad: &GpuStorage,
) -> Result<(GpuStorage, GpuStorage, GpuStorage)> {
    let device = &x.device;
    let d_x = GpuStorage::empty(device, cell.rows * 3 * cell.units)?;
    let d_inner = GpuStorage::empty(device, cell.rows * 3 * cell.units)?;
    let d_h_prev = GpuStorage::empty(device, cell.rows * cell.units)?;
    run(
        &GRU_BACKWARD,
        "gru_cell",
        cell,
        &[x, inner, h_prev, grad, &d_x, &d_inner, &d_h_prev],
        &[3, 3, 1, 1, 3, 3, 1],
    )?;
    Ok((d_x, d_inner, d_h_prev))
}
