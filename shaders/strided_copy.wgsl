// Copies between two layouts of the same elements: the output position `i` (row-major over
// `dims`) reads the input at the offset its index has under `src_strides` and writes the output
// at the offset under `dst_strides`. One kernel serves permute (permuted strides), broadcast
// (zero strides), slice (a source offset) and concat or pad (a destination offset and strides).

struct Params {
    n: u32,
    rank: u32,
    src_offset: u32,
    dst_offset: u32,
    dims: array<vec4u, 2>,
    src_strides: array<vec4u, 2>,
    dst_strides: array<vec4u, 2>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let i = id.x + id.y * groups.x * 256u;
    if i >= p.n {
        return;
    }
    var rest = i;
    var s = p.src_offset;
    var t = p.dst_offset;
    for (var d = p.rank; d > 0u; d--) {
        let k = d - 1u;
        let size = p.dims[k / 4u][k % 4u];
        let index = rest % size;
        rest = rest / size;
        s += index * p.src_strides[k / 4u][k % 4u];
        t += index * p.dst_strides[k / 4u][k % 4u];
    }
    dst[t] = src[s];
}
