// Workgroup-wide reductions of up to four values per invocation, by halving trees in
// workgroup memory. The kernel declares REDUCE_THREADS, its workgroup size (a power of two),
// and calls these from uniform control flow: every invocation of the workgroup, every time.

var<workgroup> reduce_partial: array<vec4f, REDUCE_THREADS>;

// Combines every invocation's `v` componentwise by max (`take_max`) or sum, and hands the
// result to all.
fn workgroup_reduce(lane: u32, v: vec4f, take_max: bool) -> vec4f {
    reduce_partial[lane] = v;
    workgroupBarrier();
    for (var width = REDUCE_THREADS / 2u; width > 0u; width /= 2u) {
        if lane < width {
            let other = reduce_partial[lane + width];
            reduce_partial[lane] = select(reduce_partial[lane] + other, nan_max(reduce_partial[lane], other), take_max);
        }
        workgroupBarrier();
    }
    let total = reduce_partial[0];
    // Nobody may overwrite the first slot for the next reduction before everyone has read it.
    workgroupBarrier();
    return total;
}
