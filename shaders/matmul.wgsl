// Batched matrix product C[b] = op(A[b]) · op(B[b]), op = identity or transpose, for any M, N, K,
// with an epilogue: each output is stored as activate(c + bias[column]), the bias present when
// the override constant HAS_BIAS is 1 and the activation an ACTIVATION_* code (lib/activation.wgsl).
//
// Each 8x16 workgroup computes a 64x64 tile of C; each invocation holds a 4x8 block of it (rows
// ty + 16r, columns tx + 8c, interleaved so neighbouring invocations touch neighbouring
// addresses) in eight named vec4 registers. K is walked in slices of 16: both operands' slices
// are staged in workgroup memory (out-of-range elements read as zero, so no size needs to be a
// multiple of a tile), then every invocation does 32 fused multiply-adds per staged k for 12
// reads of workgroup memory. Transposes only change the address arithmetic of the staging
// loads; a batch stride of 0 broadcasts an operand over the batch.
//
// Why this shape: the accumulators are separate variables, not an array, because drivers that
// cannot keep a dynamically indexed private array in registers (lavapipe among them) spill it
// to memory; with 4x8 blocks lavapipe runs 1.5x faster than with 4x4. An 8x8 block was faster
// still there but read wrong values from operands past 2^24 elements (checked by the split
// tests in tests/gpu_limits.rs), so it is not used.

struct MatmulParams {
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
    // The leaky relu slope, for that activation.
    alpha: f32,
}

override ACTIVATION: u32;
override HAS_BIAS: u32;

@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
// One value per column of C; a placeholder when HAS_BIAS is 0.
@group(0) @binding(4) var<storage, read> bias: array<f32>;

const TILE: u32 = 64u;
const SLICE: u32 = 16u;
const THREADS: u32 = 128u;
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

// The epilogue: bias, then activation.
fn finish(v: f32, col: u32) -> f32 {
    var z = v;
    if HAS_BIAS == 1u {
        z += bias[col];
    }
    return activate(z, ACTIVATION, p.alpha);
}

// Writes one row of an invocation's block: columns col + 8j (lo) and col + 32 + 8j (hi), j < 4.
fn store_row(c_base: u32, row: u32, col: u32, lo: vec4f, hi: vec4f) {
    if row >= p.m {
        return;
    }
    for (var j = 0u; j < 4u; j++) {
        if col + 8u * j < p.n {
            c[c_base + row * p.n + col + 8u * j] = finish(lo[j], col + 8u * j);
        }
        if col + 32u + 8u * j < p.n {
            c[c_base + row * p.n + col + 32u + 8u * j] = finish(hi[j], col + 32u + 8u * j);
        }
    }
}

@compute @workgroup_size(8, 16)
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) local: vec3u) {
    let batch = group.z;
    let row0 = group.y * TILE;
    let col0 = group.x * TILE;
    let tx = local.x;
    let ty = local.y;
    let lane = ty * 8u + tx;
    let a_base = p.a_offset + batch * p.a_batch_stride;
    let b_base = p.b_offset + batch * p.b_batch_stride;
    var acc0 = vec4f(0.0);
    var acc1 = vec4f(0.0);
    var acc2 = vec4f(0.0);
    var acc3 = vec4f(0.0);
    var acc4 = vec4f(0.0);
    var acc5 = vec4f(0.0);
    var acc6 = vec4f(0.0);
    var acc7 = vec4f(0.0);
    for (var k0 = 0u; k0 < p.k; k0 += SLICE) {
        for (var i = 0u; i < 8u; i++) {
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
            let t = kk * TILE + tx;
            let b0 = vec4f(b_tile[t], b_tile[t + 8u], b_tile[t + 16u], b_tile[t + 24u]);
            let b1 = vec4f(b_tile[t + 32u], b_tile[t + 40u], b_tile[t + 48u], b_tile[t + 56u]);
            let a0 = vec4f(a_tile[kk * TILE + ty + 0u]);
            acc0 = fma(a0, b0, acc0);
            acc1 = fma(a0, b1, acc1);
            let a1 = vec4f(a_tile[kk * TILE + ty + 16u]);
            acc2 = fma(a1, b0, acc2);
            acc3 = fma(a1, b1, acc3);
            let a2 = vec4f(a_tile[kk * TILE + ty + 32u]);
            acc4 = fma(a2, b0, acc4);
            acc5 = fma(a2, b1, acc5);
            let a3 = vec4f(a_tile[kk * TILE + ty + 48u]);
            acc6 = fma(a3, b0, acc6);
            acc7 = fma(a3, b1, acc7);
        }
        workgroupBarrier();
    }
    let c_base = p.c_offset + batch * p.c_batch_stride;
    store_row(c_base, row0 + ty + 0u, col0 + tx, acc0, acc1);
    store_row(c_base, row0 + ty + 16u, col0 + tx, acc2, acc3);
    store_row(c_base, row0 + ty + 32u, col0 + tx, acc4, acc5);
    store_row(c_base, row0 + ty + 48u, col0 + tx, acc6, acc7);
}
