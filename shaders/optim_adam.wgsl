// Keras Adam, in place, one invocation per element, in the CPU kernel's order (cpu/optim.rs):
// the moments (lib/adam_moments.wgsl), then `w -= m * alpha / (sqrt(v) + eps)`, the bias
// corrections folded into `alpha`. With `amsgrad` the denominator takes `v_hat = max(v_hat, v)`
// (NaN if either is), kept in `velocity_hats`; without, that binding is a placeholder never
// touched. The parameters mirror `AdamStep`, with the differences the CPU kernel takes in f64
// already taken.

struct AdamParams {
    n: u32,
    alpha: f32,
    one_minus_beta_1: f32,
    one_minus_beta_2: f32,
    epsilon: f32,
    amsgrad: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(1) var<storage, read_write> w: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> momentums: array<f32>;
@group(0) @binding(4) var<storage, read_write> velocities: array<f32>;
@group(0) @binding(5) var<storage, read_write> velocity_hats: array<f32>;

@compute @workgroup_size(256)
fn adam(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let i = linear_index(id, groups, 256u);
    if i >= p.n {
        return;
    }
    let mv = adam_moments(i, g[i], p.one_minus_beta_1, p.one_minus_beta_2);
    var v = mv.y;
    if p.amsgrad == 1u {
        let hat = velocity_hats[i];
        v = select(max(hat, v), hat + v, is_nan(hat) || is_nan(v));
        velocity_hats[i] = v;
    }
    w[i] = w[i] - mv.x * p.alpha / (sqrt(v) + p.epsilon);
}
