// Uniform random numbers from a counter-based generator: element i of stream `seed` is a pure
// function of (seed, i), the same integer hash as tensor-core's rng.rs, so the CPU and the GPU
// draw identical values and a dropout mask needs no state.

struct Params {
    n: u32,
    seed_lo: u32,
    seed_hi: u32,
    // Stream position of this chunk's first element (large outputs are filled in chunks).
    offset: u32,
    low: f32,
    high: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;

fn mix(v: u32) -> u32 {
    var x = v;
    x ^= x >> 16u;
    x *= 0x7feb352du;
    x ^= x >> 15u;
    x *= 0x846ca68bu;
    x ^= x >> 16u;
    return x;
}

fn random_bits(index: u32) -> u32 {
    return mix((mix(index ^ mix(p.seed_lo)) + p.seed_hi) ^ 0x9e3779b9u);
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let i = id.x + id.y * groups.x * 256u;
    if i >= p.n {
        return;
    }
    // 24 bits: exactly representable in f32, as on the CPU.
    let u = f32(random_bits(p.offset + i) >> 8u) / 16777216.0;
    y[i] = p.low + (p.high - p.low) * u;
}
