// The geometry of a window sliding over NHWC images (convolution, im2col, pooling), shared by
// every window kernel as its parameter block, and the arithmetic they all do with it.
//
// Large batches run in chunks of whole images: each buffer is bound as a window holding the
// chunk's images, whose first element is at `src_offset` (the buffer read) or `dst_offset`
// (the buffer written).

struct WindowParams {
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

// The taps first..end of the window at output position `o` along one axis that fall inside an
// input of `size` padded by `pad` in front.
fn window_inside(o: u32, stride: u32, pad: u32, window: u32, size: u32) -> vec2u {
    let start = o * stride;
    let first = select(0u, pad - start, start < pad);
    let end = select(0u, min(window, pad + size - start), pad + size > start);
    return vec2u(first, max(first, end));
}

// The output positions first..end along one axis whose window covers padded coordinate `q`:
// those whose start o * stride lies in (q - window, q].
fn window_covering(q: u32, window: u32, stride: u32, outputs: u32) -> vec2u {
    var first = 0u;
    if q + 1u > window {
        first = (q + 1u - window + stride - 1u) / stride;
    }
    let end = min(q / stride + 1u, outputs);
    return vec2u(first, max(first, end));
}

// Element i of NHWC images of height h and width w, as (image, y, x, channel). Remainders are
// taken by multiplication: integer division is costly on some adapters.
fn window_position(i: u32, h: u32, w: u32) -> vec4u {
    let pixel = i / p.channels;
    let line = pixel / w;
    let image = line / h;
    return vec4u(image, line - image * h, pixel - line * w, i - pixel * p.channels);
}
