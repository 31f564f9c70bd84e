// The moment updates Adam and Nadam share, in the CPU kernels' order (cpu/optim.rs):
// `m += (g - m) * (1 - beta_1)`, `v += (g^2 - v) * (1 - beta_2)`. The kernel binds `momentums`
// and `velocities`.

// Updates element i's moments with gradient `gi`; returns them as (m, v).
fn adam_moments(i: u32, gi: f32, one_minus_beta_1: f32, one_minus_beta_2: f32) -> vec2f {
    let m = momentums[i];
    let v = velocities[i];
    let updated = vec2f(m + (gi - m) * one_minus_beta_1, v + (gi * gi - v) * one_minus_beta_2);
    momentums[i] = updated.x;
    velocities[i] = updated.y;
    return updated;
}
