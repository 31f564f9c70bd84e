//! Layout kernels: permutation by strided gather, copies between a tensor and a window along one of
//! its axes (slicing, zero padding, concatenation), and gathers and scatters of rows.

use crate::Element;
use crate::backend::Window;
use crate::shape::StridedOffsets;

/// `x` read through `strides` at every position of `dims`, row-major: with permuted strides this
/// is a permutation of axes.
pub(crate) fn strided_gather<T: Element>(x: &[T], dims: &[usize], strides: &[usize]) -> Vec<T> {
    StridedOffsets::new(dims, strides).map(|k| x[k]).collect()
}

/// The elements of `wide` that `window` covers, row-major: a slice.
pub(crate) fn read_window<T: Element>(wide: &[T], window: Window) -> Vec<T> {
    (0..window.wide.outer)
        .flat_map(|o| {
            let (first, len) = window.run(o);
            &wide[first..first + len]
        })
        .copied()
        .collect()
}

/// A zero buffer of `numel` elements with each part copied into its window: one window inside
/// the buffer pads, windows that tile it concatenate.
pub(crate) fn assemble<T: Element>(parts: &[(&[T], Window)], numel: usize) -> Vec<T> {
    let mut out = vec![T::zero(); numel];
    for &(part, window) in parts {
        for o in 0..window.wide.outer {
            let (first, len) = window.run(o);
            out[first..first + len].copy_from_slice(&part[o * len..(o + 1) * len]);
        }
    }
    out
}

/// The rows `indices` of `x` (rows of `row_len` elements), in that order.
pub(crate) fn gather_rows<T: Element>(x: &[T], row_len: usize, indices: &[usize]) -> Vec<T> {
    indices.iter().flat_map(|&r| &x[r * row_len..(r + 1) * row_len]).copied().collect()
}

/// Row `k` of `src` added into row `indices[k]` of a zero buffer of `rows` rows: the adjoint of
/// [`gather_rows`], so repeated indices accumulate.
pub(crate) fn scatter_add_rows<T: Element>(
    src: &[T],
    row_len: usize,
    indices: &[usize],
    rows: usize,
) -> Vec<T> {
    let mut out = vec![T::zero(); rows * row_len];
    for (k, &r) in indices.iter().enumerate() {
        let source = &src[k * row_len..(k + 1) * row_len];
        for (acc, &v) in out[r * row_len..(r + 1) * row_len].iter_mut().zip(source) {
            *acc = *acc + v;
        }
    }
    out
}
