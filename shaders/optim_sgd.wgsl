// Keras SGD, in place, one invocation per element: `sgd` is `w -= lr * g`; `sgd_momentum` keeps
// `m = momentum * m - lr * g` and adds `m` to `w`, or with Nesterov `momentum * m - lr * g`.
// The same formulas, in the same order, as the CPU kernels (cpu/optim.rs); the parameters
// mirror `optim::Sgd`.

struct SgdParams {
    n: u32,
    nesterov: u32,
    learning_rate: f32,
    momentum: f32,
}

@group(0) @binding(1) var<storage, read_write> w: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> momentums: array<f32>;

@compute @workgroup_size(256)
fn sgd(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let i = linear_index(id, groups, 256u);
    if i >= p.n {
        return;
    }
    w[i] = w[i] - g[i] * p.learning_rate;
}

@compute @workgroup_size(256)
fn sgd_momentum(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let i = linear_index(id, groups, 256u);
    if i >= p.n {
        return;
    }
    let gi = g[i];
    let m = momentums[i] * p.momentum - gi * p.learning_rate;
    momentums[i] = m;
    w[i] = w[i] + select(m, m * p.momentum - gi * p.learning_rate, p.nesterov == 1u);
}
