// Fused recurrent cell steps: the gate arithmetic of one LSTM or GRU timestep, one invocation
// per (row, unit), after the products that feed it. No loops: each invocation reads its gates,
// writes its state, and is done. Gates lie side by side in each row in Keras's order (LSTM
// i, f, c, o; GRU z, r, h), `units` values each.
//
// The override constants ACTIVATION (the candidate's, and LSTM's output's) and
// RECURRENT_ACTIVATION (the gates') are ACTIVATION_* codes, their slopes in `p.alpha` and
// `p.recurrent_alpha`. Backward rules recompute the gates from their pre-activations and take
// each activation's derivative from its output (`activation_derivative`).
//
// Rows may be bound in blocks, each binding starting at the nearest aligned offset at or
// below its first row: `p.o0`... locate that row in bindings 1... in order.
//
// lstm_cell: c = f * c_prev + i * act(c~), h = o * act(c); out = [h | c] per row.
// lstm_cell_backward: from d[h | c], d gates and d c_prev.
// gru_cell: h = z * h_prev + (1 - z) * act(x_h + s * inner_h), z = ract(x_z + inner_z), and
//   s = r = ract(x_r + inner_r) with Keras's reset_after (p.reset_after = 1), else s = 1: the
//   caller applied the reset gate before the state's projection, and r is not read.
// gru_cell_backward: from dh, d x, d inner and d h_prev (none for r without reset_after).

struct CellParams {
    rows: u32,
    units: u32,
    alpha: f32,
    recurrent_alpha: f32,
    o0: u32,
    o1: u32,
    o2: u32,
    o3: u32,
    o4: u32,
    o5: u32,
    o6: u32,
    reset_after: u32,
}

override ACTIVATION: u32;
override RECURRENT_ACTIVATION: u32;

// lstm_cell
@group(0) @binding(1) var<storage, read> gates: array<f32>;
@group(0) @binding(2) var<storage, read> c_prev: array<f32>;
@group(0) @binding(3) var<storage, read_write> lstm_out: array<f32>;
// lstm_cell_backward
@group(0) @binding(3) var<storage, read> lstm_saved: array<f32>;
@group(0) @binding(4) var<storage, read> lstm_grad: array<f32>;
@group(0) @binding(5) var<storage, read_write> d_gates: array<f32>;
@group(0) @binding(6) var<storage, read_write> d_c_prev: array<f32>;
// gru_cell
@group(0) @binding(1) var<storage, read> x_proj: array<f32>;
@group(0) @binding(2) var<storage, read> inner: array<f32>;
@group(0) @binding(3) var<storage, read> h_prev: array<f32>;
@group(0) @binding(4) var<storage, read_write> gru_out: array<f32>;
// gru_cell_backward
@group(0) @binding(4) var<storage, read> gru_grad: array<f32>;
@group(0) @binding(5) var<storage, read_write> d_x: array<f32>;
@group(0) @binding(6) var<storage, read_write> d_inner: array<f32>;
@group(0) @binding(7) var<storage, read_write> d_h_prev: array<f32>;

fn candidate_act(v: f32) -> f32 {
    return activate(v, ACTIVATION, p.alpha);
}

fn gate_act(v: f32) -> f32 {
    return activate(v, RECURRENT_ACTIVATION, p.recurrent_alpha);
}

// `g` times the candidate activation's derivative, given its output `y`.
fn candidate_back(y: f32, g: f32) -> f32 {
    return g * activation_derivative(y, ACTIVATION, p.alpha);
}

fn gate_back(y: f32, g: f32) -> f32 {
    return g * activation_derivative(y, RECURRENT_ACTIVATION, p.recurrent_alpha);
}

// The LSTM's four gates activated, in Keras's order (input, forget, candidate, output), from the
// pre-activations starting at gates[z]: the backward pass recomputes them rather than storing them.
struct LstmGates {
    i: f32,
    f: f32,
    candidate: f32,
    o: f32,
}

fn lstm_gates(z: u32) -> LstmGates {
    return LstmGates(
        gate_act(gates[z]),
        gate_act(gates[z + p.units]),
        candidate_act(gates[z + 2u * p.units]),
        gate_act(gates[z + 3u * p.units]),
    );
}

@compute @workgroup_size(256)
fn lstm_cell(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let k = linear_index(id, groups, 256u);
    if k >= p.rows * p.units {
        return;
    }
    let r = k / p.units;
    let u = k % p.units;
    let a = lstm_gates(p.o0 + r * 4u * p.units + u);
    let c = a.f * c_prev[p.o1 + k] + a.i * a.candidate;
    let out = p.o2 + r * 2u * p.units + u;
    lstm_out[out] = a.o * candidate_act(c);
    lstm_out[out + p.units] = c;
}

@compute @workgroup_size(256)
fn lstm_cell_backward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let k = linear_index(id, groups, 256u);
    if k >= p.rows * p.units {
        return;
    }
    let r = k / p.units;
    let u = k % p.units;
    let a = lstm_gates(p.o0 + r * 4u * p.units + u);
    let c = lstm_saved[p.o2 + r * 2u * p.units + u + p.units];
    let g = p.o3 + r * 2u * p.units + u;
    let dh = lstm_grad[g];
    let activated = candidate_act(c);
    // h = o * act(c) reaches c too.
    let dc = lstm_grad[g + p.units] + candidate_back(activated, dh * a.o);
    let d = p.o4 + r * 4u * p.units + u;
    d_gates[d] = gate_back(a.i, dc * a.candidate);
    d_gates[d + p.units] = gate_back(a.f, dc * c_prev[p.o1 + k]);
    d_gates[d + 2u * p.units] = candidate_back(a.candidate, dc * a.i);
    d_gates[d + 3u * p.units] = gate_back(a.o, dh * activated);
    d_c_prev[p.o5 + k] = dc * a.f;
}

// What scales the state's candidate projection: the reset gate of the row whose gates start
// at x_proj[xi] and inner[ii] with reset_after, else 1.
fn reset_scale(xi: u32, ii: u32) -> f32 {
    if p.reset_after == 0u {
        return 1.0;
    }
    return gate_act(x_proj[xi + p.units] + inner[ii + p.units]);
}

@compute @workgroup_size(256)
fn gru_cell(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let k = linear_index(id, groups, 256u);
    if k >= p.rows * p.units {
        return;
    }
    let r = k / p.units;
    let u = k % p.units;
    let xi = p.o0 + r * 3u * p.units + u;
    let ii = p.o1 + r * 3u * p.units + u;
    let z = gate_act(x_proj[xi] + inner[ii]);
    let scale = reset_scale(xi, ii);
    let candidate = candidate_act(x_proj[xi + 2u * p.units] + scale * inner[ii + 2u * p.units]);
    gru_out[p.o3 + k] = z * h_prev[p.o2 + k] + (1.0 - z) * candidate;
}

@compute @workgroup_size(256)
fn gru_cell_backward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let k = linear_index(id, groups, 256u);
    if k >= p.rows * p.units {
        return;
    }
    let r = k / p.units;
    let u = k % p.units;
    let xi = p.o0 + r * 3u * p.units + u;
    let ii = p.o1 + r * 3u * p.units + u;
    let z = gate_act(x_proj[xi] + inner[ii]);
    let scale = reset_scale(xi, ii);
    let inner_h = inner[ii + 2u * p.units];
    let candidate = candidate_act(x_proj[xi + 2u * p.units] + scale * inner_h);
    let g = gru_grad[p.o3 + k];
    let previous = h_prev[p.o2 + k];
    let d_candidate = candidate_back(candidate, g * (1.0 - z));
    let d_z = gate_back(z, g * (previous - candidate));
    let d_reset = select(0.0, gate_back(scale, d_candidate * inner_h), p.reset_after != 0u);
    let dx = p.o4 + r * 3u * p.units + u;
    let di = p.o5 + r * 3u * p.units + u;
    d_x[dx] = d_z;
    d_inner[di] = d_z;
    d_x[dx + p.units] = d_reset;
    d_inner[di + p.units] = d_reset;
    d_x[dx + 2u * p.units] = d_candidate;
    d_inner[di + 2u * p.units] = d_candidate * scale;
    d_h_prev[p.o6 + k] = g * z;
}
