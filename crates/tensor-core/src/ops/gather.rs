//! Indexing along the batch axis: gathering rows, and its adjoint, scatter-adding rows.

use crate::autodiff::{Backward, record};
use crate::{Error, Result, Shape, Tensor};

/// The number of rows (dimension 0) of `x` and the elements per row.
fn rows_of(op: &'static str, x: &Tensor) -> Result<(usize, usize)> {
    match x.dims().split_first() {
        Some((&rows, rest)) => Ok((rows, rest.iter().product())),
        None => Err(Error::shape(op, "a scalar has no rows (axis 0) to index")),
    }
}

/// Checks that every index names one of `rows` rows.
fn check_indices(op: &'static str, indices: &[usize], rows: usize, shape: &Shape) -> Result<()> {
    match indices.iter().enumerate().find(|&(_, &r)| r >= rows) {
        Some((k, r)) => Err(Error::argument(
            op,
            format!(
                "index {r} (position {k} of the indices) is out of range for {rows} rows (shape {shape})"
            ),
        )),
        None => Ok(()),
    }
}

/// `shape` with its first dimension set to `rows`.
fn with_rows(shape: &Shape, rows: usize) -> Shape {
    let mut dims = shape.dims().to_vec();
    dims[0] = rows;
    Shape::new(dims)
}

impl Tensor {
    /// The rows (entries along axis 0) named by `indices`, in that order; an index may repeat.
    /// On a GPU the indices are uploaded with the next submission.
    pub fn gather_rows(&self, indices: &[usize]) -> Result<Tensor> {
        let (rows, row_len) = rows_of("gather_rows", self)?;
        check_indices("gather_rows", indices, rows, self.shape())?;
        crate::tensor::reserve_output(
            "gather_rows",
            &with_rows(self.shape(), indices.len()),
            self.dtype(),
            self.device(),
        )?;
        let storage = self.storage().gather_rows(row_len, indices)?;
        let out = Tensor::from_storage(storage, with_rows(self.shape(), indices.len()));
        record(out, &[self], || Box::new(GatherRowsBackward { indices: indices.to_vec(), rows }))
    }

    /// A zero tensor of `rows` rows into whose row `indices[k]` this tensor's row `k` is added;
    /// repeated indices accumulate. The adjoint of [`Tensor::gather_rows`]. On a GPU each output
    /// row sums its own sources (listed on the host and uploaded), so no two invocations write
    /// one element and the sums run in the CPU's order.
    pub fn scatter_add_rows(&self, indices: &[usize], rows: usize) -> Result<Tensor> {
        let (own_rows, row_len) = rows_of("scatter_add_rows", self)?;
        if own_rows != indices.len() {
            return Err(Error::shape(
                "scatter_add_rows",
                format!(
                    "expected one index per row of shape {}, got {} indices",
                    self.shape(),
                    indices.len()
                ),
            ));
        }
        let shape = with_rows(self.shape(), rows);
        check_indices("scatter_add_rows", indices, rows, &shape)?;
        crate::tensor::reserve_output("scatter_add_rows", &shape, self.dtype(), self.device())?;
        let storage = self.storage().scatter_add_rows(row_len, indices, rows)?;
        let out = Tensor::from_storage(storage, shape);
        record(out, &[self], || Box::new(ScatterAddRowsBackward { indices: indices.to_vec() }))
    }
}

struct GatherRowsBackward {
    indices: Vec<usize>,
    rows: usize,
}

impl Backward for GatherRowsBackward {
    fn name(&self) -> &'static str {
        "gather_rows"
    }

    fn backward(&self, grad: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(grad.scatter_add_rows(&self.indices, self.rows)?)])
    }
}

struct ScatterAddRowsBackward {
    indices: Vec<usize>,
}

impl Backward for ScatterAddRowsBackward {
    fn name(&self) -> &'static str {
        "scatter_add_rows"
    }

    fn backward(&self, grad: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(grad.gather_rows(&self.indices)?)])
    }
}
