//! The CPU reference backend: plain loops over contiguous row-major data, written for obvious
//! correctness, in f32 or f64. Every GPU kernel is checked against these, and the gradient
//! checks run them in f64.

/// The sum of `values`, accumulated in f64 whatever their dtype, so that the reference stays the
/// more accurate side of every comparison: an f32 running sum stops growing at 2^24 (the sum of
/// 2^25 ones would be 16,777,216) and drifts by percents over millions of terms. Every CPU
/// reduction (sums, means, softmax and cross-entropy normalisers, batch statistics) sums
/// through here; products' inner sums stay in the operands' dtype, as on the GPU.
pub(crate) fn sum<T: crate::Element>(values: impl IntoIterator<Item = T>) -> T {
    T::of(values.into_iter().map(crate::Element::f64).sum())
}

/// Runs a dtype-generic expression with `$T` bound to the Rust type of `$dtype`. f16 has no
/// kernels of its own here: the dispatch (`crate::storage`) widens f16 operands to f32 before
/// any kernel runs, so `$T` is f32 for it and `typed` would refuse f16 data.
macro_rules! for_dtype {
    ($dtype:expr, $T:ident => $body:expr) => {
        match $dtype {
            $crate::DType::F16 | $crate::DType::F32 => {
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

mod alloc;
mod backend;
mod batch_norm;
mod binary;
mod conv;
mod cross_entropy;
mod depthwise_conv;
mod layout;
mod matmul;
mod optim;
mod pool;
mod recurrent;
mod reduce;
mod softmax;
mod unary;

pub(crate) use alloc::host_vec_from;
pub use alloc::{
    HOST_MEMORY_LIMIT_VAR, check_host_bytes, host_memory_limit, host_vec, set_host_memory_limit,
};

use crate::{DType, Element};

/// Host memory of one tensor.
#[derive(Clone, Debug)]
pub enum CpuStorage {
    F16(Vec<half::f16>),
    F32(Vec<f32>),
    F64(Vec<f64>),
}

impl CpuStorage {
    pub fn dtype(&self) -> DType {
        match self {
            CpuStorage::F16(_) => DType::F16,
            CpuStorage::F32(_) => DType::F32,
            CpuStorage::F64(_) => DType::F64,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            CpuStorage::F16(v) => v.len(),
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
            CpuStorage::F16(v) => v.iter().map(|&x| x.to_f64()).collect(),
            CpuStorage::F32(v) => v.iter().map(|&x| x as f64).collect(),
            CpuStorage::F64(v) => v.clone(),
        }
    }
}
