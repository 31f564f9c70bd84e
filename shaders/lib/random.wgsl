// The counter-based generator of tensor-core's rng.rs: element i of stream (seed_hi, seed_lo)
// is a pure function of the three, so the CPU and the GPU draw identical values and a dropout
// mask needs no state.

fn random_mix(v: u32) -> u32 {
    var x = v;
    x ^= x >> 16u;
    x *= 0x7feb352du;
    x ^= x >> 15u;
    x *= 0x846ca68bu;
    x ^= x >> 16u;
    return x;
}

fn random_bits(seed_lo: u32, seed_hi: u32, index: u32) -> u32 {
    return random_mix((random_mix(index ^ random_mix(seed_lo)) + seed_hi) ^ 0x9e3779b9u);
}

// A uniform sample in [0, 1) with 24 bits, exactly representable in f32, as on the CPU.
fn random_uniform(seed_lo: u32, seed_hi: u32, index: u32) -> f32 {
    return f32(random_bits(seed_lo, seed_hi, index) >> 8u) / 16777216.0;
}
