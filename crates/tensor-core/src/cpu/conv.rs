//! im2col and its adjoint col2im: the lowering of a convolution to one matrix product.

use super::matmul::{affine, affine_backward};
use crate::Element;
use crate::backend::{Activation, Conv2dGeometry, Gradients3};

/// Each window of `images` NHWC images as one row of `g.patch_len()` values in (ky, kx, c)
/// order, the order of a (KH, KW, C, F) kernel flattened to (KH*KW*C, F). Taps in the padding
/// stay zero.
pub(crate) fn im2col<T: Element>(g: &Conv2dGeometry, images: usize, x: &[T]) -> Vec<T> {
    let (c, patch, image_len) = (g.channels, g.patch_len(), g.image_len());
    let mut cols = vec![T::zero(); images * g.out_h * g.out_w * patch];
    for (row, (img, oy, ox)) in g.windows(images).enumerate() {
        let image = &x[img * image_len..][..image_len];
        let dst = &mut cols[row * patch..][..patch];
        for (tap, pixel) in g.taps(oy, ox) {
            dst[tap * c..][..c].copy_from_slice(&image[pixel * c..][..c]);
        }
    }
    cols
}

/// The adjoint of [`im2col`]: adds every row's values back onto the pixels its window read,
/// giving `images` NHWC images.
pub(crate) fn col2im<T: Element>(g: &Conv2dGeometry, images: usize, cols: &[T]) -> Vec<T> {
    let (c, patch, image_len) = (g.channels, g.patch_len(), g.image_len());
    let mut x = vec![T::zero(); images * image_len];
    for (row, (img, oy, ox)) in g.windows(images).enumerate() {
        let src = &cols[row * patch..][..patch];
        let image = &mut x[img * image_len..][..image_len];
        for (tap, pixel) in g.taps(oy, ox) {
            for (d, &s) in image[pixel * c..][..c].iter_mut().zip(&src[tap * c..][..c]) {
                *d = *d + s;
            }
        }
    }
    x
}

/// `activation(conv2d(x, kernel) + bias)` for `images` NHWC images and a (KH * KW * C, F)
/// kernel matrix: im2col, then one product.
pub(crate) fn conv2d<T: Element>(
    g: &Conv2dGeometry,
    images: usize,
    x: &[T],
    kernel: &[T],
    bias: Option<&[T]>,
    activation: Activation,
) -> Vec<T> {
    let cols = im2col(g, images, x);
    let filters = kernel.len() / g.patch_len().max(1);
    affine(&cols, kernel, bias, activation, images * g.positions(), g.patch_len(), filters)
}

/// The gradients of [`conv2d`] with respect to `x`, the kernel matrix and the bias, as
/// `needs` asks: the product's gradients over the im2col matrix, the input's taken back to the
/// images by col2im. The im2col matrix is rebuilt rather than kept from the forward pass.
#[allow(clippy::too_many_arguments)]
pub(crate) fn conv2d_backward<T: Element>(
    g: &Conv2dGeometry,
    images: usize,
    x: &[T],
    kernel: &[T],
    out: Option<&[T]>,
    grad: &[T],
    activation: Activation,
    needs: [bool; 3],
) -> Gradients3<Vec<T>> {
    let cols = im2col(g, images, x);
    let filters = kernel.len() / g.patch_len().max(1);
    let sizes = (images * g.positions(), g.patch_len(), filters);
    let (dcols, dkernel, dbias) = affine_backward(&cols, kernel, out, grad, activation, sizes, needs);
    (dcols.map(|d| col2im(g, images, &d)), dkernel, dbias)
}
