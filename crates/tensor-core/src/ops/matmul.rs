//! Matrix products over the last two axes, batched, with operands read transposed in place.

use crate::autodiff::{Backward, record};
use crate::backend::{Activation, MatmulDims};
use crate::{Error, Result, Shape, Tensor};

/// A (batch of) matrices as `op` sees it: the batch axes, then rows and columns after the
/// optional transpose of the last two axes.
fn as_matrices(dims: &[usize], transposed: bool) -> (&[usize], usize, usize) {
    let (batch, matrix) = dims.split_at(dims.len() - 2);
    let (rows, cols) = (matrix[0], matrix[1]);
    if transposed { (batch, cols, rows) } else { (batch, rows, cols) }
}

/// Checks the operands of `op(lhs) · op(rhs)` and works out the kernel's sizes and the output
/// shape.
fn plan(lhs: &Tensor, rhs: &Tensor, transpose_lhs: bool, transpose_rhs: bool) -> Result<(MatmulDims, Shape)> {
    lhs.same_kind("matmul", rhs)?;
    if lhs.rank() < 2 || rhs.rank() < 2 {
        return Err(Error::shape(
            "matmul",
            format!(
                "operands must be matrices or batches of matrices (rank 2 or more), got shapes {} and {}",
                lhs.shape(),
                rhs.shape()
            ),
        ));
    }
    let (lhs_batch, m, k) = as_matrices(lhs.dims(), transpose_lhs);
    let (rhs_batch, rhs_k, n) = as_matrices(rhs.dims(), transpose_rhs);
    let transposed = |t: bool| if t { " transposed" } else { "" };
    if k != rhs_k {
        return Err(Error::shape(
            "matmul",
            format!(
                "lhs {}{} is ({m}, {k}) per matrix but rhs {}{} is ({rhs_k}, {n}); the inner sizes \
                 must agree",
                lhs.shape(),
                transposed(transpose_lhs),
                rhs.shape(),
                transposed(transpose_rhs)
            ),
        ));
    }
    let batch_dims = match (lhs_batch, rhs_batch) {
        (a, []) => a,
        ([], b) => b,
        (a, b) if a == b => a,
        (a, b) => {
            return Err(Error::shape(
                "matmul",
                format!(
                    "batch axes {a:?} of lhs {} and {b:?} of rhs {} differ; they must be equal, or one \
                     operand a single matrix",
                    lhs.shape(),
                    rhs.shape()
                ),
            ));
        }
    };
    let dims = MatmulDims {
        batch: batch_dims.iter().product(),
        m,
        k,
        n,
        transpose_lhs,
        transpose_rhs,
        broadcast_lhs: lhs_batch.is_empty() && !rhs_batch.is_empty(),
        broadcast_rhs: rhs_batch.is_empty() && !lhs_batch.is_empty(),
    };
    Ok((dims, Shape::new([batch_dims, &[m, n]].concat())))
}

/// Runs the kernel on checked operands without recording anything.
fn run(dims: &MatmulDims, lhs: &Tensor, rhs: &Tensor, shape: Shape) -> Result<Tensor> {
    crate::tensor::reserve_output("matmul", &shape, lhs.dtype(), lhs.device())?;
    Ok(Tensor::from_storage(lhs.storage().matmul(&rhs.storage(), dims)?, shape))
}

impl Tensor {
    /// Matrix product over the last two axes. Leading (batch) axes must be equal, or one operand
    /// a single matrix that the whole batch shares (Dense on N-D input).
    pub fn matmul(&self, rhs: &Tensor) -> Result<Tensor> {
        self.matmul_t(rhs, false, false)
    }

    /// `op(self) · op(rhs)`, where `op` swaps the last two axes of an operand whose flag is set.
    /// The transpose is read in place, never materialized. Batch axes as in [`Tensor::matmul`].
    pub fn matmul_t(&self, rhs: &Tensor, transpose_lhs: bool, transpose_rhs: bool) -> Result<Tensor> {
        let (dims, shape) = plan(self, rhs, transpose_lhs, transpose_rhs)?;
        if dims.broadcast_rhs && !transpose_lhs {
            // A batch times a shared matrix is one tall product. Folding the batch into rows
            // lets backward get the shared matrix's gradient from one product, rather than from
            // a stack of per-entry gradients summed afterwards.
            return self
                .reshape([dims.batch * dims.m, dims.k])?
                .matmul_t(rhs, false, transpose_rhs)?
                .reshape(shape);
        }
        let out = run(&dims, self, rhs, shape)?;
        record(out, &[self, rhs], || {
            Box::new(MatmulBackward { lhs: self.detach(), rhs: rhs.detach(), transpose_lhs, transpose_rhs })
        })
    }
}

/// The (m, k, n) of `activation(x · kernel + bias)` on the last axis of `x`, after checking
/// the operands.
fn affine_plan(
    x: &Tensor,
    kernel: &Tensor,
    bias: Option<&Tensor>,
    activation: Activation,
) -> Result<(MatmulDims, Shape)> {
    let op = "affine";
    activation.check(op)?;
    x.same_kind(op, kernel)?;
    let &[k, n] = kernel.dims() else {
        return Err(Error::shape(
            op,
            format!("expected a kernel of shape (in, out), got {}", kernel.shape()),
        ));
    };
    let Some((&features, leading)) = x.dims().split_last() else {
        return Err(Error::shape(op, "a scalar input has no feature axis"));
    };
    if features != k {
        return Err(Error::shape(
            op,
            format!("input {} has {features} features but kernel {} expects {k}", x.shape(), kernel.shape()),
        ));
    }
    if let Some(bias) = bias {
        x.same_kind(op, bias)?;
        if bias.dims() != [n] {
            return Err(Error::shape(op, format!("expected a bias of shape ({n},), got {}", bias.shape())));
        }
    }
    let m = leading.iter().product();
    Ok((MatmulDims::plain(m, k, n), Shape::new([leading, &[n]].concat())))
}

impl Tensor {
    /// `activation(self · kernel + bias)` on the last axis of `self`, as one op: a dense layer,
    /// (..., in) by an (in, out) kernel and an (out,) bias to (..., out). The bias and the
    /// activation are applied as the product stores each output, and the backward pass takes
    /// the activation's derivative from the output, so nothing else is kept.
    pub fn affine(&self, kernel: &Tensor, bias: Option<&Tensor>, activation: Activation) -> Result<Tensor> {
        let (dims, shape) = affine_plan(self, kernel, bias, activation)?;
        crate::tensor::reserve_output("affine", &shape, self.dtype(), self.device())?;
        let bias_storage = bias.map(|b| b.storage());
        let storage = self.storage().affine(&kernel.storage(), bias_storage.as_deref(), activation, &dims)?;
        drop(bias_storage);
        let out = Tensor::from_storage(storage, shape);
        let saved = (activation != Activation::Identity).then(|| out.detach());
        let mut inputs = vec![self, kernel];
        inputs.extend(bias);
        record(out, &inputs, || {
            Box::new(AffineBackward {
                x: self.detach(),
                kernel: kernel.detach(),
                out: saved,
                activation,
                dims,
                has_bias: bias.is_some(),
            })
        })
    }
}

/// The gradients of [`Tensor::affine`], from one backend call.
struct AffineBackward {
    x: Tensor,
    kernel: Tensor,
    /// The output, kept when the activation's derivative needs it.
    out: Option<Tensor>,
    activation: Activation,
    dims: MatmulDims,
    has_bias: bool,
}

impl Backward for AffineBackward {
    fn name(&self) -> &'static str {
        "affine"
    }

    fn backward(&self, grad: &Tensor, needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let out = self.out.as_ref().map(|o| o.storage());
        let wanted = [needs[0], needs[1], self.has_bias && needs.get(2).copied().unwrap_or(false)];
        let (dx, dkernel, dbias) = self.x.storage().affine_backward(
            &self.kernel.storage(),
            out.as_deref(),
            &grad.storage(),
            self.activation,
            &self.dims,
            wanted,
        )?;
        let mut grads = vec![
            dx.map(|d| Tensor::from_storage(d, self.x.shape().clone())),
            dkernel.map(|d| Tensor::from_storage(d, self.kernel.shape().clone())),
        ];
        if self.has_bias {
            grads.push(dbias.map(|d| Tensor::from_storage(d, Shape::new([self.dims.n]))));
        }
        Ok(grads)
    }
}

struct MatmulBackward {
    lhs: Tensor,
    rhs: Tensor,
    transpose_lhs: bool,
    transpose_rhs: bool,
}

impl Backward for MatmulBackward {
    fn name(&self) -> &'static str {
        "matmul"
    }

    fn backward(&self, grad: &Tensor, needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let (a, b, ta, tb) = (&self.lhs, &self.rhs, self.transpose_lhs, self.transpose_rhs);
        // For C = op(A)·op(B): d op(A) = dC·op(B)ᵀ and d op(B) = op(A)ᵀ·dC. An operand stored
        // transposed takes the transpose of that, which is the product of the swapped factors.
        // A shared operand sums its gradient over the batch.
        let da = needs[0]
            .then(|| {
                if ta { b.matmul_t(grad, tb, true) } else { grad.matmul_t(b, false, !tb) }?.sum_to(a.shape())
            })
            .transpose()?;
        let db = needs[1]
            .then(|| {
                if tb { grad.matmul_t(a, true, ta) } else { a.matmul_t(grad, !ta, false) }?.sum_to(b.shape())
            })
            .transpose()?;
        Ok(vec![da, db])
    }
}
