// Elementwise functions of one tensor. The op is chosen by a uniform code (the same for every
// invocation, so the switch never diverges); `a` and `b` carry the op's scalar arguments.

struct Params {
    n: u32,
    op: u32,
    a: f32,
    b: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

fn sigmoid(v: f32) -> f32 {
    // Split by sign so exp never overflows.
    if v >= 0.0 {
        return 1.0 / (1.0 + exp(-v));
    }
    let e = exp(v);
    return e / (1.0 + e);
}

fn apply(v: f32) -> f32 {
    switch p.op {
        case 0u: { return -v; }
        case 1u: { return exp(v); }
        case 2u: { return log(v); }
        case 3u: { return sqrt(v); }
        case 4u: { return abs(v); }
        case 5u: { return sign(v); }
        case 6u: { return v * v; }
        case 7u: { return pow(v, p.a); }
        case 8u: { return v + p.a; }
        case 9u: { return v * p.a; }
        case 10u: { return max(v, 0.0); }
        case 11u: { return select(v * p.a, v, v > 0.0); }
        case 12u: { return sigmoid(v); }
        case 13u: { return tanh(v); }
        case 14u: { return select(0.0, 1.0, v >= p.a); }
        case 15u: { return clamp(v, p.a, p.b); }
        default: { return v; }
    }
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let i = id.x + id.y * groups.x * 256u;
    if i >= p.n {
        return;
    }
    y[i] = apply(x[i]);
}
