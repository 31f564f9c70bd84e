// col2im, the adjoint of im2col, in gather form: one invocation per element of the NHWC images
// sums the matrix entries that read it, so no two invocations write the same place and no atomics
// are needed. The windows covering input row iy are those whose padded start oy * stride_h lies in
// (iy + pad_top - window_h, iy + pad_top]; they are visited in increasing (oy, ox) order, the
// order in which the CPU reference adds them.
//
// The parameter block is the shared WindowParams (lib/window.wgsl).

@group(0) @binding(1) var<storage, read> cols: array<f32>;
@group(0) @binding(2) var<storage, read_write> x: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let i = linear_index(id, groups, 256u);
    if i >= p.n {
        return;
    }
    // Remainders by multiplication: integer division is costly on some adapters.
    let pixel = i / p.channels;
    let c = i - pixel * p.channels;
    let line = pixel / p.in_w;
    let ix = pixel - line * p.in_w;
    let image = line / p.in_h;
    let iy = line - image * p.in_h;
    let row_len = p.window_h * p.window_w * p.channels;
    let qy = iy + p.pad_top;
    let qx = ix + p.pad_left;
    let rows = window_covering(qy, p.window_h, p.stride_h, p.out_h);
    let columns = window_covering(qx, p.window_w, p.stride_w, p.out_w);
    var sum = 0.0;
    for (var oy = rows.x; oy < rows.y; oy++) {
        let ky = qy - oy * p.stride_h;
        for (var ox = columns.x; ox < columns.y; ox++) {
            let kx = qx - ox * p.stride_w;
            let row = (image * p.out_h + oy) * p.out_w + ox;
            sum += cols[p.src_offset + row * row_len + (ky * p.window_w + kx) * p.channels + c];
        }
    }
    x[p.dst_offset + i] = sum;
}
