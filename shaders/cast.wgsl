// Conversions between f32 and f16 storage, one invocation per element. f32 → f16 rounds to the
// nearest f16 (values past f16's range become infinities, which mixed precision's loss scaling
// looks for); f16 → f32 is exact.

struct CastParams {
    n: u32,
    src_offset: u32,
    dst_offset: u32,
    _pad: u32,
}

// to_f16
@group(0) @binding(1) var<storage, read> wide_in: array<f32>;
@group(0) @binding(2) var<storage, read_write> half_out: array<f16>;
// to_f32
@group(0) @binding(1) var<storage, read> half_in: array<f16>;
@group(0) @binding(2) var<storage, read_write> wide_out: array<f32>;

@compute @workgroup_size(256)
fn to_f16(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let i = linear_index(id, groups, 256u);
    if i >= p.n {
        return;
    }
    half_out[p.dst_offset + i] = f16(wide_in[p.src_offset + i]);
}

@compute @workgroup_size(256)
fn to_f32(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let i = linear_index(id, groups, 256u);
    if i >= p.n {
        return;
    }
    wide_out[p.dst_offset + i] = f32(half_in[p.src_offset + i]);
}
