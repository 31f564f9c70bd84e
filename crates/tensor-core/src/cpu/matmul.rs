//! Batched matrix products with operands read transposed in place.

use crate::Element;

/// The sizes and layout of `C = op(A) · op(B)` over a batch, where `op(A)` is (m, k) and `op(B)`
/// is (k, n). A transposed operand is stored the other way round and read through swapped
/// strides, so no transpose is ever materialized.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MatmulDims {
    pub batch: usize,
    pub m: usize,
    pub k: usize,
    pub n: usize,
    /// A is stored (k, m).
    pub transpose_lhs: bool,
    /// B is stored (n, k).
    pub transpose_rhs: bool,
    /// A is one matrix shared by every batch entry.
    pub broadcast_lhs: bool,
    /// B is one matrix shared by every batch entry.
    pub broadcast_rhs: bool,
}

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
