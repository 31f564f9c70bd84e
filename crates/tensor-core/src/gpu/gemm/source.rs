//! The WGSL of a product kernel, written for one [`Variant`]: its operand loaders (stored
//! matrices, or a convolution's operands addressed in place), its schedule, and its epilogue.
//! Generated, because WGSL has neither generics nor register arrays that every driver keeps in
//! registers: each accumulator is a named `vec4f`.
//!
//! Addresses are split into what depends on the row or the column (computed once, before the
//! loop over k) and what depends on k (computed once per k for the whole block), so the inner
//! loop does one addition per load. A convolution's loaders also check that a tap lands inside
//! the image, with two unsigned comparisons.

use std::fmt::Write;

use super::{Kind, Schedule, Variant};

/// Invocations per workgroup side of the direct schedule, and the split-K schedule's width.
pub(crate) const LANES: u32 = 8;
pub(crate) const SPLIT_LANES: u32 = 64;

/// The parameter block, the specialisation constants and the bindings every product kernel
/// shares.
const HEADER: &str = "
struct GemmParams {
    m: u32,
    n: u32,
    k_begin: u32,
    k_end: u32,
    a_offset: u32,
    a_batch: u32,
    a_row: u32,
    a_col: u32,
    b_offset: u32,
    b_batch: u32,
    b_row: u32,
    b_col: u32,
    c_offset: u32,
    c_batch: u32,
    alpha: f32,
    channels: u32,
    in_h: u32,
    in_w: u32,
    window_w: u32,
    stride_h: u32,
    stride_w: u32,
    out_h: u32,
    out_w: u32,
    pad_top: u32,
    pad_left: u32,
    filters: u32,
    group_x: u32,
    group_y: u32,
    group_z: u32,
    _pad: u32,
}

// The activation the epilogue applies, and the one whose derivative gates an operand (both
// ACTIVATION_* codes, sharing `p.alpha`). Whether this dispatch adds onto C (a later slice of k,
// or of the batch), applies the epilogue (the last slice), and adds the bias.
override ACTIVATION: u32;
override GATE: u32;
override ACCUMULATE: u32;
override EPILOGUE: u32;
override HAS_BIAS: u32;

// Every operand holds `Element`: f32, or f16 read into f32 and rounded back as it is stored.
@group(0) @binding(1) var<storage, read> a: array<Element>;
@group(0) @binding(2) var<storage, read> b: array<Element>;
@group(0) @binding(3) var<storage, read_write> c: array<Element>;
@group(0) @binding(4) var<storage, read> bias: array<Element>;
@group(0) @binding(5) var<storage, read> gate: array<Element>;
@group(0) @binding(6) var<storage, read_write> sums: array<Element>;
";

/// The kernel's source.
pub(crate) fn generate(v: &Variant) -> String {
    let mut s = format!("// A product kernel: {}.\n", v.describe());
    let _ = writeln!(s, "alias Element = {};", if v.half { "f16" } else { "f32" });
    s.push_str(HEADER);
    s.push_str(&row_info(v));
    s.push_str(&gates(v));
    s.push_str(&loaders(v));
    s.push_str(&store(v));
    s.push_str(&match v.schedule {
        Schedule::Direct { tm, tn } => direct(v, tm, tn),
        Schedule::SplitK { tm, tn } => split_k(v, tm, tn),
        Schedule::Subgroup { tm, tn, size } => subgroup(v, tm, tn, size),
        Schedule::Tiled { bm, bn, bk } => tiled(v, bm, bn, bk),
    });
    s
}

/// The number of rows of A the kernel covers: one more with column sums (a row of ones).
fn rows_expr(v: &Variant) -> &'static str {
    if v.column_sums { "(p.m + 1u)" } else { "p.m" }
}

/// Whether every row a workgroup touches is a real row of A, so loads skip the row check.
fn rows_whole(v: &Variant) -> bool {
    v.aligned && !v.column_sums
}

/// `row_info(batch, row)`: what a row of A contributes to its addresses, computed once. `w` is
/// 1 for a real row, 2 for the row of ones, 0 past the end; `x` the part of the row's address
/// that does not depend on k; `y`, `z` the row's position for a convolution's bounds checks.
fn row_info(v: &Variant) -> String {
    let rows = rows_expr(v);
    let body = match v.kind {
        Kind::Matrix => "    return vec4<i32>(i32(p.a_offset + batch * p.a_batch + row * p.a_row), 0, 0, 1);",
        // Output position (n, oy, ox): the top-left tap of its window, which may be padding.
        Kind::ConvForward => {
            "    let ox = row % p.out_w;
    let t = row / p.out_w;
    let oy = t % p.out_h;
    let n = t / p.out_h;
    let y = i32(oy * p.stride_h) - i32(p.pad_top);
    let x = i32(ox * p.stride_w) - i32(p.pad_left);
    let base = i32(p.a_offset + n * p.in_h * p.in_w * p.channels) + (y * i32(p.in_w) + x) * i32(p.channels);
    return vec4<i32>(base, y, x, 1);"
        }
        // Tap (ky, kx, c): its offset from a window's first pixel, before padding.
        Kind::ConvKernelGrad => {
            "    let ch = row % p.channels;
    let t = row / p.channels;
    let kx = t % p.window_w;
    let ky = t / p.window_w;
    let y = i32(ky) - i32(p.pad_top);
    let x = i32(kx) - i32(p.pad_left);
    return vec4<i32>(i32(p.a_offset + ch) + (y * i32(p.in_w) + x) * i32(p.channels), y, x, 1);"
        }
        // Input pixel (n, y, x): the output position whose window puts tap (0, 0) on it.
        Kind::ConvInputGrad => {
            "    let x = row % p.in_w;
    let t = row / p.in_w;
    let y = t % p.in_h;
    let n = t / p.in_h;
    let qy = i32(y + p.pad_top);
    let qx = i32(x + p.pad_left);
    let base = i32(p.a_offset + n * p.out_h * p.out_w * p.filters) + (qy * i32(p.out_w) + qx) * i32(p.filters);
    return vec4<i32>(base, qy, qx, 1);"
        }
    };
    let ones = if v.column_sums {
        "\n    if row == p.m {\n        return vec4<i32>(0, 0, 0, 2);\n    }"
    } else {
        ""
    };
    format!(
        "
fn row_info(batch: u32, row: u32) -> vec4<i32> {{
    if row >= {rows} {{
        return vec4<i32>(0, 0, 0, 0);
    }}{ones}
{body}
}}
"
    )
}

/// `gate_a` and `gate_b`: an operand's value, times the gate's activation derivative where that
/// operand is gated.
fn gates(v: &Variant) -> String {
    let mut s = String::new();
    for (name, gated) in [("gate_a", v.gate_a), ("gate_b", v.gate_b)] {
        let body = if gated {
            "return value * activation_derivative(f32(gate[index]), GATE, p.alpha);"
        } else {
            "return value;"
        };
        let _ = writeln!(s, "fn {name}(value: f32, index: u32) -> f32 {{\n    {body}\n}}");
    }
    s
}

/// The per-k part of A's and B's addresses (`ka`, `kb`), computed once per k for the block,
/// and, for a convolution's kernel gradient, the window's position (`wy`, `wx`).
fn k_values(kind: Kind) -> &'static str {
    match kind {
        Kind::Matrix => {
            "        let ka = i32(k * p.a_col);
        let kb = p.b_offset + batch * p.b_batch + k * p.b_row;
"
        }
        // k = (ky, kx, c): the tap's offset from the window's first pixel.
        Kind::ConvForward => {
            "        let ka = (i32(k0) * i32(p.in_w) + i32(k1)) * i32(p.channels) + i32(k2);
        let kb = p.b_offset + k * p.b_row;
"
        }
        // k = (n, oy, ox): the window's first pixel.
        Kind::ConvKernelGrad => {
            "        let wy = i32(k1 * p.stride_h);
        let wx = i32(k2 * p.stride_w);
        let ka = ((i32(k0 * p.in_h) + wy) * i32(p.in_w) + wx) * i32(p.channels);
        let kb = p.b_offset + k * p.b_row;
"
        }
        // k = (ky, kx, f): back from the row's position to the output the tap comes from.
        Kind::ConvInputGrad => {
            "        let ka = i32(k2) - (i32(k0) * i32(p.out_w) + i32(k1)) * i32(p.filters);
        let kb = p.b_offset + (k0 * p.window_w + k1) * p.channels * p.filters + k2;
"
        }
    }
}

/// The arguments `load_a` takes after a row's info: the per-k values of the kind.
fn a_args(kind: Kind) -> &'static str {
    match kind {
        Kind::Matrix => "ka",
        Kind::ConvForward | Kind::ConvInputGrad => "ka, k0, k1",
        Kind::ConvKernelGrad => "ka, wy, wx",
    }
}

/// `load_a(info, ...)`: one element of A, zero outside it (and 1 in the row of ones);
/// `load_b(kb, col)`: one element of B at column `col`, zero past the last column. (Early
/// returns, not `select`: lavapipe compiles the branches of a large block many times faster.)
fn loaders(v: &Variant) -> String {
    let (params, inside) = match v.kind {
        Kind::Matrix => ("ka: i32", None),
        Kind::ConvForward => (
            "ka: i32, ky: u32, kx: u32",
            Some("u32(info.y + i32(ky)) >= p.in_h || u32(info.z + i32(kx)) >= p.in_w"),
        ),
        Kind::ConvKernelGrad => {
            ("ka: i32, wy: i32, wx: i32", Some("u32(wy + info.y) >= p.in_h || u32(wx + info.z) >= p.in_w"))
        }
        Kind::ConvInputGrad => (
            "ka: i32, ky: u32, kx: u32",
            Some("u32(info.y - i32(ky)) >= p.out_h || u32(info.z - i32(kx)) >= p.out_w"),
        ),
    };
    let mut load_a = String::new();
    if !rows_whole(v) {
        load_a.push_str("    if info.w != 1 {\n        return select(0.0, 1.0, info.w == 2);\n    }\n");
    }
    if let Some(outside) = inside {
        let _ = writeln!(load_a, "    if {outside} {{\n        return 0.0;\n    }}");
    }
    load_a.push_str("    let i = u32(info.x + ka);\n    return gate_a(f32(a[i]), i);");
    let col_stride = if v.kind == Kind::ConvInputGrad { "p.filters" } else { "p.b_col" };
    let col_check = if v.aligned { "" } else { "    if col >= p.n {\n        return 0.0;\n    }\n" };
    format!(
        "
fn load_a(info: vec4<i32>, {params}) -> f32 {{
{load_a}
}}

fn load_b(kb: u32, col: u32) -> f32 {{
{col_check}    let i = kb + col * {col_stride};
    return gate_b(f32(b[i]), i);
}}

fn load_b4(kb: u32, col: u32) -> vec4f {{
    return vec4f(load_b(kb, col), load_b(kb, col + 1u), load_b(kb, col + 2u), load_b(kb, col + 3u));
}}
"
    )
}

/// `store(batch, row, col, value)`: one output, with what the variant does on the way: add to
/// the earlier slices' sum, then (on the last slice) the bias and the activation; the row of
/// ones goes to the column sums.
fn store(v: &Variant) -> String {
    let rows = rows_expr(v);
    let mut body = String::new();
    if v.column_sums {
        body.push_str(
            "    if row == p.m {
        var total = value;
        if ACCUMULATE == 1u {
            total += f32(sums[col]);
        }
        sums[col] = Element(total);
        return;
    }\n",
        );
    }
    body.push_str(
        "    let i = p.c_offset + batch * p.c_batch + row * p.n + col;
    var total = value;
    if ACCUMULATE == 1u {
        total += f32(c[i]);
    }
    if EPILOGUE == 1u {
        if HAS_BIAS == 1u {
            total += f32(bias[col]);
        }
        total = activate(total, ACTIVATION, p.alpha);
    }
    c[i] = Element(total);\n",
    );
    format!(
        "
fn store(batch: u32, row: u32, col: u32, value: f32) {{
    if row >= {rows} || col >= p.n {{
        return;
    }}
{body}}}

fn store4(batch: u32, row: u32, col: u32, step: u32, value: vec4f) {{
    store(batch, row, col, value.x);
    store(batch, row, col + step, value.y);
    store(batch, row, col + 2u * step, value.z);
    store(batch, row, col + 3u * step, value.w);
}}
"
    )
}

/// Declares `k`, `k0`, `k1`, `k2` at position `start` along the reduction (divisions, once).
fn k_init(kind: Kind, start: &str) -> String {
    let decompose = |inner: &str, middle: &str| {
        format!(
            "    var k = {start};
    var k2 = k % {inner};
    var k1 = (k / {inner}) % {middle};
    var k0 = k / {inner} / {middle};\n"
        )
    };
    match kind {
        Kind::Matrix => format!("    var k = {start};\n"),
        Kind::ConvForward => decompose("p.channels", "p.window_w"),
        Kind::ConvKernelGrad => decompose("p.out_w", "p.out_h"),
        Kind::ConvInputGrad => decompose("p.filters", "p.window_w"),
    }
}

/// Advances `k` and its decomposition by one (additions and comparisons only).
fn k_step(kind: Kind) -> String {
    let carry = |inner: &str, middle: &str| {
        format!(
            "        k += 1u;
        k2 += 1u;
        if k2 == {inner} {{
            k2 = 0u;
            k1 += 1u;
            if k1 == {middle} {{
                k1 = 0u;
                k0 += 1u;
            }}
        }}\n"
        )
    };
    match kind {
        Kind::Matrix => "        k += 1u;\n".to_string(),
        Kind::ConvForward => carry("p.channels", "p.window_w"),
        Kind::ConvKernelGrad => carry("p.out_w", "p.out_h"),
        Kind::ConvInputGrad => carry("p.filters", "p.window_w"),
    }
}

/// The multiply-adds of one k for a `tm` x `tn` block held in `acc_r_c`, whose vec4 column
/// groups are loaded by `b_loads` (statements defining `b_c`).
fn block_fma(kind: Kind, tm: u32, tn: u32, b_loads: &str) -> String {
    let mut s = String::from(k_values(kind));
    s.push_str(b_loads);
    for r in 0..tm {
        let _ = writeln!(s, "        let a_{r} = vec4f(load_a(info_{r}, {}));", a_args(kind));
        for c in 0..tn / 4 {
            let _ = writeln!(s, "        acc_{r}_{c} = fma(a_{r}, b_{c}, acc_{r}_{c});");
        }
    }
    s
}

fn declare_accumulators(tm: u32, tn: u32) -> String {
    let mut s = String::new();
    for r in 0..tm {
        for c in 0..tn / 4 {
            let _ = writeln!(s, "    var acc_{r}_{c} = vec4f(0.0);");
        }
    }
    s
}

/// The loop over `first..last` along the reduction, then the block's stores through
/// `store_block` (or, for split-K, its own).
fn reduction_loop(v: &Variant, tm: u32, tn: u32, (first, last): (&str, &str), b_loads: &str) -> String {
    let mut s = declare_accumulators(tm, tn);
    s.push_str(&k_init(v.kind, first));
    let _ = writeln!(s, "    for (var step = {first}; step < {last}; step++) {{");
    s.push_str(&block_fma(v.kind, tm, tn, b_loads));
    s.push_str(&k_step(v.kind));
    s.push_str("    }\n");
    s
}

/// Each invocation holds a `tm` x `tn` block of the output in registers and walks the whole
/// k range itself: rows `l.y + 8r`, columns `4(l.x + 8c)..+4` of the workgroup's tile, so
/// neighbouring invocations read neighbouring columns. No workgroup memory, no barriers.
fn direct(v: &Variant, tm: u32, tn: u32) -> String {
    let (tile_m, tile_n) = (LANES * tm, LANES * tn);
    let mut s = format!(
        "
@compute @workgroup_size({LANES}, {LANES}, 1)
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) l: vec3u) {{
    let g = group + vec3u(p.group_x, p.group_y, p.group_z);
    let batch = g.z;
    let row0 = g.y * {tile_m}u + l.y;
    let col0 = g.x * {tile_n}u + 4u * l.x;
"
    );
    for r in 0..tm {
        let _ = writeln!(s, "    let info_{r} = row_info(batch, row0 + {}u);", r * LANES);
    }
    let mut b_loads = String::new();
    for c in 0..tn / 4 {
        let _ = writeln!(b_loads, "        let b_{c} = load_b4(kb, col0 + {}u);", 4 * LANES * c);
    }
    s.push_str(&reduction_loop(v, tm, tn, ("p.k_begin", "p.k_end"), &b_loads));
    s.push_str(&store_block(tm, tn, ("row0", LANES), ("col0", 4 * LANES), 1));
    s.push_str("}\n");
    s
}

/// A workgroup owns a `tm` x `tn` block of the output; its invocations split the k range into
/// contiguous shares, each accumulates the block over its share, and the shares are summed in
/// workgroup memory. For a small output over a deep k (a weight gradient sums over every pixel
/// of the batch): one dispatch, and no invocation walks all of k.
fn split_k(v: &Variant, tm: u32, tn: u32) -> String {
    let vectors = tm * tn / 4;
    let mut s = format!(
        "
var<workgroup> partial: array<vec4f, {}>;

@compute @workgroup_size({SPLIT_LANES}, 1, 1)
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_index) lane: u32) {{
    let g = group + vec3u(p.group_x, p.group_y, p.group_z);
    let batch = g.z;
    let row0 = g.y * {tm}u;
    let col0 = g.x * {tn}u;
    let share = (p.k_end - p.k_begin + {SPLIT_LANES}u - 1u) / {SPLIT_LANES}u;
    let first = min(p.k_begin + lane * share, p.k_end);
    let last = min(first + share, p.k_end);
",
        SPLIT_LANES * vectors
    );
    for r in 0..tm {
        let _ = writeln!(s, "    let info_{r} = row_info(batch, row0 + {r}u);");
    }
    let mut b_loads = String::new();
    for c in 0..tn / 4 {
        let _ = writeln!(b_loads, "        let b_{c} = load_b4(kb, col0 + {}u);", 4 * c);
    }
    s.push_str(&reduction_loop(v, tm, tn, ("first", "last"), &b_loads));
    for r in 0..tm {
        for c in 0..tn / 4 {
            let _ = writeln!(s, "    partial[lane * {vectors}u + {}u] = acc_{r}_{c};", r * (tn / 4) + c);
        }
    }
    let _ = write!(
        s,
        "    workgroupBarrier();
    for (var width = {half}u; width > 0u; width /= 2u) {{
        if lane < width {{
            for (var q = 0u; q < {vectors}u; q++) {{
                partial[lane * {vectors}u + q] += partial[(lane + width) * {vectors}u + q];
            }}
        }}
        workgroupBarrier();
    }}
    if lane < {vectors}u {{
        store4(batch, row0 + lane / {per_row}u, col0 + 4u * (lane % {per_row}u), 1u, partial[lane]);
    }}
}}
",
        half = SPLIT_LANES / 2,
        per_row = tn / 4,
    );
    s
}

/// A workgroup is one subgroup of `size` invocations (a SIMD vector of the device), which
/// together own `size * tm` rows and `tn` columns: each invocation its own `tm` rows. At each
/// k every invocation loads its rows of A and a different `tn / size` columns of B, and the
/// columns are shared by subgroup broadcasts, which cost a register shuffle where a load costs
/// far more (lavapipe). Needs a fixed subgroup size.
fn subgroup(v: &Variant, tm: u32, tn: u32, size: u32) -> String {
    let rows = size * tm;
    let mut s = format!(
        "
@compute @workgroup_size({size}, 1, 1)
fn main(@builtin(workgroup_id) group: vec3u, @builtin(subgroup_invocation_id) lane: u32) {{
    let g = group + vec3u(p.group_x, p.group_y, p.group_z);
    let batch = g.z;
    let row0 = g.y * {rows}u + lane;
    let col0 = g.x * {tn}u;
"
    );
    for r in 0..tm {
        let _ = writeln!(s, "    let info_{r} = row_info(batch, row0 + {}u);", r * size);
    }
    let mut b_loads = String::new();
    for q in 0..tn / size {
        let _ = writeln!(b_loads, "        let share_{q} = load_b(kb, col0 + {}u + lane);", q * size);
    }
    for c in 0..tn / 4 {
        let lanes: Vec<String> = (0..4)
            .map(|j| {
                let column = 4 * c + j;
                format!("subgroupBroadcast(share_{}, {}u)", column / size, column % size)
            })
            .collect();
        let _ = writeln!(b_loads, "        let b_{c} = vec4f({});", lanes.join(", "));
    }
    s.push_str(&reduction_loop(v, tm, tn, ("p.k_begin", "p.k_end"), &b_loads));
    s.push_str(&store_block(tm, tn, ("row0", size), ("col0", 4), 1));
    s.push_str("}\n");
    s
}

/// The classic tiled product for GPUs with fast workgroup memory: 16 x 16 invocations own a
/// `bm` x `bn` tile; slices of `bk` along k of A and B are staged in workgroup memory, double
/// buffered (each invocation fetches the next slice into registers while the tile computes on
/// the current one, so one barrier per slice suffices); each invocation accumulates
/// `bm / 16` x `bn / 16` outputs at rows `l.y + 16i` and columns `l.x + 16j`.
fn tiled(v: &Variant, bm: u32, bn: u32, bk: u32) -> String {
    // 256 invocations fetch a whole slice: one vector of B each, at most one of A.
    debug_assert!(
        bn * bk == 1024 && bm * bk <= 1024 && bm.is_multiple_of(16) && bn.is_multiple_of(64),
        "tiled {bm}x{bn}x{bk}"
    );
    let (tm, tn) = (bm / 16, bn / 16);
    let (a_threads, b_threads) = (256 / bm, 256 / bk);
    let a_per = bk / a_threads;
    let mut s = format!(
        "
var<workgroup> tile_a: array<f32, {a_len}>;
var<workgroup> tile_b: array<f32, {b_len}>;

// This invocation's share of the next slice of A (consecutive k of one row) and of B
// (consecutive columns of one k), zero past the end of the reduction.
fn fetch_a(info: vec4<i32>, batch: u32, first: u32) -> vec4f {{
    var fetched = vec4f(0.0);
{k_init}{fetch_a_body}    return fetched;
}}

fn fetch_b(batch: u32, first: u32, col: u32) -> vec4f {{
    if first >= p.k_end {{
        return vec4f(0.0);
    }}
{k_init}{k_values}    return load_b4(kb, col);
}}

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) l: vec3u, @builtin(local_invocation_index) t: u32) {{
    let g = group + vec3u(p.group_x, p.group_y, p.group_z);
    let batch = g.z;
    let row_base = g.y * {bm}u;
    let col_base = g.x * {bn}u;
    let a_row = t / {a_threads}u;
    let a_k = (t % {a_threads}u) * {a_per}u;
    let info = row_info(batch, row_base + a_row);
    let b_k = t / {b_threads}u;
    let b_col = (t % {b_threads}u) * 4u;
    var next_a = fetch_a(info, batch, p.k_begin + a_k);
    var next_b = fetch_b(batch, p.k_begin + b_k, col_base + b_col);
",
        a_len = 2 * bk * bm,
        b_len = 2 * bk * bn,
        k_init = k_init(v.kind, "first"),
        k_values = k_values(v.kind),
        fetch_a_body = (0..a_per).map(|j| fetch_a_element(v.kind, j)).collect::<String>(),
    );
    s.push_str(&declare_accumulators(tm, tn));
    // Every loop inside the slice loop is unrolled: llvmpipe's cut-off counts a nested loop's
    // iterations over the whole invocation, not per entry.
    let _ = writeln!(
        s,
        "    var buffer = 0u;\n    for (var slice = p.k_begin; slice < p.k_end; slice += {bk}u) {{"
    );
    for j in 0..a_per {
        let _ = writeln!(s, "        tile_a[(buffer * {bk}u + a_k + {j}u) * {bm}u + a_row] = next_a[{j}];");
    }
    for j in 0..4 {
        let _ = writeln!(s, "        tile_b[(buffer * {bk}u + b_k) * {bn}u + b_col + {j}u] = next_b[{j}];");
    }
    let _ = write!(
        s,
        "        workgroupBarrier();
        next_a = fetch_a(info, batch, slice + {bk}u + a_k);
        next_b = fetch_b(batch, slice + {bk}u + b_k, col_base + b_col);
"
    );
    for kk in 0..bk {
        let _ = writeln!(s, "        {{\n            let line = buffer * {bk}u + {kk}u;");
        for c in 0..tn / 4 {
            let lanes: Vec<String> =
                (0..4).map(|j| format!("tile_b[line * {bn}u + l.x + {}u]", 16 * (4 * c + j))).collect();
            let _ = writeln!(s, "            let b_{c} = vec4f({});", lanes.join(", "));
        }
        for r in 0..tm {
            let _ = writeln!(s, "            let a_{r} = vec4f(tile_a[line * {bm}u + l.y + {}u]);", 16 * r);
            for c in 0..tn / 4 {
                let _ = writeln!(s, "            acc_{r}_{c} = fma(a_{r}, b_{c}, acc_{r}_{c});");
            }
        }
        s.push_str("        }\n");
    }
    s.push_str("        buffer = 1u - buffer;\n    }\n");
    s.push_str(&store_block(tm, tn, ("row_base + l.y", 16), ("col_base + l.x", 64), 16));
    s.push_str("}\n");
    s
}

/// Element `j` of the tiled kernel's `fetch_a`: one load of A (zero past the reduction's end),
/// then a step along k.
fn fetch_a_element(kind: Kind, j: u32) -> String {
    format!(
        "    if k < p.k_end {{
{}        fetched[{j}] = load_a(info, {});
    }}
{}",
        k_values(kind),
        a_args(kind),
        k_step(kind)
    )
}

/// Stores a `tm` x `tn` block held in `acc_r_c`, whose row `r` is at `row.0 + r * row.1` and
/// whose vector `c` starts at column `col.0 + c * col.1`, its lanes `step` apart. Unrolled:
/// a loop over an array of the accumulators makes LLVM-based drivers spill them, and then
/// compile for minutes.
fn store_block(tm: u32, tn: u32, row: (&str, u32), col: (&str, u32), step: u32) -> String {
    let mut s = String::new();
    for r in 0..tm {
        for c in 0..tn / 4 {
            let _ = writeln!(
                s,
                "    store4(batch, {} + {}u, {} + {}u, {step}u, acc_{r}_{c});",
                row.0,
                r * row.1,
                col.0,
                c * col.1
            );
        }
    }
    s
}
