//! Depthwise convolution of NHWC images and its gradients: each channel convolved with kernels
//! of its own, no sum across channels.

use crate::Element;
use crate::backend::Conv2dGeometry;

/// The depthwise convolution of `images` NHWC images with a (KH, KW, C, `multiplier`) kernel:
/// output channel `c * multiplier + m` is channel c under its kernel m. Each output adds its
/// taps in window order, padding taps left out (they read zero).
pub(crate) fn depthwise_conv2d<T: Element>(
    g: &Conv2dGeometry,
    multiplier: usize,
    images: usize,
    x: &[T],
    kernel: &[T],
) -> Vec<T> {
    let (c, image_len) = (g.channels, g.image_len());
    let out_channels = c * multiplier;
    let mut out = vec![T::zero(); images * g.positions() * out_channels];
    for (row, (img, oy, ox)) in g.windows(images).enumerate() {
        let dst = &mut out[row * out_channels..][..out_channels];
        for (tap, pixel) in g.taps(oy, ox) {
            let pixels = &x[img * image_len + pixel * c..][..c];
            let kernels = &kernel[tap * out_channels..][..out_channels];
            // One run of `multiplier` outputs and kernels per channel.
            let runs = dst.chunks_mut(multiplier).zip(kernels.chunks(multiplier));
            for ((outs, ks), &v) in runs.zip(pixels) {
                outs.iter_mut().zip(ks).for_each(|(d, &k)| *d = *d + v * k);
            }
        }
    }
    out
}

/// The gradients of [`depthwise_conv2d`] with respect to `x` and the kernel, as `needs` asks,
/// given the output gradient `grad`: both add the windows' contributions in output order.
pub(crate) fn depthwise_conv2d_backward<T: Element>(
    g: &Conv2dGeometry,
    multiplier: usize,
    images: usize,
    x: &[T],
    kernel: &[T],
    grad: &[T],
    needs: [bool; 2],
) -> (Option<Vec<T>>, Option<Vec<T>>) {
    let (c, image_len) = (g.channels, g.image_len());
    let out_channels = c * multiplier;
    let mut dx = needs[0].then(|| vec![T::zero(); images * image_len]);
    let mut dkernel = needs[1].then(|| vec![T::zero(); kernel.len()]);
    for (row, (img, oy, ox)) in g.windows(images).enumerate() {
        let grads = &grad[row * out_channels..][..out_channels];
        for (tap, pixel) in g.taps(oy, ox) {
            let at = img * image_len + pixel * c;
            let kernels = &kernel[tap * out_channels..][..out_channels];
            if let Some(dx) = dx.as_mut() {
                let runs = grads.chunks(multiplier).zip(kernels.chunks(multiplier));
                for (d, (gs, ks)) in dx[at..][..c].iter_mut().zip(runs) {
                    *d = gs.iter().zip(ks).fold(*d, |acc, (&gj, &k)| acc + gj * k);
                }
            }
            if let Some(dk) = dkernel.as_mut() {
                let runs = dk[tap * out_channels..][..out_channels].chunks_mut(multiplier);
                for ((ds, gs), &v) in runs.zip(grads.chunks(multiplier)).zip(&x[at..][..c]) {
                    ds.iter_mut().zip(gs).for_each(|(d, &gj)| *d = *d + v * gj);
                }
            }
        }
    }
    (dx, dkernel)
}
