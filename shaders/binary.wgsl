// Elementwise arithmetic between two tensors with NumPy broadcasting, one invocation per output
// element, specialised to one op by the override constant OP (a generated BINARY_* code). Each
// invocation decodes its output position into per-operand offsets through the operands'
// broadcast strides (0 along a broadcast axis); equal shapes are described as one flat axis, so
// they decode nothing (and, contiguous, run as `binary_vec4`). Large outputs are processed in chunks: `base` is the chunk's first output
// position, and an operand bound at the chunk's offset subtracts its own base.

struct BinaryParams {
    n: u32,
    rank: u32,
    base: u32,
    a_base: u32,
    b_base: u32,
    period: u32,
    a_repeats: u32,
    _pad: u32,
    dims: array<vec4u, 2>,
    a_strides: array<vec4u, 2>,
    b_strides: array<vec4u, 2>,
}

override OP: u32;

@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
// binary_vec4 sees the same buffers as whole vec4s (the host pads the last one).
@group(0) @binding(1) var<storage, read> a4: array<vec4f>;
@group(0) @binding(2) var<storage, read> b4: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> y4: array<vec4f>;

fn apply(x: f32, z: f32) -> f32 {
    switch OP {
        case BINARY_ADD: { return x + z; }
        case BINARY_SUB: { return x - z; }
        case BINARY_MUL: { return x * z; }
        case BINARY_DIV: { return x / z; }
        case BINARY_EQUAL: { return select(0.0, 1.0, x == z); }
        default: { return x; }
    }
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let i = linear_index(id, groups, 256u);
    if i >= p.n {
        return;
    }
    var rest = p.base + i;
    var ia = 0u;
    var ib = 0u;
    for (var d = p.rank; d > 0u; d--) {
        let k = d - 1u;
        let size = p.dims[k / 4u][k % 4u];
        let index = rest % size;
        rest = rest / size;
        ia += index * p.a_strides[k / 4u][k % 4u];
        ib += index * p.b_strides[k / 4u][k % 4u];
    }
    y[i] = apply(a[ia - p.a_base], b[ib - p.b_base]);
}

// Operands of the output's own shape, contiguous: VECTORS vectors per invocation, no index
// decoding (`p.n` counts elements; padding lanes land in the output's padding).
@compute @workgroup_size(256)
fn binary_vec4(
    @builtin(workgroup_id) group: vec3u,
    @builtin(num_workgroups) groups: vec3u,
    @builtin(local_invocation_index) lane: u32,
) {
    let first = first_vector(group, groups, lane);
    let vectors = (p.n + 3u) / 4u;
    for (var j = 0u; j < VECTORS; j++) {
        let i = first + j;
        if i < vectors {
            let u = a4[i];
            let v = b4[i];
            y4[i] = vec4f(apply(u.x, v.x), apply(u.y, v.y), apply(u.z, v.z), apply(u.w, v.w));
        }
    }
}

// One operand of the output's size, the other repeating along the output's leading axes with
// `period` elements (a bias over a batch; `a_repeats` says which): vectors as above, and the
// repeating operand's index counts up and wraps, so only each invocation's first vector divides.
@compute @workgroup_size(256)
fn binary_repeat_vec4(
    @builtin(workgroup_id) group: vec3u,
    @builtin(num_workgroups) groups: vec3u,
    @builtin(local_invocation_index) lane: u32,
) {
    let first = first_vector(group, groups, lane);
    let vectors = (p.n + 3u) / 4u;
    let period = p.period / 4u;
    var r = (p.base / 4u + first) % period;
    for (var j = 0u; j < VECTORS; j++) {
        let i = first + j;
        if i < vectors {
            let u = a4[select(i, r, p.a_repeats == 1u)];
            let v = b4[select(r, i, p.a_repeats == 1u)];
            y4[i] = vec4f(apply(u.x, v.x), apply(u.y, v.y), apply(u.z, v.z), apply(u.w, v.w));
        }
        r += 1u;
        if r == period {
            r = 0u;
        }
    }
}
