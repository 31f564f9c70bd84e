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
// A channel too long for one invocation's loops (see MAX_LOOP_ITERATIONS on the host) is
// instead walked in segments [begin, end) of its values, a dispatch per segment and phase, the
// statistics accumulating in the output buffers: forward, the sum into mean_out (divided by the
// last segment), then the squared deviations into variance_out (likewise), then the outputs;
// backward, the two sums into d_beta and d_gamma, then the input gradient. `phase` 0 is the
// one-dispatch path.
//
// Each entry point has its own bindings (WGSL allows one binding number to name different
// variables in different entry points).

struct BatchNormParams {
    outer: u32,
    channels: u32,
    inner: u32,
    epsilon: f32,
    phase: u32,
    begin: u32,
    end: u32,
    _pad0: u32,
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
const FUSED: u32 = 0u;
const SUM: u32 = 1u;
const SQUARES: u32 = 2u;
const WRITE: u32 = 3u;

// The offset of the channel's `j`-th value (of outer * inner).
fn at(channel: u32, j: u32) -> u32 {
    return ((j / p.inner) * p.channels + channel) * p.inner + j % p.inner;
}

// The channel's sum of x over values [begin, end), for every invocation.
fn sum_x(lane: u32, c: u32, begin: u32, end: u32) -> f32 {
    var s = 0.0;
    for (var j = begin + lane; j < end; j += REDUCE_THREADS) {
        s += x[at(c, j)];
    }
    return workgroup_reduce(lane, vec4f(s), false).x;
}

// The channel's sum of (x - m)^2 over values [begin, end), for every invocation.
fn sum_squares(lane: u32, c: u32, m: f32, begin: u32, end: u32) -> f32 {
    var q = 0.0;
    for (var j = begin + lane; j < end; j += REDUCE_THREADS) {
        let d = x[at(c, j)] - m;
        q += d * d;
    }
    return workgroup_reduce(lane, vec4f(q), false).x;
}

fn write_y(lane: u32, c: u32, m: f32, v: f32, begin: u32, end: u32) {
    let scale = gamma[c] / sqrt(v + p.epsilon);
    for (var j = begin + lane; j < end; j += REDUCE_THREADS) {
        let k = at(c, j);
        y[k] = (x[k] - m) * scale + beta[c];
    }
}

// `partial` added to what earlier segments left in `running` (nothing before the first), and
// divided by `count` after the last.
fn carried(running: f32, partial: f32, count: u32) -> f32 {
    var total = partial;
    if p.begin > 0u {
        total += running;
    }
    if p.end == count {
        total /= f32(count);
    }
    return total;
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
    if p.phase == FUSED {
        let m = sum_x(lane, c, 0u, count) / f32(count);
        let v = sum_squares(lane, c, m, 0u, count) / f32(count);
        write_y(lane, c, m, v, 0u, count);
        if lane == 0u {
            mean_out[c] = m;
            variance_out[c] = v;
        }
    } else if p.phase == SUM {
        let s = sum_x(lane, c, p.begin, p.end);
        if lane == 0u {
            mean_out[c] = carried(mean_out[c], s, count);
        }
    } else if p.phase == SQUARES {
        let q = sum_squares(lane, c, mean_out[c], p.begin, p.end);
        if lane == 0u {
            variance_out[c] = carried(variance_out[c], q, count);
        }
    } else {
        write_y(lane, c, mean_out[c], variance_out[c], p.begin, p.end);
    }
}

// The channel's (sum g, sum g * x_hat) over values [begin, end), for every invocation.
fn grad_sums(lane: u32, c: u32, m: f32, rstd: f32, begin: u32, end: u32) -> vec2f {
    var acc = vec2f(0.0);
    for (var j = begin + lane; j < end; j += REDUCE_THREADS) {
        let k = at(c, j);
        acc += grad[k] * vec2f(1.0, (x[k] - m) * rstd);
    }
    return workgroup_reduce(lane, vec4f(acc, 0.0, 0.0), false).xy;
}

fn write_dx(lane: u32, c: u32, m: f32, rstd: f32, sums: vec2f, begin: u32, end: u32) {
    let n = f32(p.outer * p.inner);
    let scale = gamma[c] * rstd / n;
    for (var j = begin + lane; j < end; j += REDUCE_THREADS) {
        let k = at(c, j);
        dx[k] = (n * grad[k] - sums.x - (x[k] - m) * rstd * sums.y) * scale;
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
    if p.phase == FUSED {
        let sums = grad_sums(lane, c, m, rstd, 0u, count);
        write_dx(lane, c, m, rstd, sums, 0u, count);
        if lane == 0u {
            d_beta[c] = sums.x;
            d_gamma[c] = sums.y;
        }
    } else if p.phase == SUM {
        var sums = grad_sums(lane, c, m, rstd, p.begin, p.end);
        if lane == 0u {
            if p.begin > 0u {
                sums += vec2f(d_beta[c], d_gamma[c]);
            }
            d_beta[c] = sums.x;
            d_gamma[c] = sums.y;
        }
    } else {
        write_dx(lane, c, m, rstd, vec2f(d_beta[c], d_gamma[c]), p.begin, p.end);
    }
}
