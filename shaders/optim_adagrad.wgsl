// Keras Adagrad, in place, one invocation per element, as the CPU kernel (cpu/optim.rs):
// `acc += g^2`, `w -= lr * g / sqrt(acc + eps)`. The parameters mirror `optim::Adagrad`.

struct AdagradParams {
    n: u32,
    learning_rate: f32,
    epsilon: f32,
    _pad: u32,
}

@group(0) @binding(1) var<storage, read_write> w: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> accumulators: array<f32>;

@compute @workgroup_size(256)
fn adagrad(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let i = linear_index(id, groups, 256u);
    if i >= p.n {
        return;
    }
    let gi = g[i];
    let acc = accumulators[i] + gi * gi;
    accumulators[i] = acc;
    w[i] = w[i] - p.learning_rate * gi / sqrt(acc + p.epsilon);
}
