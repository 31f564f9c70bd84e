// Fills a buffer with the sequence start + step * i without an upload: a constant tensor (step
// 0: zeros, ones, padding) or a ramp (class ids to compare labels against).

struct FillParams {
    n: u32,
    // Position of this chunk's first element in the whole sequence.
    offset: u32,
    start: f32,
    step: f32,
}

@group(0) @binding(1) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let i = linear_index(id, groups, 256u);
    if i >= p.n {
        return;
    }
    y[i] = p.start + p.step * f32(p.offset + i);
}
