//! Max and average pooling over the windows of NHWC images, and their gradients.

use crate::{Conv2dGeometry, Element};

/// The maximum of each window per channel, and the flat index into `x` of the element that
/// gave it (the first of a tie). Padding taps are skipped, so padding never wins, as if padded
/// with -inf (TensorFlow's rule).
pub(crate) fn max_pool<T: Element>(g: &Conv2dGeometry, images: usize, x: &[T]) -> (Vec<T>, Vec<usize>) {
    let (c, image_len) = (g.channels, g.image_len());
    let len = images * g.out_h * g.out_w * c;
    let (mut out, mut argmax) = (Vec::with_capacity(len), Vec::with_capacity(len));
    for (img, oy, ox) in g.windows(images) {
        for ch in 0..c {
            let (best, at) = g
                .taps(oy, ox)
                .map(|(_, pixel)| img * image_len + pixel * c + ch)
                .fold(None, |best: Option<(T, usize)>, i| match best {
                    Some((v, _)) if x[i] > v => Some((x[i], i)),
                    None => Some((x[i], i)),
                    _ => best,
                })
                .expect("every window covers at least one pixel of its image");
            out.push(best);
            argmax.push(at);
        }
    }
    (out, argmax)
}

/// The gradient of max pooling: each output's gradient added to the input element that won.
pub(crate) fn max_pool_backward<T: Element>(grad: &[T], argmax: &[usize], input_len: usize) -> Vec<T> {
    let mut dx = vec![T::zero(); input_len];
    for (&g, &at) in grad.iter().zip(argmax) {
        dx[at] = dx[at] + g;
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
