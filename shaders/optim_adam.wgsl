// Keras Adam and Nadam, in place, one invocation per element, in the CPU kernels' order
// (cpu/optim.rs). Both update the moments as `m += (g - m) * (1 - beta_1)`,
// `v += (g^2 - v) * (1 - beta_2)`; then
// - adam:  `w -= m * alpha / (sqrt(v) + eps)`, the bias corrections folded into `alpha`;
// - nadam: `m_hat = u_{t+1} * m / (1 - u_product_{t+1}) + (1 - u_t) * g / (1 - u_product_t)`,
//          `v_hat = v / (1 - beta_2^t)`, `w -= m_hat * lr / (sqrt(v_hat) + eps)`.
// Each entry point has its own parameter block, mirroring `AdamStep` and `NadamStep` with the
// differences the CPU kernels take in f64 already taken.

struct AdamParams {
    n: u32,
    alpha: f32,
    one_minus_beta_1: f32,
    one_minus_beta_2: f32,
    epsilon: f32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

struct NadamParams {
    n: u32,
    learning_rate: f32,
    one_minus_beta_1: f32,
    one_minus_beta_2: f32,
    epsilon: f32,
    u: f32,
    u_next: f32,
    one_minus_u_product: f32,
    one_minus_u_product_next: f32,
    one_minus_beta_2_power: f32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> adam_p: AdamParams;
@group(0) @binding(0) var<uniform> nadam_p: NadamParams;
@group(0) @binding(1) var<storage, read_write> w: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> momentums: array<f32>;
@group(0) @binding(4) var<storage, read_write> velocities: array<f32>;

// Updates element i's moments with gradient `gi`; returns them as (m, v).
fn moments(i: u32, gi: f32, one_minus_beta_1: f32, one_minus_beta_2: f32) -> vec2f {
    let m = momentums[i];
    let v = velocities[i];
    let updated = vec2f(m + (gi - m) * one_minus_beta_1, v + (gi * gi - v) * one_minus_beta_2);
    momentums[i] = updated.x;
    velocities[i] = updated.y;
    return updated;
}

@compute @workgroup_size(256)
fn adam(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let i = id.x + id.y * groups.x * 256u;
    if i >= adam_p.n {
        return;
    }
    let mv = moments(i, g[i], adam_p.one_minus_beta_1, adam_p.one_minus_beta_2);
    w[i] = w[i] - mv.x * adam_p.alpha / (sqrt(mv.y) + adam_p.epsilon);
}

@compute @workgroup_size(256)
fn nadam(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let i = id.x + id.y * groups.x * 256u;
    if i >= nadam_p.n {
        return;
    }
    let q = nadam_p;
    let gi = g[i];
    let mv = moments(i, gi, q.one_minus_beta_1, q.one_minus_beta_2);
    let m_hat = q.u_next * mv.x / q.one_minus_u_product_next + (1.0 - q.u) * gi / q.one_minus_u_product;
    let v_hat = mv.y / q.one_minus_beta_2_power;
    w[i] = w[i] - m_hat * q.learning_rate / (sqrt(v_hat) + q.epsilon);
}
