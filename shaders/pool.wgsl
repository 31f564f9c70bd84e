// Max and average pooling of NHWC images and their gradients, one invocation per element written.
//
// A window is described by the range of its taps that land inside the image (padding never wins a
// max and is not counted in an average, as in Keras). The gradients are in gather form: each
// input element visits the windows covering it, in increasing (oy, ox) order (the order in which
// the CPU reference adds them), so no two invocations write the same place and no atomics are
// needed. Max pooling records, per output, which tap of its window won (ky * window_w + kx): its
// gradient then routes each output's gradient to that tap.
//
// The parameter block is the shared WindowParams (lib/window.wgsl). The taps, laid out like the
// pooled output, share the pooled side's offset.

// Forward: the images and the pooled output. Backward: the output gradient and the input gradient.
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
// The winning taps, written by max pooling and read by its gradient. A WGSL variable has one
// access mode, so each of the two entry points declares its own view of the binding.
@group(0) @binding(3) var<storage, read_write> taps_out: array<u32>;
@group(0) @binding(3) var<storage, read> taps_in: array<u32>;
// The same buffers as vectors of four channels, for the `_vec4` entry points (channels and
// offsets are multiples of four there).
@group(0) @binding(1) var<storage, read> src4: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> dst4: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> taps_out4: array<vec4u>;
@group(0) @binding(3) var<storage, read> taps_in4: array<vec4u>;

// Where input pixel (image, y, x), channel c, sits in the source binding.
fn input_index(image: u32, y: u32, x: u32, c: u32) -> u32 {
    return p.src_offset + ((image * p.in_h + y) * p.in_w + x) * p.channels + c;
}

@compute @workgroup_size(256)
fn max_pool(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let i = linear_index(id, groups, 256u);
    if i >= p.n {
        return;
    }
    let o = window_position(i, p.out_h, p.out_w);
    let rows = window_inside(o.y, p.stride_h, p.pad_top, p.window_h, p.in_h);
    let columns = window_inside(o.z, p.stride_w, p.pad_left, p.window_w, p.in_w);
    var best = 0.0;
    var at = 0u;
    var found = false;
    for (var ky = rows.x; ky < rows.y; ky++) {
        for (var kx = columns.x; kx < columns.y; kx++) {
            let v = src[input_index(o.x, o.y * p.stride_h + ky - p.pad_top, o.z * p.stride_w + kx - p.pad_left, o.w)];
            // Strictly greater: a tie keeps the first tap, as the CPU does.
            // The first NaN wins and stays, as NumPy propagates it.
            if !found || (!is_nan(best) && (v > best || is_nan(v))) {
                best = v;
                at = ky * p.window_w + kx;
                found = true;
            }
        }
    }
    dst[p.dst_offset + i] = best;
    taps_out[p.dst_offset + i] = at;
}

@compute @workgroup_size(256)
fn max_pool_backward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let i = linear_index(id, groups, 256u);
    if i >= p.n {
        return;
    }
    let q = window_position(i, p.in_h, p.in_w);
    let qy = q.y + p.pad_top;
    let qx = q.z + p.pad_left;
    let rows = window_covering(qy, p.window_h, p.stride_h, p.out_h);
    let columns = window_covering(qx, p.window_w, p.stride_w, p.out_w);
    var sum = 0.0;
    for (var oy = rows.x; oy < rows.y; oy++) {
        for (var ox = columns.x; ox < columns.y; ox++) {
            let tap = (qy - oy * p.stride_h) * p.window_w + (qx - ox * p.stride_w);
            let out = p.src_offset + ((q.x * p.out_h + oy) * p.out_w + ox) * p.channels + q.w;
            if taps_in[out] == tap {
                sum += src[out];
            }
        }
    }
    dst[p.dst_offset + i] = sum;
}

// max_pool over four channels at once: one vector load per tap instead of four, and the
// window's geometry worked out once for the four. Same per-channel rule (first tap wins ties).
@compute @workgroup_size(256)
fn max_pool_vec4(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let i = 4u * linear_index(id, groups, 256u);
    if i >= p.n {
        return;
    }
    let o = window_position(i, p.out_h, p.out_w);
    let rows = window_inside(o.y, p.stride_h, p.pad_top, p.window_h, p.in_h);
    let columns = window_inside(o.z, p.stride_w, p.pad_left, p.window_w, p.in_w);
    var best = vec4f(0.0);
    var at = vec4u(0u);
    var found = false;
    for (var ky = rows.x; ky < rows.y; ky++) {
        for (var kx = columns.x; kx < columns.y; kx++) {
            let v = src4[input_index(o.x, o.y * p.stride_h + ky - p.pad_top, o.z * p.stride_w + kx - p.pad_left, o.w) / 4u];
            let better = (!is_nan4(best) & ((v > best) | is_nan4(v))) | vec4<bool>(!found);
            best = select(best, v, better);
            at = select(at, vec4u(ky * p.window_w + kx), better);
            found = true;
        }
    }
    dst4[(p.dst_offset + i) / 4u] = best;
    taps_out4[(p.dst_offset + i) / 4u] = at;
}

// max_pool_backward over four channels at once, adding in the same order.
@compute @workgroup_size(256)
fn max_pool_backward_vec4(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let i = 4u * linear_index(id, groups, 256u);
    if i >= p.n {
        return;
    }
    let q = window_position(i, p.in_h, p.in_w);
    let qy = q.y + p.pad_top;
    let qx = q.z + p.pad_left;
    let rows = window_covering(qy, p.window_h, p.stride_h, p.out_h);
    let columns = window_covering(qx, p.window_w, p.stride_w, p.out_w);
    var sum = vec4f(0.0);
    for (var oy = rows.x; oy < rows.y; oy++) {
        for (var ox = columns.x; ox < columns.y; ox++) {
            let tap = (qy - oy * p.stride_h) * p.window_w + (qx - ox * p.stride_w);
            let out = (p.src_offset + ((q.x * p.out_h + oy) * p.out_w + ox) * p.channels + q.w) / 4u;
            // Adding zero where another tap won leaves the sum as the scalar kernel has it (it
            // starts at +0, so it is never -0).
            sum += select(vec4f(0.0), src4[out], taps_in4[out] == vec4u(tap));
        }
    }
    dst4[(p.dst_offset + i) / 4u] = sum;
}

// max_pool_backward for windows that do not overlap (strides at least the window), in scatter
// form: each pooled output, four channels at once, writes its window's taps — its gradient to
// the tap that won, zero to the others. No two windows share an input, so no two invocations
// write the same place; inputs no window covers were zeroed before. A quarter of the gather
// form's invocations and none of its divisions per input element. `p.n` counts pooled outputs.
@compute @workgroup_size(256)
fn max_pool_backward_scatter_vec4(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let i = 4u * linear_index(id, groups, 256u);
    if i >= p.n {
        return;
    }
    let o = window_position(i, p.out_h, p.out_w);
    let rows = window_inside(o.y, p.stride_h, p.pad_top, p.window_h, p.in_h);
    let columns = window_inside(o.z, p.stride_w, p.pad_left, p.window_w, p.in_w);
    let grad = src4[(p.src_offset + i) / 4u];
    let won = taps_in4[(p.src_offset + i) / 4u];
    for (var ky = rows.x; ky < rows.y; ky++) {
        for (var kx = columns.x; kx < columns.y; kx++) {
            let y = o.y * p.stride_h + ky - p.pad_top;
            let x = o.z * p.stride_w + kx - p.pad_left;
            let at = p.dst_offset + ((o.x * p.in_h + y) * p.in_w + x) * p.channels + o.w;
            // +0 plus the share, as the gather form sums from +0 (never -0).
            dst4[at / 4u] = vec4f(0.0) + select(vec4f(0.0), grad, won == vec4u(ky * p.window_w + kx));
        }
    }
}

// The number of input pixels the window at (oy, ox) covers.
fn covered(oy: u32, ox: u32) -> u32 {
    let rows = window_inside(oy, p.stride_h, p.pad_top, p.window_h, p.in_h);
    let columns = window_inside(ox, p.stride_w, p.pad_left, p.window_w, p.in_w);
    return (rows.y - rows.x) * (columns.y - columns.x);
}

@compute @workgroup_size(256)
fn avg_pool(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let i = linear_index(id, groups, 256u);
    if i >= p.n {
        return;
    }
    let o = window_position(i, p.out_h, p.out_w);
    let rows = window_inside(o.y, p.stride_h, p.pad_top, p.window_h, p.in_h);
    let columns = window_inside(o.z, p.stride_w, p.pad_left, p.window_w, p.in_w);
    var sum = 0.0;
    for (var ky = rows.x; ky < rows.y; ky++) {
        for (var kx = columns.x; kx < columns.y; kx++) {
            sum += src[input_index(o.x, o.y * p.stride_h + ky - p.pad_top, o.z * p.stride_w + kx - p.pad_left, o.w)];
        }
    }
    dst[p.dst_offset + i] = sum * (1.0 / f32(covered(o.y, o.z)));
}

@compute @workgroup_size(256)
fn avg_pool_backward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let i = linear_index(id, groups, 256u);
    if i >= p.n {
        return;
    }
    let q = window_position(i, p.in_h, p.in_w);
    let rows = window_covering(q.y + p.pad_top, p.window_h, p.stride_h, p.out_h);
    let columns = window_covering(q.z + p.pad_left, p.window_w, p.stride_w, p.out_w);
    var sum = 0.0;
    for (var oy = rows.x; oy < rows.y; oy++) {
        for (var ox = columns.x; ox < columns.y; ox++) {
            let out = p.src_offset + ((q.x * p.out_h + oy) * p.out_w + ox) * p.channels + q.w;
            sum += src[out] * (1.0 / f32(covered(oy, ox)));
        }
    }
    dst[p.dst_offset + i] = sum;
}
