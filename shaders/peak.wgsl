// A compute ceiling for `tessera bench`: every invocation runs eight independent chains of
// fused multiply-adds on registers only, four steps of each per loop iteration written out, so the dispatch
// measures arithmetic throughput, not memory, latency or loop overhead. (With two chains and one
// step per iteration, lavapipe measured a fifth of this: its per-iteration cost dominated.)
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
    let start = vec4f(f32(i) * 1e-7, 1.0, 2.0, 3.0);
    var c0 = start;
    var c1 = start + 1.0;
    var c2 = start + 2.0;
    var c3 = start + 3.0;
    var c4 = start + 4.0;
    var c5 = start + 5.0;
    var c6 = start + 6.0;
    var c7 = start + 7.0;
    let m = vec4f(0.999, 0.998, 0.997, 0.996);
    let c = vec4f(1e-3, 2e-3, 3e-3, 4e-3);
    // Written out: not every driver unrolls a constant inner loop.
    for (var k = 0u; k < p.iterations; k++) {
        c0 = fma(c0, m, c);
        c1 = fma(c1, m, c);
        c2 = fma(c2, m, c);
        c3 = fma(c3, m, c);
        c4 = fma(c4, m, c);
        c5 = fma(c5, m, c);
        c6 = fma(c6, m, c);
        c7 = fma(c7, m, c);
        c0 = fma(c0, m, c);
        c1 = fma(c1, m, c);
        c2 = fma(c2, m, c);
        c3 = fma(c3, m, c);
        c4 = fma(c4, m, c);
        c5 = fma(c5, m, c);
        c6 = fma(c6, m, c);
        c7 = fma(c7, m, c);
        c0 = fma(c0, m, c);
        c1 = fma(c1, m, c);
        c2 = fma(c2, m, c);
        c3 = fma(c3, m, c);
        c4 = fma(c4, m, c);
        c5 = fma(c5, m, c);
        c6 = fma(c6, m, c);
        c7 = fma(c7, m, c);
        c0 = fma(c0, m, c);
        c1 = fma(c1, m, c);
        c2 = fma(c2, m, c);
        c3 = fma(c3, m, c);
        c4 = fma(c4, m, c);
        c5 = fma(c5, m, c);
        c6 = fma(c6, m, c);
        c7 = fma(c7, m, c);
    }
    y[i] = dot(c0 + c1 + c2 + c3, c4 + c5 + c6 + c7);
}
