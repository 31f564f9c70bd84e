// Batch normalization in training mode, forward and backward, each in one dispatch: the input
// is seen as (outer, channels, inner) around the channel axis, and one workgroup owns one
// channel. It reduces the channel's statistics in workgroup memory and then, knowing them,
// writes every output element of the channel itself, so no second pass waits on a second
// dispatch and no per-element temporaries exist.
//
// batch_norm_forward: the mean and the biased variance (two passes, as on the CPU: the variance
//   sums squared deviations from the mean), then y = (x - mean) * gamma / sqrt(var + eps) + beta.
// batch_norm_backward: with rstd = 1 / sqrt(var + eps) and x_hat = (x - mean) * rstd,
//   d_beta = sum(g), d_gamma = sum(g * x_hat) and
//   dx = (M * g - d_beta - x_hat * d_gamma) * gamma * rstd / M, for M values per channel.
//
// Each entry point has its own bindings (WGSL allows one binding number to name different
// variables in different entry points).

struct BatchNormParams {
    outer: u32,
    channels: u32,
    inner: u32,
    epsilon: f32,
}

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;

// batch_norm_forward
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read_write> mean_out: array<f32>;
@group(0) @binding(6) var<storage, read_write> variance_out: array<f32>;

// batch_norm_backward
@group(0) @binding(3) var<storage, read> mean: array<f32>;
@group(0) @binding(4) var<storage, read> variance: array<f32>;
@group(0) @binding(5) var<storage, read> grad: array<f32>;
@group(0) @binding(6) var<storage, read_write> dx: array<f32>;
@group(0) @binding(7) var<storage, read_write> d_gamma: array<f32>;
@group(0) @binding(8) var<storage, read_write> d_beta: array<f32>;

const REDUCE_THREADS: u32 = 256u;

// The offset of the channel's `j`-th value (of outer * inner).
fn at(channel: u32, j: u32) -> u32 {
    return ((j / p.inner) * p.channels + channel) * p.inner + j % p.inner;
}

@compute @workgroup_size(256)
fn batch_norm_forward(
    @builtin(workgroup_id) group: vec3u,
    @builtin(num_workgroups) groups: vec3u,
    @builtin(local_invocation_index) lane: u32,
) {
    // The same for every invocation of the workgroup, so the barriers stay uniform.
    let c = group.x + group.y * groups.x;
    if c >= p.channels {
        return;
    }
    let count = p.outer * p.inner;
    var s = 0.0;
    for (var j = lane; j < count; j += REDUCE_THREADS) {
        s += x[at(c, j)];
    }
    let m = workgroup_reduce(lane, vec4f(s), false).x / f32(count);
    var q = 0.0;
    for (var j = lane; j < count; j += REDUCE_THREADS) {
        let d = x[at(c, j)] - m;
        q += d * d;
    }
    let v = workgroup_reduce(lane, vec4f(q), false).x / f32(count);
    let scale = gamma[c] / sqrt(v + p.epsilon);
    for (var j = lane; j < count; j += REDUCE_THREADS) {
        let k = at(c, j);
        y[k] = (x[k] - m) * scale + beta[c];
    }
    if lane == 0u {
        mean_out[c] = m;
        variance_out[c] = v;
    }
}

@compute @workgroup_size(256)
fn batch_norm_backward(
    @builtin(workgroup_id) group: vec3u,
    @builtin(num_workgroups) groups: vec3u,
    @builtin(local_invocation_index) lane: u32,
) {
    let c = group.x + group.y * groups.x;
    if c >= p.channels {
        return;
    }
    let count = p.outer * p.inner;
    let m = mean[c];
    let rstd = 1.0 / sqrt(variance[c] + p.epsilon);
    var acc = vec2f(0.0);
    for (var j = lane; j < count; j += REDUCE_THREADS) {
        let k = at(c, j);
        acc += grad[k] * vec2f(1.0, (x[k] - m) * rstd);
    }
    let sums = workgroup_reduce(lane, vec4f(acc, 0.0, 0.0), false).xy;
    let n = f32(count);
    let scale = gamma[c] * rstd / n;
    for (var j = lane; j < count; j += REDUCE_THREADS) {
        let k = at(c, j);
        dx[k] = (n * grad[k] - sums.x - (x[k] - m) * rstd * sums.y) * scale;
    }
    if lane == 0u {
        d_beta[c] = sums.x;
        d_gamma[c] = sums.y;
    }
}
