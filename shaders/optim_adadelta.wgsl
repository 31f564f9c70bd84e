// Keras Adadelta, in place, one invocation per element, as the CPU kernel (cpu/optim.rs), with
// `rms(x) = sqrt(x + eps)`: `acc_g = rho * acc_g + (1 - rho) * g^2`,
// `delta = -rms(acc_delta) * g / rms(acc_g)`, `acc_delta = rho * acc_delta + (1 - rho) * delta^2`,
// `w += lr * delta`. The parameters mirror `optim::Adadelta`.

struct AdadeltaParams {
    n: u32,
    learning_rate: f32,
    rho: f32,
    one_minus_rho: f32,
    epsilon: f32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(1) var<storage, read_write> w: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> accumulated_grads: array<f32>;
@group(0) @binding(4) var<storage, read_write> accumulated_deltas: array<f32>;

@compute @workgroup_size(256)
fn adadelta(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let i = linear_index(id, groups, 256u);
    if i >= p.n {
        return;
    }
    let gi = g[i];
    let acc_g = p.rho * accumulated_grads[i] + p.one_minus_rho * gi * gi;
    accumulated_grads[i] = acc_g;
    let acc_delta = accumulated_deltas[i];
    let delta = -(sqrt(acc_delta + p.epsilon) * gi / sqrt(acc_g + p.epsilon));
    accumulated_deltas[i] = p.rho * acc_delta + p.one_minus_rho * delta * delta;
    w[i] = w[i] + p.learning_rate * delta;
}
