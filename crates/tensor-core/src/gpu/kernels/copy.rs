//! Whole-buffer copies between GPU tensors (in-place assignment), recorded like any dispatch.

use crate::Result;
use crate::gpu::storage::GpuStorage;

/// Copies `src`'s elements over `dst`'s (same length; checked by the caller).
pub(crate) fn copy(src: &GpuStorage, dst: &GpuStorage) -> Result<()> {
    debug_assert_eq!(src.len, dst.len);
    src.device.ctx.copy(src.buffer.buffer(), dst.buffer.buffer(), src.len as u64 * 4);
    Ok(())
}
