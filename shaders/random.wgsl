// Uniform random numbers in [low, high), one invocation per element, from the counter-based
// generator shared with the CPU (lib/random.wgsl), so both draw identical values.

struct RandomParams {
    n: u32,
    seed_lo: u32,
    seed_hi: u32,
    // Stream position of this chunk's first element (large outputs are filled in chunks).
    offset: u32,
    low: f32,
    high: f32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(1) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let i = linear_index(id, groups, 256u);
    if i >= p.n {
        return;
    }
    y[i] = p.low + (p.high - p.low) * random_uniform(p.seed_lo, p.seed_hi, p.offset + i);
}
