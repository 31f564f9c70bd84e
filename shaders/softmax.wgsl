// Softmax and log-softmax along one axis of a tensor seen as (outer, len, inner): each of the
// outer * inner lanes holds `len` elements `inner` apart. Stable for inputs of any magnitude:
// every lane is shifted by its maximum before exponentiating, as on the CPU.
//
// Two ways to walk a lane, chosen by the host:
// - `softmax_rows` (inner == 1, the last axis): a lane is one contiguous row. A workgroup per row
//   reads it with neighbouring invocations on neighbouring elements and reduces the max and the
//   sum in workgroup memory, so a long row (a large vocabulary) is not one invocation's loop;
//   a short row (ten classes) only idles some invocations of a small dispatch.
// - `softmax_lanes` (inner > 1): neighbouring lanes are neighbouring elements in memory, so one
//   invocation per lane keeps every load of a workgroup contiguous, with no reduction at all.
// Large tensors are processed in blocks of outer positions; `offset` locates the block's first
// element in both bindings (a block starts at the nearest aligned offset below it).
//
// A lane too long for one invocation's loops (see MAX_LOOP_ITERATIONS on the host) takes two
// passes over segments [begin, end) of every lane, a dispatch per segment: `*_stats` merges
// each segment's maximum and shifted sum into the lane's running (m, s) in `running`, then
// `*_write` writes each segment's outputs from the final (m, s).

struct SoftmaxParams {
    outer: u32,
    len: u32,
    inner: u32,
    offset: u32,
    // 1 for log-softmax.
    log: u32,
    begin: u32,
    end: u32,
    _pad0: u32,
}

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
// *_stats: each lane's (maximum, sum of exp(x - maximum)) over the segments so far.
@group(0) @binding(2) var<storage, read_write> running: array<vec2f>;
// *_write: each lane's final (maximum, shifted sum).
@group(0) @binding(3) var<storage, read> stats: array<vec2f>;

const REDUCE_THREADS: u32 = 64u;
const LANE_THREADS: u32 = 256u;
// The most negative finite f32: the identity of max (WGSL has no infinity literal).
const LOWEST: f32 = -3.4028235e38;

// The output for input `v` of a lane with maximum `m` and shifted sum `s` (the CPU's formulas).
fn finish(v: f32, m: f32, s: f32) -> f32 {
    if p.log == 1u {
        return v - m - log(s);
    }
    return exp(v - m) / s;
}

// Two lanes' (m, s) as one: the larger maximum, each sum rescaled to it.
fn merge(a: vec2f, b: vec2f) -> vec2f {
    let m = max(a.x, b.x);
    return vec2f(m, a.y * exp(a.x - m) + b.y * exp(b.x - m));
}

// Stores segment statistics `segment` of lane `lane_id`, merged with the earlier segments'.
fn keep_running(lane_id: u32, segment: vec2f) {
    var total = segment;
    if p.begin > 0u {
        total = merge(running[lane_id], segment);
    }
    running[lane_id] = total;
}

// The (maximum, sum of exp(x - maximum)) of row elements [begin, end) at `base`, for every
// invocation of the workgroup (called from uniform control flow).
fn row_stats(lane: u32, base: u32, begin: u32, end: u32) -> vec2f {
    var m = LOWEST;
    for (var j = begin + lane; j < end; j += REDUCE_THREADS) {
        m = max(m, x[base + j]);
    }
    m = workgroup_reduce(lane, vec4f(m), true).x;
    var s = 0.0;
    for (var j = begin + lane; j < end; j += REDUCE_THREADS) {
        s += exp(x[base + j] - m);
    }
    return vec2f(m, workgroup_reduce(lane, vec4f(s), false).x);
}

// Writes row elements [begin, end) at `base` from the row's (maximum, shifted sum).
fn write_row(lane: u32, base: u32, begin: u32, end: u32, total: vec2f) {
    for (var j = begin + lane; j < end; j += REDUCE_THREADS) {
        y[base + j] = finish(x[base + j], total.x, total.y);
    }
}

// The first element of lane `t`, which has `inner` elements between consecutive ones.
fn lane_base(t: u32) -> u32 {
    return p.offset + (t / p.inner) * p.len * p.inner + t % p.inner;
}

// The (maximum, sum of exp(x - maximum)) of lane elements [begin, end) at `base`.
fn lane_stats(base: u32, begin: u32, end: u32) -> vec2f {
    var m = LOWEST;
    for (var j = begin; j < end; j++) {
        m = max(m, x[base + j * p.inner]);
    }
    var s = 0.0;
    for (var j = begin; j < end; j++) {
        s += exp(x[base + j * p.inner] - m);
    }
    return vec2f(m, s);
}

// Writes lane elements [begin, end) at `base` from the lane's (maximum, shifted sum).
fn write_lane(base: u32, begin: u32, end: u32, total: vec2f) {
    for (var j = begin; j < end; j++) {
        let k = base + j * p.inner;
        y[k] = finish(x[k], total.x, total.y);
    }
}

@compute @workgroup_size(64)
fn softmax_rows(
    @builtin(workgroup_id) group: vec3u,
    @builtin(num_workgroups) groups: vec3u,
    @builtin(local_invocation_index) lane: u32,
) {
    // The same for every invocation of the workgroup, so the barriers stay uniform.
    let row = group.x + group.y * groups.x;
    if row >= p.outer {
        return;
    }
    let base = p.offset + row * p.len;
    write_row(lane, base, 0u, p.len, row_stats(lane, base, 0u, p.len));
}

@compute @workgroup_size(256)
fn softmax_lanes(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let t = linear_index(id, groups, LANE_THREADS);
    if t >= p.outer * p.inner {
        return;
    }
    let base = lane_base(t);
    write_lane(base, 0u, p.len, lane_stats(base, 0u, p.len));
}

@compute @workgroup_size(64)
fn softmax_rows_stats(
    @builtin(workgroup_id) group: vec3u,
    @builtin(num_workgroups) groups: vec3u,
    @builtin(local_invocation_index) lane: u32,
) {
    let row = group.x + group.y * groups.x;
    if row >= p.outer {
        return;
    }
    let total = row_stats(lane, p.offset + row * p.len, p.begin, p.end);
    if lane == 0u {
        keep_running(row, total);
    }
}

@compute @workgroup_size(64)
fn softmax_rows_write(
    @builtin(workgroup_id) group: vec3u,
    @builtin(num_workgroups) groups: vec3u,
    @builtin(local_invocation_index) lane: u32,
) {
    let row = group.x + group.y * groups.x;
    if row >= p.outer {
        return;
    }
    write_row(lane, p.offset + row * p.len, p.begin, p.end, stats[row]);
}

@compute @workgroup_size(256)
fn softmax_lanes_stats(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let t = linear_index(id, groups, LANE_THREADS);
    if t >= p.outer * p.inner {
        return;
    }
    keep_running(t, lane_stats(lane_base(t), p.begin, p.end));
}

@compute @workgroup_size(256)
fn softmax_lanes_write(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let t = linear_index(id, groups, LANE_THREADS);
    if t >= p.outer * p.inner {
        return;
    }
    write_lane(lane_base(t), p.begin, p.end, stats[t]);
}
