//! Host-side launchers: one module per shader family, each packing its parameter block and
//! splitting work that would exceed the adapter's binding limit. The chunking helpers every
//! launcher shares are here.

pub(crate) mod argmax;
pub(crate) mod batch_norm;
pub(crate) mod binary;
pub(crate) mod cast;
pub(crate) mod conv;
pub(crate) mod cross_entropy;
pub(crate) mod depthwise_conv;
pub(crate) mod fill;
pub(crate) mod gather;
pub(crate) mod matmul;
pub(crate) mod optim;
pub(crate) mod peak;
pub(crate) mod pool;
pub(crate) mod random;
pub(crate) mod recurrent;
pub(crate) mod reduce;
pub(crate) mod softmax;
pub(crate) mod strided_copy;
pub(crate) mod unary;
mod window;

use std::ops::Range;

use super::GpuDevice;
use crate::{Error, Result};

/// Workgroup size of the one-invocation-per-element kernels.
pub(crate) const WORKGROUP: u32 = 256;

/// Consecutive vectors (vec4) each invocation of a vector kernel (`*_vec4`) handles. On lavapipe
/// 4 ran 4-10% faster than 1 or 16, and consecutive vectors 4-15% faster than vectors a
/// workgroup apart.
const VECTORS_PER_INVOCATION: usize = 4;

/// The geometry every vector kernel shares, generated from the constants above so that the
/// host's workgroup count and the shaders' indexing cannot disagree.
pub(crate) fn vector_geometry_wgsl() -> String {
    format!(
        "const VECTORS: u32 = {VECTORS_PER_INVOCATION}u;

// The first of the VECTORS consecutive vectors that invocation `lane` of workgroup `group`
// handles in a one-dimensional dispatch.
fn first_vector(group: vec3u, groups: vec3u, lane: u32) -> u32 {{
    return ((group.x + group.y * groups.x) * {WORKGROUP}u + lane) * VECTORS;
}}
"
    )
}

/// Workgroups of a vector kernel over `len` elements.
pub(crate) fn vector_groups(device: &GpuDevice, len: usize) -> [u32; 3] {
    device.ctx.linear_groups(len.div_ceil(4).div_ceil(VECTORS_PER_INVOCATION), WORKGROUP)
}

/// The most loop iterations any invocation of any kernel may run, counting every iteration of
/// every loop it enters (a nested loop's iterations all count). Mesa's llvmpipe ends a shader
/// invocation without an error once it has run 65,535 of them, which would leave sums short and
/// rows half written; every kernel whose loops grow with the data therefore splits that work
/// into [`segments`] small enough to stay under this bound, with a margin for the fixed loops
/// (index decoding, reduction trees) around them.
pub(crate) const MAX_LOOP_ITERATIONS: usize = 16_384;

/// Iterations left for a kernel's data loops once its fixed loops (index decoding over up to
/// [`MAX_RANK`] axes, a workgroup reduction tree or two) have had their share.
pub(crate) const DATA_LOOP_ITERATIONS: usize = MAX_LOOP_ITERATIONS - 256;

/// `0..len` cut into consecutive ranges of at most `most` elements, as kernel indices (one
/// empty range when `len` is 0, so that a result still gets written; an error naming `op` when
/// `len` exceeds u32 indexing). Kernels run one dispatch per range, each carrying on from the
/// state the one before left in its buffers.
pub(crate) fn segments(op: &'static str, len: usize, most: usize) -> Result<Vec<Range<u32>>> {
    let most = most.max(1);
    let end = index(op, len)?;
    let mut ranges: Vec<Range<u32>> =
        (0..len.div_ceil(most)).map(|i| (i * most) as u32..len.min((i + 1) * most) as u32).collect();
    if ranges.is_empty() {
        ranges.push(end..end);
    }
    Ok(ranges)
}

/// Axes a kernel's parameter block can describe.
pub(crate) const MAX_RANK: usize = 8;

/// A size or stride per axis, in the `array<vec4u, 2>` layout the shaders read. (Spelled out:
/// the compiler mishandles the constant in macro-made struct fields.)
pub(crate) type Axes = [u32; 8];
const _: () = assert!(MAX_RANK == 8);

/// Every kernel tessera can dispatch, for the checks that the shaders and the Rust side agree.
#[cfg(test)]
pub(crate) fn all() -> Vec<&'static super::kernel::Kernel> {
    [
        argmax::KERNELS,
        batch_norm::KERNELS,
        binary::KERNELS,
        cast::KERNELS,
        conv::KERNELS,
        cross_entropy::KERNELS,
        depthwise_conv::KERNELS,
        fill::KERNELS,
        gather::KERNELS,
        optim::KERNELS,
        peak::KERNELS,
        pool::KERNELS,
        random::KERNELS,
        recurrent::KERNELS,
        reduce::KERNELS,
        softmax::KERNELS,
        strided_copy::KERNELS,
        unary::KERNELS,
    ]
    .concat()
    .into_iter()
    .chain(crate::gpu::gemm::tune::every_variant().into_iter().map(|v| &crate::gpu::gemm::kernel(v).kernel))
    .collect()
}

/// `values` packed into the `array<vec4u, 2>` layout the shaders use for shapes and strides.
pub(crate) fn pack(op: &'static str, values: &[usize]) -> Result<Axes> {
    if values.len() > MAX_RANK {
        return Err(Error::argument(
            op,
            format!("GPU kernels handle up to {MAX_RANK} axes, got {}", values.len()),
        ));
    }
    let mut packed = [0u32; MAX_RANK];
    for (slot, &v) in packed.iter_mut().zip(values) {
        *slot = index(op, v)?;
    }
    Ok(packed)
}

/// `v` as a kernel index (u32), or an error naming the op.
pub(crate) fn index(op: &'static str, v: usize) -> Result<u32> {
    u32::try_from(v)
        .map_err(|_| Error::Limit(format!("{op}: a size, stride or offset of {v} exceeds u32 indexing")))
}

/// Elements one binding can hold when it may start up to one offset alignment early (see
/// `GpuStorage::window`).
fn binding_room(device: &GpuDevice) -> usize {
    let ctx = &device.ctx;
    (ctx.limits.max_storage_buffer_binding_size as usize / 4).saturating_sub(ctx.offset_alignment() - 1)
}

/// Splits `total` elements into ranges that each fit one binding and start at an offset the
/// adapter accepts, calling `run(start, len)` for each.
pub(crate) fn for_each_chunk(
    device: &GpuDevice,
    total: usize,
    mut run: impl FnMut(usize, usize) -> Result<()>,
) -> Result<()> {
    let align = device.ctx.offset_alignment();
    let fit = (device.max_binding_bytes() as usize / 4) / align * align;
    let mut start = 0;
    while start < total {
        let len = fit.min(total - start);
        run(start, len)?;
        start += len;
    }
    Ok(())
}

/// Splits `rows` rows of `row_len` elements into blocks of whole rows that fit one binding,
/// calling `run(first_row, rows)` for each. A row is what a kernel must see whole (a softmax
/// slab, a sample's logits); one too large to bind is an error naming `op`.
pub(crate) fn for_each_row_block(
    device: &GpuDevice,
    op: &'static str,
    rows: usize,
    row_len: usize,
    mut run: impl FnMut(usize, usize) -> Result<()>,
) -> Result<()> {
    let per_block = binding_room(device) / row_len.max(1);
    if per_block == 0 {
        return Err(Error::Limit(format!(
            "{op}: a block of {row_len} f32 ({} MiB) that must be bound whole exceeds this adapter's \
             max_storage_buffer_binding_size of {} MiB",
            (row_len * 4) >> 20,
            device.max_binding_bytes() >> 20
        )));
    }
    let mut first = 0;
    while first < rows {
        let block = per_block.min(rows - first);
        run(first, block)?;
        first += block;
    }
    Ok(())
}

/// The most images one dispatch may take so that every binding fits the adapter's storage
/// binding limit, given the elements each binding holds per image (`per_image`, named for the
/// error). One image too large for a binding cannot be split: that is an error.
pub(crate) fn images_per_dispatch(
    device: &GpuDevice,
    op: &'static str,
    per_image: &[(&str, usize)],
) -> Result<usize> {
    let room = binding_room(device);
    let mut most = usize::MAX;
    for &(what, len) in per_image {
        if len > room {
            return Err(Error::Limit(format!(
                "{op}: the {what} of one image is {len} f32 ({:.1} MiB), more than one binding of this \
                 adapter can hold (max_storage_buffer_binding_size {} MiB); use smaller images or fewer \
                 channels",
                len as f64 * 4.0 / (1u64 << 20) as f64,
                device.max_binding_bytes() >> 20
            )));
        }
        if let Some(fit) = room.checked_div(len) {
            most = most.min(fit);
        }
    }
    Ok(most)
}

/// Splits `images` into consecutive chunks of at most [`images_per_dispatch`] images and calls
/// `run` on each. An empty range still makes one (empty) call, so that results get a value.
pub(crate) fn for_each_image_chunk(
    device: &GpuDevice,
    op: &'static str,
    per_image: &[(&str, usize)],
    images: Range<usize>,
    mut run: impl FnMut(Range<usize>) -> Result<()>,
) -> Result<()> {
    let most = images_per_dispatch(device, op, per_image)?.max(1);
    let mut start = images.start;
    loop {
        let end = start + most.min(images.end - start);
        run(start..end)?;
        start = end;
        if start >= images.end {
            return Ok(());
        }
    }
}
