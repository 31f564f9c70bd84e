// The index of each row's first maximum, as a float, with NumPy's rule for NaN: it counts as
// greater than every number, so a row holding one gives its first NaN's index. A workgroup per
// row: each invocation scans a strided share of the row, then the (value, index) pairs are
// combined in workgroup memory, keeping NaN over numbers, the larger value, and on a tie the
// smaller index. Rows come in blocks; `offset` and `out_offset` locate the block's first element
// in the input and the output bindings.

struct ArgmaxParams {
    rows: u32,
    classes: u32,
    offset: u32,
    out_offset: u32,
    begin: u32,
    end: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

const THREADS: u32 = 64u;

// (value, index, 1 if the value is NaN else 0); the best of a strided share, then of everything.
var<workgroup> best: array<vec3f, THREADS>;

// Whether candidate `c` beats the current best `b` (both (value, index, nan)).
fn beats(c: vec3f, b: vec3f) -> bool {
    if c.z != b.z {
        return c.z > b.z;
    }
    if c.z == 1.0 || c.x == b.x {
        return c.y < b.y;
    }
    return c.x > b.x;
}

// The best (value, index, nan) of row elements [begin, end) at `base` and of `start`, for every
// invocation of the workgroup (called from uniform control flow).
fn best_of(lane: u32, base: u32, begin: u32, end: u32, start: vec3f) -> vec3f {
    var mine = start;
    for (var j = begin + lane; j < end; j += THREADS) {
        let v = x[base + j];
        let candidate = vec3f(select(v, 0.0, is_nan(v)), f32(j), select(0.0, 1.0, is_nan(v)));
        if beats(candidate, mine) {
            mine = candidate;
        }
    }
    best[lane] = mine;
    workgroupBarrier();
    for (var width = THREADS / 2u; width > 0u; width /= 2u) {
        if lane < width && beats(best[lane + width], best[lane]) {
            best[lane] = best[lane + width];
        }
        workgroupBarrier();
    }
    return best[0];
}

// An empty share is (0, past the end, -1): every real candidate beats it.
fn nothing() -> vec3f {
    return vec3f(0.0, f32(p.classes), -1.0);
}

@compute @workgroup_size(64)
fn main(
    @builtin(workgroup_id) group: vec3u,
    @builtin(num_workgroups) groups: vec3u,
    @builtin(local_invocation_index) lane: u32,
) {
    // The same for every invocation of the workgroup, so the barriers stay uniform.
    let row = group.x + group.y * groups.x;
    if row >= p.rows {
        return;
    }
    let winner = best_of(lane, p.offset + row * p.classes, 0u, p.classes, nothing());
    if lane == 0u {
        y[p.out_offset + row] = winner.y;
    }
}

// A row too long for one invocation's loop (see MAX_LOOP_ITERATIONS on the host) is scanned in
// segments [begin, end), a dispatch each, carrying the best so far in `running`; every
// dispatch writes the index of the best so far, so the last one leaves the answer.
@group(0) @binding(3) var<storage, read_write> running: array<vec4f>;

@compute @workgroup_size(64)
fn segment(
    @builtin(workgroup_id) group: vec3u,
    @builtin(num_workgroups) groups: vec3u,
    @builtin(local_invocation_index) lane: u32,
) {
    let row = group.x + group.y * groups.x;
    if row >= p.rows {
        return;
    }
    var start = nothing();
    if p.begin > 0u {
        start = running[row].xyz;
    }
    let winner = best_of(lane, p.offset + row * p.classes, p.begin, p.end, start);
    if lane == 0u {
        running[row] = vec4f(winner, 0.0);
        y[p.out_offset + row] = winner.y;
    }
}
