// Elementwise functions of one tensor, one invocation per element. Each pipeline is specialised
// to one op by the override constant OP (a generated UNARY_* code), so the switch folds away;
// `a` and `b` carry the op's scalar arguments.
//
// `unary` applies the op. `unary_backward` is its gradient: the incoming gradient times the
// op's derivative at x, taken from the output y where that is exact (exp, sqrt, sigmoid, tanh).
// relu'(0) = 0, as in Keras and PyTorch.

struct UnaryParams {
    n: u32,
    a: f32,
    b: f32,
    _pad: u32,
}

override OP: u32;

@group(0) @binding(1) var<storage, read> x: array<f32>;
// unary
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
// unary_backward
@group(0) @binding(2) var<storage, read> out: array<f32>;
@group(0) @binding(3) var<storage, read> grad: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;
// The vector entry points see the same buffers as whole vec4s (the host pads the last one).
@group(0) @binding(1) var<storage, read> x4: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> y4: array<vec4f>;
@group(0) @binding(2) var<storage, read> out4: array<vec4f>;
@group(0) @binding(3) var<storage, read> grad4: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> dx4: array<vec4f>;

fn sigmoid(v: f32) -> f32 {
    // Split by sign so exp never overflows.
    if v >= 0.0 {
        return 1.0 / (1.0 + exp(-v));
    }
    let e = exp(v);
    return e / (1.0 + e);
}

fn apply(v: f32) -> f32 {
    switch OP {
        case UNARY_NEG: { return -v; }
        case UNARY_EXP: { return exp(v); }
        case UNARY_LOG: { return log(v); }
        case UNARY_SQRT: { return sqrt(v); }
        case UNARY_ABS: { return abs(v); }
        case UNARY_SIGN: { return sign(v); }
        case UNARY_SQUARE: { return v * v; }
        case UNARY_POWF: { return pow(v, p.a); }
        case UNARY_ADD_SCALAR: { return v + p.a; }
        case UNARY_MUL_SCALAR: { return v * p.a; }
        // NaN passes through relu and clip, as in NumPy and Keras (max and clamp may drop it).
        case UNARY_RELU: { return select(max(v, 0.0), v, is_nan(v)); }
        case UNARY_LEAKY_RELU: { return select(v * p.a, v, v > 0.0); }
        case UNARY_SIGMOID: { return sigmoid(v); }
        case UNARY_TANH: { return tanh(v); }
        case UNARY_STEP: { return select(0.0, 1.0, v >= p.a); }
        case UNARY_CLIP: { return select(clamp(v, p.a, p.b), v, is_nan(v)); }
        default: { return v; }
    }
}

// The gradient at input v (output w) given the incoming gradient g, in the CPU's order.
fn derivative_times(v: f32, w: f32, g: f32) -> f32 {
    switch OP {
        case UNARY_NEG: { return -g; }
        case UNARY_EXP: { return g * w; }
        case UNARY_LOG: { return g / v; }
        case UNARY_SQRT: { return g / w * 0.5; }
        case UNARY_ABS: { return g * sign(v); }
        case UNARY_SQUARE: { return g * v * 2.0; }
        case UNARY_POWF: { return g * pow(v, p.a - 1.0) * p.a; }
        case UNARY_ADD_SCALAR: { return g; }
        case UNARY_MUL_SCALAR: { return g * p.a; }
        case UNARY_RELU: { return g * select(0.0, 1.0, v > 0.0); }
        case UNARY_LEAKY_RELU: { return g * select(p.a, 1.0, v > 0.0); }
        case UNARY_SIGMOID: { return g * (w * (1.0 - w)); }
        case UNARY_TANH: { return g * (1.0 - w * w); }
        case UNARY_CLIP: { return select(0.0, g, v >= p.a && v <= p.b); }
        // Sign and step are flat almost everywhere.
        default: { return 0.0; }
    }
}

@compute @workgroup_size(256)
fn unary(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let i = linear_index(id, groups, 256u);
    if i >= p.n {
        return;
    }
    y[i] = apply(x[i]);
}

@compute @workgroup_size(256)
fn unary_backward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let i = linear_index(id, groups, 256u);
    if i >= p.n {
        return;
    }
    dx[i] = derivative_times(x[i], out[i], grad[i]);
}

// The same two ops over vectors: VECTORS per invocation and no index arithmetic beyond one
// multiply-add, for contiguous tensors (`p.n` counts elements; padding lanes are computed and
// land in the output's padding).
@compute @workgroup_size(256)
fn unary_vec4(
    @builtin(workgroup_id) group: vec3u,
    @builtin(num_workgroups) groups: vec3u,
    @builtin(local_invocation_index) lane: u32,
) {
    let first = first_vector(group, groups, lane);
    let vectors = (p.n + 3u) / 4u;
    for (var j = 0u; j < VECTORS; j++) {
        let i = first + j;
        if i < vectors {
            let v = x4[i];
            y4[i] = vec4f(apply(v.x), apply(v.y), apply(v.z), apply(v.w));
        }
    }
}

@compute @workgroup_size(256)
fn unary_backward_vec4(
    @builtin(workgroup_id) group: vec3u,
    @builtin(num_workgroups) groups: vec3u,
    @builtin(local_invocation_index) lane: u32,
) {
    let first = first_vector(group, groups, lane);
    let vectors = (p.n + 3u) / 4u;
    for (var j = 0u; j < VECTORS; j++) {
        let i = first + j;
        if i < vectors {
            let v = x4[i];
            let w = out4[i];
            let g = grad4[i];
            dx4[i] = vec4f(
                derivative_times(v.x, w.x, g.x),
                derivative_times(v.y, w.y, g.y),
                derivative_times(v.z, w.z, g.z),
                derivative_times(v.w, w.w, g.w),
            );
        }
    }
}
