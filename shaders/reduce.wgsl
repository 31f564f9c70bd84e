// Sum or max over a set of axes, walking the reduced axes through their input strides (no
// transpose first). Two schedules: `main` gives each output element a workgroup whose 256
// invocations stride through the reduced elements and combine in workgroup memory (long
// reductions, few outputs); `per_output` gives each output element one invocation that loops
// over them (short reductions, many outputs, where a workgroup each would mostly idle).

struct Params {
    outputs: u32,
    length: u32,
    op: u32,
    kept_rank: u32,
    reduced_rank: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
    kept_dims: array<vec4u, 2>,
    kept_strides: array<vec4u, 2>,
    reduced_dims: array<vec4u, 2>,
    reduced_strides: array<vec4u, 2>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

const WORKGROUP: u32 = 256u;
var<workgroup> partial: array<f32, WORKGROUP>;

fn combine(acc: f32, v: f32) -> f32 {
    if p.op == 0u {
        return acc + v;
    }
    return max(acc, v);
}

fn identity() -> f32 {
    if p.op == 0u {
        return 0.0;
    }
    return -3.4028235e38;
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
    let out = id.x + id.y * groups.x * 64u;
    if out >= p.outputs {
        return;
    }
    let base = base_offset(out);
    var acc = identity();
    for (var j = 0u; j < p.length; j++) {
        acc = combine(acc, x[base + reduced_offset(j)]);
    }
    y[out] = acc;
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
    for (var j = lane; j < p.length; j += WORKGROUP) {
        acc = combine(acc, x[base + reduced_offset(j)]);
    }
    partial[lane] = acc;
    workgroupBarrier();
    for (var width = WORKGROUP / 2u; width > 0u; width /= 2u) {
        if lane < width {
            partial[lane] = combine(partial[lane], partial[lane + width]);
        }
        workgroupBarrier();
    }
    if lane == 0u {
        y[out] = partial[0];
    }
}
