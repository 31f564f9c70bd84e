// The activations a product applies as it stores its output (codes ACTIVATION_*), and their
// derivatives computed from that output alone: a backward pass gates its incoming gradient by
// `activation_derivative(y)` instead of keeping the values before the activation.

fn activation_sigmoid(v: f32) -> f32 {
    // Split by sign so exp never overflows.
    if v >= 0.0 {
        return 1.0 / (1.0 + exp(-v));
    }
    let e = exp(v);
    return e / (1.0 + e);
}

fn activate(v: f32, code: u32, alpha: f32) -> f32 {
    switch code {
        // NaN passes through, as in Keras (max may drop it).
        case ACTIVATION_RELU: { return select(max(v, 0.0), v, is_nan(v)); }
        case ACTIVATION_LEAKY_RELU: { return select(v * alpha, v, v > 0.0); }
        case ACTIVATION_SIGMOID: { return activation_sigmoid(v); }
        case ACTIVATION_TANH: { return tanh(v); }
        default: { return v; }
    }
}

// The derivative at the input whose output was `y`; leaky relu's slope is at least 0, so the
// output is positive exactly where the input was.
fn activation_derivative(y: f32, code: u32, alpha: f32) -> f32 {
    switch code {
        case ACTIVATION_RELU: { return select(0.0, 1.0, y > 0.0); }
        case ACTIVATION_LEAKY_RELU: { return select(alpha, 1.0, y > 0.0); }
        case ACTIVATION_SIGMOID: { return y * (1.0 - y); }
        case ACTIVATION_TANH: { return 1.0 - y * y; }
        default: { return 1.0; }
    }
}
