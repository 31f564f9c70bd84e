// Batched matrix product C[b] = op(A[b]) · op(B[b]), op = identity or transpose, for any M, N, K.
//
// Each 16x16 workgroup computes a 64x64 tile of C; each invocation holds a 4x4 block of it in
// registers. K is walked in slices of 16: both operands' slices are staged in workgroup memory
// (out-of-range elements read as zero, so no size needs to be a multiple of a tile), then every
// invocation does 4x4 fused multiply-adds per staged k. An invocation's rows and columns are
// interleaved (ty + 16r, tx + 16c) so neighbouring invocations touch neighbouring addresses.
// Transposes only change the address arithmetic of the staging loads. A batch stride of 0
// broadcasts an operand over the batch.

struct Params {
    m: u32,
    n: u32,
    k: u32,
    trans_a: u32,
    trans_b: u32,
    a_batch_stride: u32,
    b_batch_stride: u32,
    c_batch_stride: u32,
    // Element offsets of each operand inside its binding (bindings start at aligned offsets).
    a_offset: u32,
    b_offset: u32,
    c_offset: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

const TILE: u32 = 64u;
const SLICE: u32 = 16u;
const THREADS: u32 = 256u;

// Staged slices, k-major: a_tile[kk * TILE + row], b_tile[kk * TILE + col].
var<workgroup> a_tile: array<f32, 1024>;
var<workgroup> b_tile: array<f32, 1024>;

fn load_a(base: u32, row: u32, col: u32) -> f32 {
    if row >= p.m || col >= p.k {
        return 0.0;
    }
    if p.trans_a == 0u {
        return a[base + row * p.k + col];
    }
    return a[base + col * p.m + row];
}

fn load_b(base: u32, row: u32, col: u32) -> f32 {
    if row >= p.k || col >= p.n {
        return 0.0;
    }
    if p.trans_b == 0u {
        return b[base + row * p.n + col];
    }
    return b[base + col * p.k + row];
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) local: vec3u) {
    let batch = group.z;
    let row0 = group.y * TILE;
    let col0 = group.x * TILE;
    let tx = local.x;
    let ty = local.y;
    let lane = ty * 16u + tx;
    let a_base = p.a_offset + batch * p.a_batch_stride;
    let b_base = p.b_offset + batch * p.b_batch_stride;

    var acc: array<vec4f, 4>;
    for (var k0 = 0u; k0 < p.k; k0 += SLICE) {
        for (var i = 0u; i < 4u; i++) {
            let index = lane + i * THREADS;
            // A: consecutive lanes walk k (row-major A is contiguous along k).
            let a_row = index / SLICE;
            let a_k = index % SLICE;
            a_tile[a_k * TILE + a_row] = load_a(a_base, row0 + a_row, k0 + a_k);
            // B: consecutive lanes walk columns (row-major B is contiguous along n).
            let b_k = index / TILE;
            let b_col = index % TILE;
            b_tile[b_k * TILE + b_col] = load_b(b_base, k0 + b_k, col0 + b_col);
        }
        workgroupBarrier();
        for (var kk = 0u; kk < SLICE; kk++) {
            let bv = vec4f(
                b_tile[kk * TILE + tx],
                b_tile[kk * TILE + tx + 16u],
                b_tile[kk * TILE + tx + 32u],
                b_tile[kk * TILE + tx + 48u],
            );
            for (var r = 0u; r < 4u; r++) {
                acc[r] = fma(vec4f(a_tile[kk * TILE + ty + 16u * r]), bv, acc[r]);
            }
        }
        workgroupBarrier();
    }

    let c_base = p.c_offset + batch * p.c_batch_stride;
    for (var r = 0u; r < 4u; r++) {
        let row = row0 + ty + 16u * r;
        if row >= p.m {
            continue;
        }
        for (var col_block = 0u; col_block < 4u; col_block++) {
            let col = col0 + tx + 16u * col_block;
            if col < p.n {
                c[c_base + row * p.n + col] = acc[r][col_block];
            }
        }
    }
}
