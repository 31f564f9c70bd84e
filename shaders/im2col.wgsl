// im2col: the windows of a batch of NHWC images as the rows of a (images * OH * OW, KH * KW * C)
// matrix, one invocation per matrix element. A row is one output position (image, oy, ox); its
// columns run over the window in (ky, kx, c) order, the order of a (KH, KW, C, F) kernel
// flattened to (KH * KW * C, F). Taps that fall in the padding read zero.
//
// The parameter block is the shared WindowParams (lib/window.wgsl).

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> cols: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let i = linear_index(id, groups, 256u);
    if i >= p.n {
        return;
    }
    // Remainders by multiplication: integer division is costly on some adapters.
    let row_len = p.window_h * p.window_w * p.channels;
    let row = i / row_len;
    let column = i - row * row_len;
    let k = column / p.channels;
    let c = column - k * p.channels;
    let ky = k / p.window_w;
    let kx = k - ky * p.window_w;
    let position = row / p.out_w;
    let ox = row - position * p.out_w;
    let image = position / p.out_h;
    let oy = position - image * p.out_h;
    // Padded coordinates; the tap is inside the image when both are within pad..pad + size.
    let py = oy * p.stride_h + ky;
    let px = ox * p.stride_w + kx;
    var value = 0.0;
    if py >= p.pad_top && py - p.pad_top < p.in_h && px >= p.pad_left && px - p.pad_left < p.in_w {
        let pixel = (py - p.pad_top) * p.in_w + (px - p.pad_left);
        value = x[p.src_offset + image * p.in_h * p.in_w * p.channels + pixel * p.channels + c];
    }
    cols[p.dst_offset + i] = value;
}
