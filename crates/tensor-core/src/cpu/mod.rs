//! The CPU reference backend: plain loops over contiguous row-major data, written for obvious
//! correctness. Every GPU kernel is checked against these.

/// Runs a dtype-generic expression with `$T` bound to the Rust type of `$dtype`.
macro_rules! for_dtype {
    ($dtype:expr, $T:ident => $body:expr) => {
        match $dtype {
            $crate::DType::F32 => {
                #[allow(unused_imports)]
                use $crate::Element as _;
                type $T = f32;
                $body
            }
            $crate::DType::F64 => {
                #[allow(unused_imports)]
                use $crate::Element as _;
                type $T = f64;
                $body
            }
        }
    };
}
pub(crate) use for_dtype;

pub(crate) mod batch_norm;
pub(crate) mod binary;
pub(crate) mod conv;
pub(crate) mod cross_entropy;
pub(crate) mod layout;
pub(crate) mod matmul;
pub(crate) mod optim;
pub(crate) mod pool;
pub(crate) mod reduce;
pub(crate) mod softmax;
pub(crate) mod unary;

use crate::{DType, Element};

/// Host memory of one tensor.
#[derive(Clone, Debug)]
pub enum CpuStorage {
    F32(Vec<f32>),
    F64(Vec<f64>),
}

impl CpuStorage {
    pub fn dtype(&self) -> DType {
        match self {
            CpuStorage::F32(_) => DType::F32,
            CpuStorage::F64(_) => DType::F64,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            CpuStorage::F32(v) => v.len(),
            CpuStorage::F64(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The data as `T`. Callers dispatch on `dtype()` first (see [`for_dtype!`]), so a mismatch
    /// is a bug in tensor-core, never a user error.
    pub(crate) fn typed<T: Element>(&self) -> &[T] {
        T::slice(self).expect("CPU kernel dispatched on the wrong dtype")
    }

    /// The data as mutable `T`, for in-place kernels; dispatched on `dtype()` first, as `typed`.
    pub(crate) fn typed_mut<T: Element>(&mut self) -> &mut [T] {
        T::slice_mut(self).expect("CPU kernel dispatched on the wrong dtype")
    }

    /// All elements widened to f64.
    pub(crate) fn to_f64_vec(&self) -> Vec<f64> {
        match self {
            CpuStorage::F32(v) => v.iter().map(|&x| x as f64).collect(),
            CpuStorage::F64(v) => v.clone(),
        }
    }

    /// Elements converted to `dtype`.
    pub(crate) fn cast(&self, dtype: DType) -> CpuStorage {
        match (self, dtype) {
            (CpuStorage::F32(v), DType::F64) => CpuStorage::F64(v.iter().map(|&x| x as f64).collect()),
            (CpuStorage::F64(v), DType::F32) => CpuStorage::F32(v.iter().map(|&x| x as f32).collect()),
            _ => self.clone(),
        }
    }

    /// `n` copies of `value` in `dtype`.
    pub(crate) fn full(n: usize, value: f64, dtype: DType) -> CpuStorage {
        for_dtype!(dtype, T => T::into_storage(vec![T::of(value); n]))
    }
}
