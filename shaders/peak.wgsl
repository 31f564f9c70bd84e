// A compute ceiling for `tessera bench`: every invocation runs independent chains of fused
// multiply-adds on registers only, so the dispatch measures arithmetic throughput, not memory.
// The result is written once so the compiler cannot drop the work.

struct PeakParams {
    n: u32,
    iterations: u32,
}

@group(0) @binding(1) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let i = linear_index(id, groups, 256u);
    if i >= p.n {
        return;
    }
    var a = vec4f(f32(i) * 1e-7, 1.0, 2.0, 3.0);
    var b = vec4f(0.5, 0.25, 0.125, 0.0625);
    let m = vec4f(0.999, 0.998, 0.997, 0.996);
    let c = vec4f(1e-3, 2e-3, 3e-3, 4e-3);
    for (var k = 0u; k < p.iterations; k++) {
        a = fma(a, m, c);
        b = fma(b, m, c);
    }
    y[i] = dot(a, b);
}
