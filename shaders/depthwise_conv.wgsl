// Depthwise convolution of NHWC images and its two gradients: channel c of the images under
// its own kernels m (a (KH, KW, C, M) kernel) gives output channel c * M + m.
//
// The forward pass and the input gradient run one invocation per element written, the input
// gradient in gather form as pooling's does (each input element visits the windows covering
// it, in increasing (oy, ox) order, then its M kernels: the order the CPU reference adds them),
// so no two invocations write the same place. The kernel gradient is a sum over every output
// position of the batch: each invocation sums one kernel element over one segment of at most
// `segment_len` positions of one image, writing a row of partial sums per segment that the
// host then adds up with the sum reduction. No invocation loops longer than a window's taps,
// the windows covering a pixel times M, or one segment.
//
// Large batches run in chunks of whole images; the buffers are bound as windows holding the
// chunk, their first element at `src_offset` (images or output gradient read), `grad_offset`
// (the output gradient, in the kernel gradient) and `dst_offset` (the buffer written).

struct DepthwiseParams {
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
    grad_offset: u32,
    dst_offset: u32,
    // Kernels per channel (M).
    multiplier: u32,
    // The kernel gradient's output positions per segment, and segments per image.
    segment_len: u32,
    segments: u32,
    _pad0: u32,
    _pad1: u32,
}

// Forward: the images, the kernel, the output.
// Input gradient: the output gradient, the kernel, the input gradient.
// Kernel gradient: the images, the output gradient, the partial sums.
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

// The same bindings as vectors of four channels, for the `_vec4` entry points: one kernel per
// channel (M = 1, so output channel c is input channel c), channels and offsets multiples of four.
@group(0) @binding(1) var<storage, read> a4: array<vec4f>;
@group(0) @binding(2) var<storage, read> b4: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> dst4: array<vec4f>;

// Where input pixel (image, y, x), channel c, sits in the images' binding.
fn pixel_index(image: u32, y: u32, x: u32, c: u32) -> u32 {
    return p.src_offset + ((image * p.in_h + y) * p.in_w + x) * p.channels + c;
}

// Where kernel element (ky, kx, c, m) sits.
fn kernel_index(ky: u32, kx: u32, c: u32, m: u32) -> u32 {
    return ((ky * p.window_w + kx) * p.channels + c) * p.multiplier + m;
}

@compute @workgroup_size(256)
fn forward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let i = linear_index(id, groups, 256u);
    if i >= p.n {
        return;
    }
    // Remainders by multiplication: integer division is costly on some adapters.
    let out_channels = p.channels * p.multiplier;
    let pixel = i / out_channels;
    let j = i - pixel * out_channels;
    let c = j / p.multiplier;
    let m = j - c * p.multiplier;
    let line = pixel / p.out_w;
    let ox = pixel - line * p.out_w;
    let image = line / p.out_h;
    let oy = line - image * p.out_h;
    let rows = window_inside(oy, p.stride_h, p.pad_top, p.window_h, p.in_h);
    let columns = window_inside(ox, p.stride_w, p.pad_left, p.window_w, p.in_w);
    var sum = 0.0;
    for (var ky = rows.x; ky < rows.y; ky++) {
        for (var kx = columns.x; kx < columns.y; kx++) {
            let v = a[pixel_index(image, oy * p.stride_h + ky - p.pad_top, ox * p.stride_w + kx - p.pad_left, c)];
            sum += v * b[kernel_index(ky, kx, c, m)];
        }
    }
    dst[p.dst_offset + i] = sum;
}

@compute @workgroup_size(256)
fn input_gradient(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let i = linear_index(id, groups, 256u);
    if i >= p.n {
        return;
    }
    let q = window_position(i, p.in_h, p.in_w);
    let qy = q.y + p.pad_top;
    let qx = q.z + p.pad_left;
    let rows = window_covering(qy, p.window_h, p.stride_h, p.out_h);
    let columns = window_covering(qx, p.window_w, p.stride_w, p.out_w);
    let out_channels = p.channels * p.multiplier;
    var sum = 0.0;
    for (var oy = rows.x; oy < rows.y; oy++) {
        for (var ox = columns.x; ox < columns.y; ox++) {
            let ky = qy - oy * p.stride_h;
            let kx = qx - ox * p.stride_w;
            let grads = p.src_offset + ((q.x * p.out_h + oy) * p.out_w + ox) * out_channels + q.w * p.multiplier;
            let kernels = kernel_index(ky, kx, q.w, 0u);
            for (var m = 0u; m < p.multiplier; m++) {
                sum += a[grads + m] * b[kernels + m];
            }
        }
    }
    dst[p.dst_offset + i] = sum;
}

// forward over four channels at once (M = 1): one vector load per tap and per kernel element,
// and the window's geometry worked out once for the four, adding in the same order.
@compute @workgroup_size(256)
fn forward_vec4(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let i = 4u * linear_index(id, groups, 256u);
    if i >= p.n {
        return;
    }
    let o = window_position(i, p.out_h, p.out_w);
    let rows = window_inside(o.y, p.stride_h, p.pad_top, p.window_h, p.in_h);
    let columns = window_inside(o.z, p.stride_w, p.pad_left, p.window_w, p.in_w);
    var sum = vec4f(0.0);
    for (var ky = rows.x; ky < rows.y; ky++) {
        for (var kx = columns.x; kx < columns.y; kx++) {
            let v = a4[pixel_index(o.x, o.y * p.stride_h + ky - p.pad_top, o.z * p.stride_w + kx - p.pad_left, o.w) / 4u];
            sum += v * b4[kernel_index(ky, kx, o.w, 0u) / 4u];
        }
    }
    dst4[(p.dst_offset + i) / 4u] = sum;
}

// input_gradient over four channels at once (M = 1), adding in the same order.
@compute @workgroup_size(256)
fn input_gradient_vec4(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
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
            let ky = qy - oy * p.stride_h;
            let kx = qx - ox * p.stride_w;
            let grads = p.src_offset + ((q.x * p.out_h + oy) * p.out_w + ox) * p.channels + q.w;
            sum += a4[grads / 4u] * b4[kernel_index(ky, kx, q.w, 0u) / 4u];
        }
    }
    dst4[(p.dst_offset + i) / 4u] = sum;
}

@compute @workgroup_size(256)
fn kernel_partials(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let i = linear_index(id, groups, 256u);
    if i >= p.n {
        return;
    }
    // Element i is kernel element k of segment s of image `image` of the chunk.
    let out_channels = p.channels * p.multiplier;
    let kernel_len = p.window_h * p.window_w * out_channels;
    let row = i / kernel_len;
    let k = i - row * kernel_len;
    let image = row / p.segments;
    let s = row - image * p.segments;
    let tap = k / out_channels;
    let j = k - tap * out_channels;
    let c = j / p.multiplier;
    let ky = tap / p.window_w;
    let kx = tap - ky * p.window_w;
    let positions = p.out_h * p.out_w;
    let first = s * p.segment_len;
    let end = min(first + p.segment_len, positions);
    // The position's row and column, carried forward instead of divided out each step.
    var oy = first / p.out_w;
    var ox = first - oy * p.out_w;
    var grad = p.grad_offset + (image * positions + first) * out_channels + j;
    var sum = 0.0;
    for (var at = first; at < end; at++) {
        // Padded coordinates; the tap is inside the image when both are within pad..pad + size.
        let py = oy * p.stride_h + ky;
        let px = ox * p.stride_w + kx;
        if py >= p.pad_top && py - p.pad_top < p.in_h && px >= p.pad_left && px - p.pad_left < p.in_w {
            sum += a[pixel_index(image, py - p.pad_top, px - p.pad_left, c)] * b[grad];
        }
        grad += out_channels;
        ox += 1u;
        if ox == p.out_w {
            ox = 0u;
            oy += 1u;
        }
    }
    dst[p.dst_offset + i] = sum;
}
