// Max and average pooling of NHWC images and their gradients, one invocation per element written.
//
// A window is described by the range of its taps that land inside the image (padding never wins a
// max and is not counted in an average, as in Keras). The gradients are in gather form: each
// input element visits the windows covering it, in increasing (oy, ox) order (the order in which
// the CPU reference adds them), so no two invocations write the same place and no atomics are
// needed. Max pooling records, per output, which tap of its window won (ky * window_w + kx): its
// gradient then routes each output's gradient to that tap.
//
// Large batches run in chunks of whole images: each buffer is bound as a window holding the
// chunk's images, whose first element is at `src_offset` (read) or `dst_offset` (written); the
// taps, laid out like the pooled output, share the pooled side's offset.

struct Params {
    // Elements written by this dispatch.
    n: u32,
    in_h: u32,
    in_w: u32,
    channels: u32,
    window_h: u32,
    window_w: u32,
    stride_h: u32,
    stride_w: u32,
    out_h: u32,
    out_w: u32,
    pad_top: u32,
    pad_left: u32,
    src_offset: u32,
    dst_offset: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// Forward: the images and the pooled output. Backward: the output gradient and the input gradient.
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
// The winning taps, written by max pooling and read by its gradient. A WGSL variable has one
// access mode, so each of the two entry points declares its own view of the binding.
@group(0) @binding(3) var<storage, read_write> taps_out: array<u32>;
@group(0) @binding(3) var<storage, read> taps_in: array<u32>;

fn linear(id: vec3u, groups: vec3u) -> u32 {
    return id.x + id.y * groups.x * 256u;
}

// The taps first..end of the window at output position `o` along one axis that fall inside an
// input of `size` padded by `pad` in front.
fn inside(o: u32, stride: u32, pad: u32, window: u32, size: u32) -> vec2u {
    let start = o * stride;
    let first = select(0u, pad - start, start < pad);
    let end = select(0u, min(window, pad + size - start), pad + size > start);
    return vec2u(first, max(first, end));
}

// The output positions first..end along one axis whose window covers padded coordinate `q`.
fn covering(q: u32, window: u32, stride: u32, outputs: u32) -> vec2u {
    var first = 0u;
    if q + 1u > window {
        first = (q + 1u - window + stride - 1u) / stride;
    }
    let end = min(q / stride + 1u, outputs);
    return vec2u(first, max(first, end));
}

// Element i of NHWC images of height h and width w, as (image, y, x, channel). Remainders are
// taken by multiplication: integer division is costly on some adapters.
fn position(i: u32, h: u32, w: u32) -> vec4u {
    let pixel = i / p.channels;
    let line = pixel / w;
    let image = line / h;
    return vec4u(image, line - image * h, pixel - line * w, i - pixel * p.channels);
}

// Where input pixel (image, y, x), channel c, sits in the source binding.
fn input_index(image: u32, y: u32, x: u32, c: u32) -> u32 {
    return p.src_offset + ((image * p.in_h + y) * p.in_w + x) * p.channels + c;
}

@compute @workgroup_size(256)
fn max_pool(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let i = linear(id, groups);
    if i >= p.n {
        return;
    }
    let o = position(i, p.out_h, p.out_w);
    let rows = inside(o.y, p.stride_h, p.pad_top, p.window_h, p.in_h);
    let columns = inside(o.z, p.stride_w, p.pad_left, p.window_w, p.in_w);
    var best = 0.0;
    var at = 0u;
    var found = false;
    for (var ky = rows.x; ky < rows.y; ky++) {
        for (var kx = columns.x; kx < columns.y; kx++) {
            let v = src[input_index(o.x, o.y * p.stride_h + ky - p.pad_top, o.z * p.stride_w + kx - p.pad_left, o.w)];
            // Strictly greater: a tie keeps the first tap, as the CPU does.
            if !found || v > best {
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
    let i = linear(id, groups);
    if i >= p.n {
        return;
    }
    let q = position(i, p.in_h, p.in_w);
    let qy = q.y + p.pad_top;
    let qx = q.z + p.pad_left;
    let rows = covering(qy, p.window_h, p.stride_h, p.out_h);
    let columns = covering(qx, p.window_w, p.stride_w, p.out_w);
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

// The number of input pixels the window at (oy, ox) covers.
fn covered(oy: u32, ox: u32) -> u32 {
    let rows = inside(oy, p.stride_h, p.pad_top, p.window_h, p.in_h);
    let columns = inside(ox, p.stride_w, p.pad_left, p.window_w, p.in_w);
    return (rows.y - rows.x) * (columns.y - columns.x);
}

@compute @workgroup_size(256)
fn avg_pool(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let i = linear(id, groups);
    if i >= p.n {
        return;
    }
    let o = position(i, p.out_h, p.out_w);
    let rows = inside(o.y, p.stride_h, p.pad_top, p.window_h, p.in_h);
    let columns = inside(o.z, p.stride_w, p.pad_left, p.window_w, p.in_w);
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
    let i = linear(id, groups);
    if i >= p.n {
        return;
    }
    let q = position(i, p.in_h, p.in_w);
    let rows = covering(q.y + p.pad_top, p.window_h, p.stride_h, p.out_h);
    let columns = covering(q.z + p.pad_left, p.window_w, p.stride_w, p.out_w);
    var sum = 0.0;
    for (var oy = rows.x; oy < rows.y; oy++) {
        for (var ox = columns.x; ox < columns.y; ox++) {
            let out = p.src_offset + ((q.x * p.out_h + oy) * p.out_w + ox) * p.channels + q.w;
            sum += src[out] * (1.0 / f32(covered(oy, ox)));
        }
    }
    dst[p.dst_offset + i] = sum;
}
