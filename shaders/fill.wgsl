// Fills a buffer with one value (zeros, ones, a constant tensor) without an upload.

struct Params {
    n: u32,
    value: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let i = id.x + id.y * groups.x * 256u;
    if i >= p.n {
        return;
    }
    y[i] = p.value;
}
