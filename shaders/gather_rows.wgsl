// Row indexing along axis 0, both directions written as gathers: one invocation per element
// written, no two invocations writing one element, no atomics, deterministic.
// - `gather_rows`: output row r is source row list[first_row + r].
// - `scatter_add_rows`: adds into a zeroed output. Only the rows some index names are touched:
//   the host lists them ascending (`list[u]`), each with its source rows (`list[sources_at + e]`
//   for e in `list[offsets_at + u]..list[offsets_at + u + 1]`, ascending), so each touched row
//   sums its own sources in the CPU's order.
//
// A source larger than one binding is bound a window of rows at a time (`first_source`,
// `source_rows`): each pass handles the source rows inside its window, and `scatter_add_rows`
// adds to what the earlier windows wrote. The output comes in blocks too: `gather_rows` writes
// block rows `first_row..first_row + rows`; `scatter_add_rows` touches `rows` listed rows from
// `first_row` on, all inside the output block that starts at row `first_out_row`.
// `source_offset` and `out_offset` locate each window's first element in its binding.

struct GatherParams {
    rows: u32,
    row_len: u32,
    first_row: u32,
    out_offset: u32,
    first_source: u32,
    source_rows: u32,
    source_offset: u32,
    // scatter_add_rows only.
    first_out_row: u32,
    offsets_at: u32,
    sources_at: u32,
    // scatter_add_rows: each touched row adds its sources skip..skip + take (of its own list),
    // so that a row with more sources than one invocation may loop over (see
    // MAX_LOOP_ITERATIONS on the host) sums them over several dispatches.
    skip: u32,
    take: u32,
}

// gather_rows: a source row per output row; scatter_add_rows: the touched rows, their source
// offsets, then their source rows.
@group(0) @binding(1) var<storage, read> list: array<u32>;
@group(0) @binding(2) var<storage, read> source: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

// Whether source row `k` is in the window bound now.
fn in_window(k: u32) -> bool {
    return k >= p.first_source && k - p.first_source < p.source_rows;
}

// Column `c` of source row `k` (in the window).
fn at(k: u32, c: u32) -> f32 {
    return source[p.source_offset + (k - p.first_source) * p.row_len + c];
}

@compute @workgroup_size(256)
fn gather_rows(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let i = linear_index(id, groups, 256u);
    if i >= p.rows * p.row_len {
        return;
    }
    let k = list[p.first_row + i / p.row_len];
    if in_window(k) {
        out[p.out_offset + i] = at(k, i % p.row_len);
    }
}

@compute @workgroup_size(256)
fn scatter_add_rows(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let i = linear_index(id, groups, 256u);
    if i >= p.rows * p.row_len {
        return;
    }
    let u = p.first_row + i / p.row_len;
    let c = i % p.row_len;
    let k_out = p.out_offset + (list[u] - p.first_out_row) * p.row_len + c;
    var acc = out[k_out];
    let first = list[p.offsets_at + u] + p.skip;
    let end = min(list[p.offsets_at + u + 1u], first + p.take);
    for (var e = first; e < end; e++) {
        let k = list[p.sources_at + e];
        if in_window(k) {
            acc += at(k, c);
        }
    }
    out[k_out] = acc;
}
