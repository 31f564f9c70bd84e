//! Element types and the host-side scalar trait the CPU backend is generic over.

use std::fmt;

use crate::cpu::CpuStorage;

/// The element type of a tensor.
///
/// f32 is what models train in; f64 exists on the CPU backend so that gradient checks by
/// finite differences are precise enough to catch a wrong backward rule; f16 is a storage type
/// (half the memory and traffic): kernels read it, compute in f32 and round what they store, on
/// GPUs with `SHADER_F16` and on the CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    F16,
    F32,
    F64,
}

impl DType {
    /// Bytes per element.
    pub fn size_in_bytes(self) -> usize {
        match self {
            DType::F16 => 2,
            DType::F32 => 4,
            DType::F64 => 8,
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DType::F16 => "f16",
            DType::F32 => "f32",
            DType::F64 => "f64",
        })
    }
}

/// A host scalar type that a tensor can hold.
pub trait Element:
    num_traits::Float + num_traits::FromPrimitive + Send + Sync + fmt::Debug + 'static
{
    const DTYPE: DType;

    /// Moves host data into CPU storage of this element type.
    fn into_storage(data: Vec<Self>) -> CpuStorage;

    /// Borrows CPU storage as this element type, if that is what it holds.
    fn slice(storage: &CpuStorage) -> Option<&[Self]>;

    /// Mutably borrows CPU storage as this element type, if that is what it holds.
    fn slice_mut(storage: &mut CpuStorage) -> Option<&mut [Self]>;

    /// Converts from f64, rounding for f32.
    fn of(v: f64) -> Self {
        <Self as num_traits::FromPrimitive>::from_f64(v).expect("every f64 converts to a float")
    }

    /// Widens to f64.
    fn f64(self) -> f64 {
        num_traits::ToPrimitive::to_f64(&self).expect("every float converts to f64")
    }
}

/// Implements [`Element`] for a host type held by one [`CpuStorage`] variant.
macro_rules! element {
    ($t:ty, $variant:ident) => {
        impl Element for $t {
            const DTYPE: DType = DType::$variant;

            fn into_storage(data: Vec<Self>) -> CpuStorage {
                CpuStorage::$variant(data)
            }

            fn slice(storage: &CpuStorage) -> Option<&[Self]> {
                match storage {
                    CpuStorage::$variant(v) => Some(v),
                    _ => None,
                }
            }

            fn slice_mut(storage: &mut CpuStorage) -> Option<&mut [Self]> {
                match storage {
                    CpuStorage::$variant(v) => Some(v),
                    _ => None,
                }
            }
        }
    };
}

element!(half::f16, F16);
element!(f32, F32);
element!(f64, F64);
