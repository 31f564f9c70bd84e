// The linear index of an invocation of a one-dimensional dispatch of `size`-wide workgroups,
// which the host spreads over x and y when x alone would exceed the per-dimension limit.
fn linear_index(id: vec3u, groups: vec3u, size: u32) -> u32 {
    return id.x + id.y * groups.x * size;
}
