// Keras Nadam, in place, one invocation per element, in the CPU kernel's order (cpu/optim.rs):
// the moments as in Adam (lib/adam_moments.wgsl), then
// `m_hat = u_{t+1} * m / (1 - u_product_{t+1}) + (1 - u_t) * g / (1 - u_product_t)`,
// `v_hat = v / (1 - beta_2^t)`, `w -= m_hat * lr / (sqrt(v_hat) + eps)`. The parameters mirror
// `NadamStep`, with the differences the CPU kernel takes in f64 already taken.

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

@group(0) @binding(1) var<storage, read_write> w: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> momentums: array<f32>;
@group(0) @binding(4) var<storage, read_write> velocities: array<f32>;

@compute @workgroup_size(256)
fn nadam(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let i = linear_index(id, groups, 256u);
    if i >= p.n {
        return;
    }
    let gi = g[i];
    let mv = adam_moments(i, gi, p.one_minus_beta_1, p.one_minus_beta_2);
    let m_hat = p.u_next * mv.x / p.one_minus_u_product_next + (1.0 - p.u) * gi / p.one_minus_u_product;
    let v_hat = mv.y / p.one_minus_beta_2_power;
    w[i] = w[i] - m_hat * p.learning_rate / (sqrt(v_hat) + p.epsilon);
}
