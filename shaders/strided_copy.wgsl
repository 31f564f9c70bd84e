// Copies between two layouts of the same elements: the output position `i` (row-major over
// `dims`) reads the input at the offset its index has under `src_strides` and writes the output
// at the offset under `dst_strides`, times `scale`. One kernel serves permute (permuted strides),
// broadcast (zero strides; a mean's gradient with a scale), slice (a source offset) and concat or
// pad (a destination offset and strides).

struct StridedCopyParams {
    n: u32,
    rank: u32,
    src_offset: u32,
    dst_offset: u32,
    scale: f32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
    dims: array<vec4u, 2>,
    src_strides: array<vec4u, 2>,
    dst_strides: array<vec4u, 2>,
}

@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let i = linear_index(id, groups, 256u);
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
    // Multiplying by exactly 1 changes nothing, so plain copies stay exact.
    dst[t] = src[s] * p.scale;
}
