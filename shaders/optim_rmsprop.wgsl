// Keras RMSprop, in place, one invocation per element, in the CPU kernel's order
// (cpu/optim.rs): `v = rho * v + (1 - rho) * g^2`; centered, also `a = rho * a + (1 - rho) * g`
// and the denominator `v - a^2 + eps`, else `v + eps`; `increment = lr * g / sqrt(denominator)`;
// with momentum `m = momentum * m + increment` and `w -= m`, else `w -= increment`.
// The parameters mirror `optim::RmsProp`. The flags say which optional slots exist; a missing
// one is bound to a placeholder the kernel never touches. They are uniform, so no invocation
// diverges.

struct RmsPropParams {
    n: u32,
    has_momentum: u32,
    centered: u32,
    _pad0: u32,
    learning_rate: f32,
    rho: f32,
    one_minus_rho: f32,
    momentum: f32,
    epsilon: f32,
    _pad1: u32,
    _pad2: u32,
    _pad3: u32,
}

@group(0) @binding(1) var<storage, read_write> w: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> velocities: array<f32>;
@group(0) @binding(4) var<storage, read_write> momentums: array<f32>;
@group(0) @binding(5) var<storage, read_write> average_gradients: array<f32>;

@compute @workgroup_size(256)
fn rmsprop(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let i = linear_index(id, groups, 256u);
    if i >= p.n {
        return;
    }
    let gi = g[i];
    let v = p.rho * velocities[i] + p.one_minus_rho * gi * gi;
    velocities[i] = v;
    var denominator = v + p.epsilon;
    if p.centered == 1u {
        let a = p.rho * average_gradients[i] + p.one_minus_rho * gi;
        average_gradients[i] = a;
        denominator = v - a * a + p.epsilon;
    }
    var increment = p.learning_rate * gi / sqrt(denominator);
    if p.has_momentum == 1u {
        increment = p.momentum * momentums[i] + increment;
        momentums[i] = increment;
    }
    w[i] = w[i] - increment;
}
