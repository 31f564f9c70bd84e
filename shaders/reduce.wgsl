// Sum, max or mean over a set of axes, walking the reduced axes through their input strides (no
// transpose first), specialised to one op by the override constant OP (a REDUCE_* code). Two
// schedules: `main` gives each output element a workgroup whose invocations stride through the
// reduced elements and combine in workgroup memory (long reductions, few outputs);
// `per_output` gives each output element one invocation that loops over them (short
// reductions, many outputs, where a workgroup each would mostly idle). A mean multiplies the
// sum by `scale`, the reciprocal of the count, as the CPU does.
//
// A long reduction runs as several dispatches, each over reduced elements [begin, end) (see
// MAX_LOOP_ITERATIONS on the host): with `accumulate` set, a dispatch combines its partial
// result with the one the previous dispatch left in `y`. A mean's sums are scaled only by the
// last dispatch (the host passes a scale of 1 to the others).

struct ReduceParams {
    outputs: u32,
    length: u32,
    kept_rank: u32,
    reduced_rank: u32,
    scale: f32,
    begin: u32,
    end: u32,
    accumulate: u32,
    kept_dims: array<vec4u, 2>,
    kept_strides: array<vec4u, 2>,
    reduced_dims: array<vec4u, 2>,
    reduced_strides: array<vec4u, 2>,
}

override OP: u32;
const REDUCE_THREADS: u32 = 256u;

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

fn combine(acc: f32, v: f32) -> f32 {
    if OP == REDUCE_MAX {
        return nan_max(vec4f(acc), vec4f(v)).x;
    }
    return acc + v;
}

fn identity() -> f32 {
    if OP == REDUCE_MAX {
        // -inf, made at run time (WGSL has no infinity literal): the CPU's identity of max.
        var bits = 0xff800000u;
        return bitcast<f32>(bits);
    }
    return 0.0;
}

// The value to store for output `out` given this dispatch's partial result.
fn finish(out: u32, partial: f32) -> f32 {
    var acc = partial;
    if p.accumulate == 1u {
        acc = combine(y[out], acc);
    }
    if OP == REDUCE_MEAN {
        return acc * p.scale;
    }
    return acc;
}

// The input offset of output element `out`'s first reduced element.
fn base_offset(out: u32) -> u32 {
    var rest = out;
    var base = 0u;
    for (var d = p.kept_rank; d > 0u; d--) {
        let k = d - 1u;
        let size = p.kept_dims[k / 4u][k % 4u];
        base += (rest % size) * p.kept_strides[k / 4u][k % 4u];
        rest = rest / size;
    }
    return base;
}

// The offset of reduced element `j` relative to its output's first.
fn reduced_offset(j: u32) -> u32 {
    var r = j;
    var offset = 0u;
    for (var d = p.reduced_rank; d > 0u; d--) {
        let k = d - 1u;
        let size = p.reduced_dims[k / 4u][k % 4u];
        offset += (r % size) * p.reduced_strides[k / 4u][k % 4u];
        r = r / size;
    }
    return offset;
}

@compute @workgroup_size(64)
fn per_output(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let out = linear_index(id, groups, 64u);
    if out >= p.outputs {
        return;
    }
    let base = base_offset(out);
    var acc = identity();
    for (var j = p.begin; j < p.end; j++) {
        acc = combine(acc, x[base + reduced_offset(j)]);
    }
    y[out] = finish(out, acc);
}

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) group: vec3u,
    @builtin(num_workgroups) groups: vec3u,
    @builtin(local_invocation_index) lane: u32,
) {
    // Uniform control flow: every invocation of a workgroup takes the same branch here.
    let out = group.x + group.y * groups.x;
    if out >= p.outputs {
        return;
    }
    let base = base_offset(out);
    var acc = identity();
    for (var j = p.begin + lane; j < p.end; j += REDUCE_THREADS) {
        acc = combine(acc, x[base + reduced_offset(j)]);
    }
    let total = workgroup_reduce(lane, vec4f(acc), OP == REDUCE_MAX).x;
    if lane == 0u {
        y[out] = finish(out, total);
    }
}
