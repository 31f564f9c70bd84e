//! Batched matrix products with operands read transposed in place.

use super::unary::{activate, activation_backward};
use crate::Element;
use crate::backend::{Activation, Gradients3, MatmulDims};

/// `op(lhs) · op(rhs)` for each batch entry; the result is (batch, m, n), row-major.
pub(crate) fn matmul<T: Element>(d: &MatmulDims, lhs: &[T], rhs: &[T]) -> Vec<T> {
    let (m, k, n) = (d.m, d.k, d.n);
    let mut out = vec![T::zero(); d.batch * m * n];
    // op(A)[i, p] = a[i * a_row + p * a_col].
    let (a_row, a_col) = if d.transpose_lhs { (1, m) } else { (k, 1) };
    for b in 0..d.batch {
        let a = &lhs[if d.broadcast_lhs { 0 } else { b * m * k }..][..m * k];
        let bm = &rhs[if d.broadcast_rhs { 0 } else { b * k * n }..][..k * n];
        let c = &mut out[b * m * n..][..m * n];
        for i in 0..m {
            let c_row = &mut c[i * n..][..n];
            if d.transpose_rhs {
                // Column j of op(B) is row j of the stored B: each output is a contiguous dot product.
                for (j, c_ij) in c_row.iter_mut().enumerate() {
                    let b_row = &bm[j * k..][..k];
                    *c_ij = b_row
                        .iter()
                        .enumerate()
                        .fold(T::zero(), |acc, (p, &b_pj)| acc + a[i * a_row + p * a_col] * b_pj);
                }
            } else {
                // i-k-j order: the inner loop streams one row of B into one row of C.
                for p in 0..k {
                    let a_ip = a[i * a_row + p * a_col];
                    for (c_ij, &b_pj) in c_row.iter_mut().zip(&bm[p * n..][..n]) {
                        *c_ij = *c_ij + a_ip * b_pj;
                    }
                }
            }
        }
    }
    out
}

/// `activation(x · kernel + bias)` for an (m, k) `x` and a (k, n) kernel, the bias added to
/// every row: a dense layer, or a convolution over its im2col matrix.
pub(crate) fn affine<T: Element>(
    x: &[T],
    kernel: &[T],
    bias: Option<&[T]>,
    activation: Activation,
    m: usize,
    k: usize,
    n: usize,
) -> Vec<T> {
    let mut y = matmul(&MatmulDims::plain(m, k, n), x, kernel);
    if let Some(bias) = bias {
        for row in y.chunks_mut(n.max(1)) {
            row.iter_mut().zip(bias).for_each(|(v, &b)| *v = *v + b);
        }
    }
    activate(activation, y)
}

/// The gradients of [`affine`] with respect to `x`, the kernel and the bias (those `needs`
/// asks for), given the gradient `grad` of its output `out`: with `dz = grad * activation'`,
/// `dx = dz · kernelᵀ`, `dkernel = xᵀ · dz` and `dbias` the column sums of `dz`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn affine_backward<T: Element>(
    x: &[T],
    kernel: &[T],
    out: Option<&[T]>,
    grad: &[T],
    activation: Activation,
    (m, k, n): (usize, usize, usize),
    needs: [bool; 3],
) -> Gradients3<Vec<T>> {
    let gated;
    let dz = match out {
        Some(out) if activation != Activation::Identity => {
            gated = activation_backward(activation, out, grad);
            &gated[..]
        }
        _ => grad,
    };
    let dx = needs[0].then(|| {
        let dims = MatmulDims { transpose_rhs: true, ..MatmulDims::plain(m, n, k) };
        matmul(&dims, dz, kernel)
    });
    let dkernel = needs[1].then(|| {
        let dims = MatmulDims { transpose_lhs: true, ..MatmulDims::plain(k, m, n) };
        matmul(&dims, x, dz)
    });
    let dbias = needs[2].then(|| {
        let mut sums = vec![T::zero(); n];
        for row in dz.chunks(n.max(1)) {
            sums.iter_mut().zip(row).for_each(|(s, &v)| *s = *s + v);
        }
        sums
    });
    (dx, dkernel, dbias)
}
