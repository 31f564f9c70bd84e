//! Max and average pooling over the windows of NHWC images, and their gradients.

use crate::Element;
use crate::backend::Conv2dGeometry;

/// The maximum of each window per channel, and which tap of the window gave it (`ky *
/// window_w + kx`, the first of a tie), as a value of `T` (exact: windows are small). Padding
/// taps are skipped, so padding never wins, as if padded with -inf (TensorFlow's rule).
pub(crate) fn max_pool<T: Element>(g: &Conv2dGeometry, images: usize, x: &[T]) -> (Vec<T>, Vec<T>) {
    let (c, image_len) = (g.channels, g.image_len());
    let len = images * g.out_h * g.out_w * c;
    let (mut out, mut taps) = (Vec::with_capacity(len), Vec::with_capacity(len));
    for (img, oy, ox) in g.windows(images) {
        for ch in 0..c {
            let mut best: Option<(T, usize)> = None;
            for (tap, pixel) in g.taps(oy, ox) {
                let v = x[img * image_len + pixel * c + ch];
                // The first NaN wins and stays, as NumPy propagates it.
                if best.is_none_or(|(b, _)| !b.is_nan() && (v > b || v.is_nan())) {
                    best = Some((v, tap));
                }
            }
            // Keras's arithmetic never gives a window that is all padding.
            let (value, tap) = best.unwrap_or((T::neg_infinity(), 0));
            out.push(value);
            taps.push(T::of(tap as f64));
        }
    }
    (out, taps)
}

/// The gradient of max pooling: each output's gradient added to the input element its winning
/// tap read, in output order.
pub(crate) fn max_pool_backward<T: Element>(
    g: &Conv2dGeometry,
    images: usize,
    grad: &[T],
    taps: &[T],
) -> Vec<T> {
    let (c, image_len) = (g.channels, g.image_len());
    let mut dx = vec![T::zero(); images * image_len];
    for (row, (img, oy, ox)) in g.windows(images).enumerate() {
        for ch in 0..c {
            let k = row * c + ch;
            let tap = taps[k].f64() as usize;
            let (ky, kx) = (tap / g.window_w, tap % g.window_w);
            let iy = oy * g.stride_h + ky - g.pad_top;
            let ix = ox * g.stride_w + kx - g.pad_left;
            let at = img * image_len + (iy * g.in_w + ix) * c + ch;
            dx[at] = dx[at] + grad[k];
        }
    }
    dx
}

/// The mean of each window per channel, over the pixels it covers: padding is not counted
/// (Keras's `same` average pooling).
pub(crate) fn avg_pool<T: Element>(g: &Conv2dGeometry, images: usize, x: &[T]) -> Vec<T> {
    let (c, image_len) = (g.channels, g.image_len());
    let mut out = vec![T::zero(); images * g.out_h * g.out_w * c];
    for (row, (img, oy, ox)) in g.windows(images).enumerate() {
        let dst = &mut out[row * c..][..c];
        let mut count = 0usize;
        for (_, pixel) in g.taps(oy, ox) {
            count += 1;
            for (d, &v) in dst.iter_mut().zip(&x[img * image_len + pixel * c..][..c]) {
                *d = *d + v;
            }
        }
        let scale = T::one() / T::of(count as f64);
        dst.iter_mut().for_each(|d| *d = *d * scale);
    }
    out
}

/// The gradient of average pooling: each output's gradient shared equally between the pixels
/// its window covers.
pub(crate) fn avg_pool_backward<T: Element>(g: &Conv2dGeometry, images: usize, grad: &[T]) -> Vec<T> {
    let (c, image_len) = (g.channels, g.image_len());
    let mut dx = vec![T::zero(); images * image_len];
    for (row, (img, oy, ox)) in g.windows(images).enumerate() {
        let scale = T::one() / T::of(g.taps(oy, ox).count() as f64);
        let src = &grad[row * c..][..c];
        for (_, pixel) in g.taps(oy, ox) {
            for (d, &s) in dx[img * image_len + pixel * c..][..c].iter_mut().zip(src) {
                *d = *d + s * scale;
            }
        }
    }
    dx
}
