// Float helpers joined into every kernel. NaN is detected from the bits: drivers may compile a
// float comparison such as `v != v` as if NaN did not exist (llvmpipe folds it to false), and
// WGSL's max, min and clamp may return the non-NaN operand. NaN must propagate as in NumPy and
// Keras, so kernels test for it here.

fn is_nan(v: f32) -> bool {
    return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

fn is_nan4(v: vec4f) -> vec4<bool> {
    return (bitcast<vec4u>(v) & vec4u(0x7fffffffu)) > vec4u(0x7f800000u);
}

// The componentwise maximum, NaN wherever either side is NaN.
fn nan_max(a: vec4f, b: vec4f) -> vec4f {
    return select(max(a, b), a + b, is_nan4(a) | is_nan4(b));
}
