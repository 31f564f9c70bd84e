//! Launcher for `shaders/gather_rows.wgsl`: gathering rows, and scatter-adding them written as a
//! gather over the rows some index names.

use super::{DATA_LOOP_ITERATIONS, WORKGROUP, fill, for_each_row_block, index, segments};
use crate::Result;
use crate::gpu::context::Binding;
use crate::gpu::kernel::{INDEX, KernelSpec, kernel, kernel_params};
use crate::gpu::storage::GpuStorage;

kernel_params! {
    struct GatherParams {
        rows: u32,
        row_len: u32,
        first_row: u32,
        out_offset: u32,
        first_source: u32,
        source_rows: u32,
        source_offset: u32,
        first_out_row: u32,
        offsets_at: u32,
        sources_at: u32,
        skip: u32,
        take: u32,
    }
}

kernel!(GATHER = "gather_rows.wgsl", "gather_rows", GatherParams, [Read, Read, ReadWrite], [INDEX]);
kernel!(SCATTER_ADD = "gather_rows.wgsl", "scatter_add_rows", GatherParams, [Read, Read, ReadWrite], [INDEX]);

#[cfg(test)]
pub(crate) static KERNELS: &[&crate::gpu::kernel::Kernel] = &[&GATHER.kernel, &SCATTER_ADD.kernel];

/// The rows `indices` of `x` (rows of `row_len` elements), in that order. The indices are
/// uploaded (which submits pending work first); the caller has checked them against the rows.
pub(crate) fn gather_rows(x: &GpuStorage, row_len: usize, indices: &[usize]) -> Result<GpuStorage> {
    let name = "gather_rows";
    let out = GpuStorage::empty(&x.device, indices.len() * row_len)?;
    if out.len == 0 {
        return Ok(out);
    }
    let list: Vec<u32> = indices.iter().map(|&r| index(name, r)).collect::<Result<_>>()?;
    let uploaded = x.device.ctx.upload(bytemuck::cast_slice(&list))?;
    let list = Binding { buffer: &uploaded, offset: 0, size: list.len() as u64 * 4 };
    for_each_row_block(&x.device, name, indices.len(), row_len, |first_row, rows| {
        let (out_block, out_offset) = out.window(first_row * row_len, rows * row_len);
        let params = GatherParams {
            rows: index(name, rows)?,
            row_len: index(name, row_len)?,
            first_row: index(name, first_row)?,
            out_offset: index(name, out_offset)?,
            ..GatherParams::default()
        };
        over_source_windows(&GATHER, name, list, x, out_block, params)
    })?;
    Ok(out)
}

/// A zero tensor of `rows` rows with row `k` of `src` added into row `indices[k]`. The host lists
/// the rows some index names, each with its sources, and each such row sums its own: the scatter
/// becomes a gather over the touched rows only.
pub(crate) fn scatter_add_rows(
    src: &GpuStorage,
    row_len: usize,
    indices: &[usize],
    rows: usize,
) -> Result<GpuStorage> {
    let name = "scatter_add_rows";
    let out = fill::fill(&src.device, rows * row_len, 0.0)?;
    if indices.is_empty() || row_len == 0 {
        return Ok(out);
    }
    // The sources ordered by target row; the sort is stable, so each row's stay ascending.
    let mut sources: Vec<usize> = (0..indices.len()).collect();
    sources.sort_by_key(|&k| indices[k]);
    let (mut touched, mut offsets) = (Vec::new(), Vec::new());
    for (e, &k) in sources.iter().enumerate() {
        if touched.last() != Some(&indices[k]) {
            touched.push(indices[k]);
            offsets.push(e);
        }
    }
    offsets.push(sources.len());
    // Rounds of at most so many sources per touched row, one dispatch (per window) each.
    let most_sources = offsets.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
    let rounds = segments(name, most_sources, DATA_LOOP_ITERATIONS)?;
    // The touched rows, their offsets into the sources, then the sources. Every value fits u32:
    // the rows because the output's element count does (the fill checked it), the offsets and
    // sources because the list's length does.
    let (offsets_at, sources_at) = (touched.len(), touched.len() + offsets.len());
    index(name, sources_at + sources.len())?;
    let list: Vec<u32> = touched.iter().chain(&offsets).chain(&sources).map(|&v| v as u32).collect();
    let uploaded = src.device.ctx.upload(bytemuck::cast_slice(&list))?;
    let list = Binding { buffer: &uploaded, offset: 0, size: list.len() as u64 * 4 };
    for_each_row_block(&src.device, name, rows, row_len, |first_out_row, block_rows| {
        // The touched rows inside this block of the output.
        let first = touched.partition_point(|&r| r < first_out_row);
        let end = touched.partition_point(|&r| r < first_out_row + block_rows);
        if first == end {
            return Ok(());
        }
        let (out_block, out_offset) = out.window(first_out_row * row_len, block_rows * row_len);
        let params = GatherParams {
            rows: index(name, end - first)?,
            row_len: index(name, row_len)?,
            first_row: index(name, first)?,
            out_offset: index(name, out_offset)?,
            first_out_row: index(name, first_out_row)?,
            offsets_at: index(name, offsets_at)?,
            sources_at: index(name, sources_at)?,
            ..GatherParams::default()
        };
        for round in &rounds {
            let params = GatherParams { skip: round.start, take: round.end - round.start, ..params };
            over_source_windows(&SCATTER_ADD, name, list, src, out_block, params)?;
        }
        Ok(())
    })?;
    Ok(out)
}

/// Runs `spec` over `params.rows` rows of output, once per binding-sized window of `source`'s
/// rows; `params` holds everything but the window.
fn over_source_windows(
    spec: &'static KernelSpec<GatherParams>,
    name: &'static str,
    list: Binding<'_>,
    source: &GpuStorage,
    out_block: Binding<'_>,
    params: GatherParams,
) -> Result<()> {
    let ctx = &source.device.ctx;
    let row_len = params.row_len as usize;
    let threads = params.rows as usize * row_len;
    for_each_row_block(&source.device, name, source.len / row_len, row_len, |first, rows| {
        let (source_block, source_offset) = source.window(first * row_len, rows * row_len);
        let params = GatherParams {
            first_source: index(name, first)?,
            source_rows: index(name, rows)?,
            source_offset: index(name, source_offset)?,
            ..params
        };
        ctx.dispatch(
            spec,
            &[],
            &params,
            &[list, source_block, out_block],
            ctx.linear_groups(threads, WORKGROUP),
        )
    })
}
