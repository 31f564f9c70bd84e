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
}

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

const THREADS: u32 = 64u;

// (value, index, 1 if the value is NaN else 0); the best of a strided share, then of everything.
var<workgroup> best: array<vec3f, THREADS>;

fn is_nan(v: f32) -> bool {
    return v != v;
}

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
    let base = p.offset + row * p.classes;
    // An empty share is (0, past the end, -1): every real candidate beats it.
    var mine = vec3f(0.0, f32(p.classes), -1.0);
    for (var j = lane; j < p.classes; j += THREADS) {
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
    if lane == 0u {
        y[p.out_offset + row] = best[0].y;
    }
}
