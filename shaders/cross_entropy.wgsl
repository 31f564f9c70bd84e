// Softmax cross-entropy straight from (rows, classes) logits, per row, and its gradient with
// respect to the logits, with dense labels (a (rows, classes) distribution: one-hot or soft) or
// sparse ones (one class id per row, stored as f32). A workgroup of 64 per row: class counts
// range from 2 to tens of thousands, and a long row is then reduced in parallel, while a short
// one only idles some invocations of a small dispatch.
//
// With m the row's maximum and s = sum(exp(z - m)), log-sum-exp is m + log(s), and
//   loss  = sum_j y_j * (lse - z_j) = log(s) * sum(y) + sum_j y_j * (m - z_j)
// (both terms are non-negative for non-negative labels: nothing cancels), or lse - z[id];
//   dlogits = (softmax(z) * sum(y) - y) * g, or (softmax(z) - onehot(id)) * g.
// A sparse label that is not an integer in [0, classes) gives NaN for its row (and never an
// out-of-range read): the op validates labels on the host, except where the caller has
// vouched for them so that a training step need not read them back.
//
// Large inputs are processed in blocks of rows; `wide_offset` locates the block's first
// element in the per-class bindings (logits, dense labels, the gradient) and `narrow_offset` in
// the per-row ones (sparse labels, losses, the incoming gradient).
//
// Rows too long for one invocation's loops (see MAX_LOOP_ITERATIONS on the host) are walked in
// segments [begin, end), a dispatch each: `cross_entropy_stats` merges each segment's
// (m, s, sum y, sum y * (m - z)) into the row's running totals, then `cross_entropy_loss_total`
// or `cross_entropy_grad_segment` finishes from the totals.

struct CrossEntropyParams {
    rows: u32,
    classes: u32,
    wide_offset: u32,
    narrow_offset: u32,
    sparse: u32,
    begin: u32,
    end: u32,
    _pad0: u32,
}

@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<f32>;
// `cross_entropy_loss`: one value per row; `cross_entropy_grad`: the gradient with respect to the logits.
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
// `cross_entropy_grad*` only: the gradient of each row's loss.
@group(0) @binding(4) var<storage, read> upstream: array<f32>;
// `cross_entropy_stats`: each row's running (m, s, sum y, sum y * (m - z)).
@group(0) @binding(3) var<storage, read_write> running: array<vec4f>;
// `cross_entropy_loss_total`: each row's final totals.
@group(0) @binding(4) var<storage, read> loss_totals: array<vec4f>;
// `cross_entropy_grad_segment`: each row's final totals.
@group(0) @binding(5) var<storage, read> grad_totals: array<vec4f>;

const REDUCE_THREADS: u32 = 64u;
// The most negative finite f32: the identity of max (WGSL has no infinity literal).
const LOWEST: f32 = -3.4028235e38;

// The maximum logit of classes [begin, end) of the row at `base`.
fn row_max(lane: u32, base: u32, begin: u32, end: u32) -> f32 {
    var m = LOWEST;
    for (var j = begin + lane; j < end; j += REDUCE_THREADS) {
        m = max(m, logits[base + j]);
    }
    return workgroup_reduce(lane, vec4f(m), true).x;
}

// For classes [begin, end) of the row at `base` with maximum `m`: (sum exp(z - m), sum y,
// sum y * (m - z), 0), the label sums being zero for sparse labels.
fn row_sums(lane: u32, base: u32, begin: u32, end: u32, m: f32) -> vec4f {
    var acc = vec4f(0.0);
    for (var j = begin + lane; j < end; j += REDUCE_THREADS) {
        let z = logits[base + j];
        acc.x += exp(z - m);
        if p.sparse == 0u {
            let y = labels[base + j];
            acc.y += y;
            acc.z += y * (m - z);
        }
    }
    return workgroup_reduce(lane, acc, false);
}

// The class id of row `row`'s sparse label, or `classes` when it is not a valid id.
fn class_of(row: u32) -> u32 {
    let v = labels[p.narrow_offset + row];
    if !is_nan(v) && v >= 0.0 && v < f32(p.classes) && v == floor(v) {
        return u32(v);
    }
    return p.classes;
}

// A quiet NaN, made at run time (a NaN is not a valid WGSL constant).
fn nan() -> f32 {
    var bits = 0x7fc00000u;
    return bitcast<f32>(bits);
}

// The loss of row `row` (logits at `base`) from its totals (m, s, sum y, sum y * (m - z)).
fn loss_of(row: u32, base: u32, totals: vec4f) -> f32 {
    if p.sparse == 0u {
        return log(totals.y) * totals.z + totals.w;
    }
    let id = class_of(row);
    if id < p.classes {
        return log(totals.y) + (totals.x - logits[base + id]);
    }
    return nan();
}

// Writes the logits' gradient for classes [begin, end) of row `row` (logits at `base`) given
// its totals (m, s, sum y, sum y * (m - z)).
fn write_grad(lane: u32, row: u32, base: u32, begin: u32, end: u32, totals: vec4f) {
    let lse = totals.x + log(totals.y);
    let g = upstream[p.narrow_offset + row];
    if p.sparse == 1u {
        let id = class_of(row);
        for (var j = begin + lane; j < end; j += REDUCE_THREADS) {
            let one_hot = select(0.0, 1.0, j == id);
            out[base + j] = select(nan(), (exp(logits[base + j] - lse) - one_hot) * g, id < p.classes);
        }
    } else {
        for (var j = begin + lane; j < end; j += REDUCE_THREADS) {
            out[base + j] = (exp(logits[base + j] - lse) * totals.z - labels[base + j]) * g;
        }
    }
}

@compute @workgroup_size(64)
fn cross_entropy_loss(
    @builtin(workgroup_id) group: vec3u,
    @builtin(num_workgroups) groups: vec3u,
    @builtin(local_invocation_index) lane: u32,
) {
    // The same for every invocation of the workgroup, so the barriers stay uniform.
    let row = group.x + group.y * groups.x;
    if row >= p.rows {
        return;
    }
    let base = p.wide_offset + row * p.classes;
    let m = row_max(lane, base, 0u, p.classes);
    let sums = row_sums(lane, base, 0u, p.classes, m);
    if lane == 0u {
        out[p.narrow_offset + row] = loss_of(row, base, vec4f(m, sums.xyz));
    }
}

@compute @workgroup_size(64)
fn cross_entropy_grad(
    @builtin(workgroup_id) group: vec3u,
    @builtin(num_workgroups) groups: vec3u,
    @builtin(local_invocation_index) lane: u32,
) {
    let row = group.x + group.y * groups.x;
    if row >= p.rows {
        return;
    }
    let base = p.wide_offset + row * p.classes;
    let m = row_max(lane, base, 0u, p.classes);
    let sums = row_sums(lane, base, 0u, p.classes, m);
    write_grad(lane, row, base, 0u, p.classes, vec4f(m, sums.xyz));
}

// Two rows' totals (m, s, sum y, sum y * (m - z)) as one: the larger maximum, the exponential
// sums rescaled to it and the label-weighted distances moved to it. A side without labels adds
// nothing (its distance to the maximum may be huge).
fn merge(a: vec4f, b: vec4f) -> vec4f {
    let m = max(a.x, b.x);
    let shift_a = select(0.0, a.z * (m - a.x), a.z != 0.0);
    let shift_b = select(0.0, b.z * (m - b.x), b.z != 0.0);
    return vec4f(m, a.y * exp(a.x - m) + b.y * exp(b.x - m), a.z + b.z, a.w + shift_a + b.w + shift_b);
}

@compute @workgroup_size(64)
fn cross_entropy_stats(
    @builtin(workgroup_id) group: vec3u,
    @builtin(num_workgroups) groups: vec3u,
    @builtin(local_invocation_index) lane: u32,
) {
    let row = group.x + group.y * groups.x;
    if row >= p.rows {
        return;
    }
    let base = p.wide_offset + row * p.classes;
    let m = row_max(lane, base, p.begin, p.end);
    let sums = row_sums(lane, base, p.begin, p.end, m);
    if lane == 0u {
        var totals = vec4f(m, sums.xyz);
        if p.begin > 0u {
            totals = merge(running[row], totals);
        }
        running[row] = totals;
    }
}

@compute @workgroup_size(64)
fn cross_entropy_loss_total(
    @builtin(workgroup_id) group: vec3u,
    @builtin(num_workgroups) groups: vec3u,
    @builtin(local_invocation_index) lane: u32,
) {
    let row = group.x + group.y * groups.x;
    if row >= p.rows || lane != 0u {
        return;
    }
    out[p.narrow_offset + row] = loss_of(row, p.wide_offset + row * p.classes, loss_totals[row]);
}

@compute @workgroup_size(64)
fn cross_entropy_grad_segment(
    @builtin(workgroup_id) group: vec3u,
    @builtin(num_workgroups) groups: vec3u,
    @builtin(local_invocation_index) lane: u32,
) {
    let row = group.x + group.y * groups.x;
    if row >= p.rows {
        return;
    }
    let base = p.wide_offset + row * p.classes;
    write_grad(lane, row, base, p.begin, p.end, grad_totals[row]);
}
