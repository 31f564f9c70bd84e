//! Shapes, row-major strides, axis normalisation and NumPy broadcasting.

use std::fmt;

use crate::{Error, Result};

/// The dimensions of a tensor, outermost first. Data is always stored contiguous, row-major.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Shape(Vec<usize>);

impl Shape {
    pub fn new(dims: impl Into<Vec<usize>>) -> Self {
        Shape(dims.into())
    }

    /// The shape of a scalar: rank 0, one element.
    pub fn scalar() -> Self {
        Shape(Vec::new())
    }

    pub fn dims(&self) -> &[usize] {
        &self.0
    }

    pub fn rank(&self) -> usize {
        self.0.len()
    }

    /// Number of elements (1 for a scalar). Every tensor's shape passed
    /// [`Shape::checked_numel`] when the tensor was made, so for them this is the exact product;
    /// for a shape whose product overflows it saturates at `usize::MAX`, so that such a shape
    /// never matches a real element count (a wrapped product could: 2^63 x 2 wraps to 0).
    pub fn numel(&self) -> usize {
        self.product().unwrap_or(usize::MAX)
    }

    /// Number of elements, or an error naming `op` and the shape when the product of the
    /// dimensions overflows: what every tensor constructor and reshape checks first.
    pub fn checked_numel(&self, op: &'static str) -> Result<usize> {
        self.product().ok_or_else(|| {
            Error::shape(
                op,
                format!(
                    "shape {self} has more elements than memory can address (the product of its nonzero \
                     dimensions exceeds {})",
                    usize::MAX
                ),
            )
        })
    }

    /// The product of the dimensions, `None` when the product of the nonzero ones overflows:
    /// a zero does not excuse the others, since strides and row lengths multiply them without
    /// it ((0, 2^63, 4) has no elements, but a row stride of 2^65).
    fn product(&self) -> Option<usize> {
        let nonzero = self.0.iter().filter(|&&d| d != 0).try_fold(1usize, |acc, &d| acc.checked_mul(d))?;
        Some(if self.0.contains(&0) { 0 } else { nonzero })
    }

    /// Size of dimension `axis`; panics only on an internal bug, callers normalise axes first.
    pub fn dim(&self, axis: usize) -> usize {
        self.0[axis]
    }

    /// Row-major strides, in elements.
    pub fn strides(&self) -> Vec<usize> {
        let mut strides = vec![1; self.rank()];
        for i in (0..self.rank().saturating_sub(1)).rev() {
            strides[i] = strides[i + 1] * self.0[i + 1];
        }
        strides
    }

    /// Resolves a possibly negative axis (Python style: -1 is the last) against this rank.
    pub fn axis(&self, op: &'static str, axis: isize) -> Result<usize> {
        let rank = self.rank() as isize;
        let resolved = if axis < 0 { axis + rank } else { axis };
        if resolved < 0 || resolved >= rank {
            return Err(Error::argument(
                op,
                format!("axis {axis} is out of range for a tensor of shape {self} (rank {rank})"),
            ));
        }
        Ok(resolved as usize)
    }

    /// Resolves a list of axes, rejecting duplicates; returns them sorted.
    pub fn axes(&self, op: &'static str, axes: &[isize]) -> Result<Vec<usize>> {
        let mut resolved = axes.iter().map(|&a| self.axis(op, a)).collect::<Result<Vec<_>>>()?;
        resolved.sort_unstable();
        if resolved.windows(2).any(|w| w[0] == w[1]) {
            return Err(Error::argument(op, format!("axes {axes:?} name an axis twice")));
        }
        Ok(resolved)
    }

    /// The shape NumPy broadcasting gives to `self` combined with `other`.
    pub fn broadcast(&self, op: &'static str, other: &Shape) -> Result<Shape> {
        let rank = self.rank().max(other.rank());
        let mut dims = vec![0; rank];
        for (i, d) in dims.iter_mut().enumerate() {
            let a = self.dim_from_right(rank - 1 - i);
            let b = other.dim_from_right(rank - 1 - i);
            *d = match (a, b) {
                (a, b) if a == b => a,
                (1, b) => b,
                (a, 1) => a,
                _ => {
                    return Err(Error::shape(
                        op,
                        format!("shapes {self} and {other} cannot be broadcast together"),
                    ));
                }
            };
        }
        let shape = Shape(dims);
        // Two shapes that each fit can broadcast to one that does not: (2^40, 1) and (1, 2^40).
        shape.checked_numel(op)?;
        Ok(shape)
    }

    /// Size of the dimension `k` places from the right, 1 past the rank (broadcasting's view).
    fn dim_from_right(&self, k: usize) -> usize {
        if k < self.rank() { self.0[self.rank() - 1 - k] } else { 1 }
    }

    /// Strides for reading `self` as if it had the (broadcast) shape `target`: a broadcast
    /// dimension gets stride 0.
    pub fn broadcast_strides(&self, target: &Shape) -> Vec<usize> {
        let own = self.strides();
        let offset = target.rank() - self.rank();
        (0..target.rank())
            .map(|i| if i < offset || self.0[i - offset] == 1 { 0 } else { own[i - offset] })
            .collect()
    }
}

/// Offsets into a buffer read through `strides`, visiting every position of `dims` in row-major
/// order. With broadcast strides (0 on broadcast axes) this walks a broadcast operand.
pub(crate) struct StridedOffsets {
    dims: Vec<usize>,
    strides: Vec<usize>,
    index: Vec<usize>,
    offset: usize,
    remaining: usize,
}

impl StridedOffsets {
    pub(crate) fn new(dims: &[usize], strides: &[usize]) -> Self {
        debug_assert_eq!(dims.len(), strides.len());
        StridedOffsets {
            dims: dims.to_vec(),
            strides: strides.to_vec(),
            index: vec![0; dims.len()],
            offset: 0,
            remaining: dims.iter().product(),
        }
    }
}

impl Iterator for StridedOffsets {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let current = self.offset;
        // Odometer step: bump the innermost index, carrying outwards.
        for axis in (0..self.dims.len()).rev() {
            self.index[axis] += 1;
            self.offset += self.strides[axis];
            if self.index[axis] < self.dims[axis] {
                break;
            }
            self.offset -= self.strides[axis] * self.dims[axis];
            self.index[axis] = 0;
        }
        Some(current)
    }
}

impl From<Vec<usize>> for Shape {
    fn from(dims: Vec<usize>) -> Self {
        Shape(dims)
    }
}

impl From<&[usize]> for Shape {
    fn from(dims: &[usize]) -> Self {
        Shape(dims.to_vec())
    }
}

impl<const N: usize> From<[usize; N]> for Shape {
    fn from(dims: [usize; N]) -> Self {
        Shape(dims.to_vec())
    }
}

impl From<&Shape> for Shape {
    fn from(shape: &Shape) -> Self {
        shape.clone()
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "(")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{d}")?;
        }
        if self.0.len() == 1 {
            write!(f, ",")?;
        }
        write!(f, ")")
    }
}

impl fmt::Debug for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting_follows_numpy() {
        let a = Shape::new([4, 1, 3]);
        let b = Shape::new([5, 1]);
        assert_eq!(a.broadcast("t", &b).unwrap(), Shape::new([4, 5, 3]));
        assert!(Shape::new([2, 3]).broadcast("t", &Shape::new([4])).is_err());
        assert_eq!(Shape::new([5, 1]).broadcast_strides(&Shape::new([4, 5, 3])), vec![0, 1, 0]);
        let huge = 1usize << 40;
        assert!(Shape::new([huge, 1]).broadcast("t", &Shape::new([1, huge])).is_err());
    }

    #[test]
    fn overflowing_products_are_caught() {
        let shape = Shape::new([1usize << 63, 2]);
        assert_eq!(shape.numel(), usize::MAX);
        assert!(shape.checked_numel("t").is_err());
        assert!(Shape::new([0, 1usize << 63, 4]).checked_numel("t").is_err());
        assert_eq!(Shape::new([2, 0, 1usize << 61, 2]).checked_numel("t").unwrap(), 0);
        assert_eq!(Shape::scalar().checked_numel("t").unwrap(), 1);
    }

    #[test]
    fn strided_offsets_walk_a_transposed_view() {
        // A 2x3 row-major buffer read as its 3x2 transpose.
        let offsets: Vec<usize> = StridedOffsets::new(&[3, 2], &[1, 3]).collect();
        assert_eq!(offsets, vec![0, 3, 1, 4, 2, 5]);
        assert_eq!(StridedOffsets::new(&[], &[]).collect::<Vec<_>>(), vec![0]);
        assert_eq!(StridedOffsets::new(&[2, 0], &[0, 1]).count(), 0);
    }

    #[test]
    fn axes_resolve_negative_and_reject_bad() {
        let s = Shape::new([2, 3, 4]);
        assert_eq!(s.axis("t", -1).unwrap(), 2);
        assert!(s.axis("t", 3).is_err());
        assert!(s.axes("t", &[0, -3]).is_err());
    }
}
