//! `Tensor`: a shape, a dtype and storage on a device, plus an optional link to the tape that is
//! recording it. Cloning is cheap (the storage is shared); every op returns a new tensor.

use std::fmt;
use std::sync::Arc;

use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::autodiff::TapeLink;
use crate::cpu::{self, for_dtype};
use crate::storage::Storage;
use crate::{DType, Device, Element, Error, Result, Shape, rng};

/// An n-dimensional array on a device.
#[derive(Clone)]
pub struct Tensor {
    shape: Shape,
    dtype: DType,
    device: Device,
    storage: Arc<RwLock<Storage>>,
    pub(crate) link: Option<TapeLink>,
}

impl Tensor {
    pub(crate) fn from_storage(storage: Storage, shape: Shape) -> Tensor {
        Tensor {
            shape,
            dtype: storage.dtype(),
            device: storage.device(),
            storage: Arc::new(RwLock::new(storage)),
            link: None,
        }
    }

    /// A tensor holding `data` in row-major order.
    pub fn from_vec<T: Element>(data: Vec<T>, shape: impl Into<Shape>, device: &Device) -> Result<Tensor> {
        let shape = shape.into();
        let numel = shape.checked_numel("from_vec")?;
        if data.len() != numel {
            return Err(Error::shape(
                "from_vec",
                format!("{} values cannot fill shape {shape} ({numel} elements)", data.len()),
            ));
        }
        let storage = Storage::upload(device, T::into_storage(data)).map_err(|e| e.renamed("from_vec"))?;
        Ok(Tensor::from_storage(storage, shape))
    }

    /// A tensor holding a copy of `data`.
    pub fn from_slice<T: Element>(data: &[T], shape: impl Into<Shape>, device: &Device) -> Result<Tensor> {
        let shape = shape.into();
        let numel = shape.checked_numel("from_slice")?;
        if data.len() != numel {
            return Err(Error::shape(
                "from_slice",
                format!("{} values cannot fill shape {shape} ({numel} elements)", data.len()),
            ));
        }
        let mut copy = cpu::host_vec("from_slice", &format_args!("a copy of shape {shape}"), data.len())?;
        copy.extend_from_slice(data);
        Tensor::from_vec(copy, shape, device)
    }

    /// A tensor of `shape` filled with `value` (on a GPU, by a kernel: nothing is uploaded).
    pub fn full(shape: impl Into<Shape>, value: f64, dtype: DType, device: &Device) -> Result<Tensor> {
        Tensor::filled("full", shape.into(), value, dtype, device)
    }

    /// [`Tensor::full`] under the name of the constructor called, for its errors.
    fn filled(op: &'static str, shape: Shape, value: f64, dtype: DType, device: &Device) -> Result<Tensor> {
        let len = new_len(op, &shape, dtype, device)?;
        let storage = Storage::full(device, len, value, dtype).map_err(|e| e.renamed(op))?;
        Ok(Tensor::from_storage(storage, shape))
    }

    /// The class ids `0, 1, ..., n - 1` as a rank-1 tensor (exact in f32 up to 2^24), made on the
    /// device: a GPU fills it with a kernel instead of uploading it.
    pub fn arange(n: usize, dtype: DType, device: &Device) -> Result<Tensor> {
        let shape = Shape::new([n]);
        new_len("arange", &shape, dtype, device)?;
        let storage = Storage::ramp(device, n, 0.0, 1.0, dtype).map_err(|e| e.renamed("arange"))?;
        Ok(Tensor::from_storage(storage, shape))
    }

    pub fn zeros(shape: impl Into<Shape>, dtype: DType, device: &Device) -> Result<Tensor> {
        Tensor::filled("zeros", shape.into(), 0.0, dtype, device)
    }

    pub fn ones(shape: impl Into<Shape>, dtype: DType, device: &Device) -> Result<Tensor> {
        Tensor::filled("ones", shape.into(), 1.0, dtype, device)
    }

    /// A rank-0 tensor.
    pub fn scalar(value: f64, dtype: DType, device: &Device) -> Result<Tensor> {
        Tensor::filled("scalar", Shape::scalar(), value, dtype, device)
    }

    /// A tensor of this one's shape, dtype and device filled with `value`.
    pub fn full_like(&self, value: f64) -> Result<Tensor> {
        Tensor::filled("full_like", self.shape.clone(), value, self.dtype, &self.device)
    }

    pub fn zeros_like(&self) -> Result<Tensor> {
        self.full_like(0.0)
    }

    pub fn ones_like(&self) -> Result<Tensor> {
        self.full_like(1.0)
    }

    /// Uniform samples in `[low, high)`, reproducible from `seed` (see [`crate::rng`]).
    pub fn uniform(
        shape: impl Into<Shape>,
        low: f64,
        high: f64,
        seed: u64,
        dtype: DType,
        device: &Device,
    ) -> Result<Tensor> {
        let shape = shape.into();
        new_len("uniform", &shape, dtype, device)?;
        let n = stream_len("uniform", &shape)?;
        let storage =
            Storage::uniform(device, n, low, high, seed, dtype).map_err(|e| e.renamed("uniform"))?;
        Ok(Tensor::from_storage(storage, shape))
    }

    /// Normal samples with mean `mean` and standard deviation `std`, reproducible from `seed`.
    pub fn normal(
        shape: impl Into<Shape>,
        mean: f64,
        std: f64,
        seed: u64,
        dtype: DType,
        device: &Device,
    ) -> Result<Tensor> {
        Tensor::sampled("normal", shape.into(), dtype, device, |i| mean + std * rng::normal(seed, i))
    }

    fn sampled(
        op: &'static str,
        shape: Shape,
        dtype: DType,
        device: &Device,
        sample: impl Fn(u32) -> f64,
    ) -> Result<Tensor> {
        new_len(op, &shape, dtype, device)?;
        let n = stream_len(op, &shape)?;
        // Drawn on the host whatever the device, so the host must hold them too.
        let what = format_args!("shape {shape} of {dtype}");
        // f16 is drawn in f32 and rounded, as every tensor made in f16 is.
        let drawn = if dtype == DType::F16 { DType::F32 } else { dtype };
        let host = for_dtype!(drawn, T => T::into_storage(
            cpu::host_vec_from(op, &what, n as usize, |i| T::of(sample(i as u32)))?
        ));
        let storage = Storage::upload(device, host).and_then(|s| s.cast(dtype)).map_err(|e| e.renamed(op))?;
        Ok(Tensor::from_storage(storage, shape))
    }

    pub fn shape(&self) -> &Shape {
        &self.shape
    }

    pub fn dims(&self) -> &[usize] {
        self.shape.dims()
    }

    pub fn rank(&self) -> usize {
        self.shape.rank()
    }

    pub fn numel(&self) -> usize {
        self.shape.numel()
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Read access to the data. Recursive, so an op may read the same storage twice (`x * x`).
    pub(crate) fn storage(&self) -> RwLockReadGuard<'_, Storage> {
        self.storage.read_recursive()
    }

    /// Write access, for in-place updates; callers make sure no operand aliases another.
    pub(crate) fn storage_mut(&self) -> RwLockWriteGuard<'_, Storage> {
        self.storage.write()
    }

    /// Whether two tensors share one buffer (views of each other, or clones).
    pub fn shares_storage(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.storage, &other.storage)
    }

    /// The same data under another shape, sharing storage (the caller has checked the counts).
    pub(crate) fn with_shape(&self, shape: Shape) -> Tensor {
        debug_assert_eq!(shape.numel(), self.numel());
        Tensor { shape, link: None, ..self.clone() }
    }

    /// This tensor without its tape link: ops on the result are not recorded.
    pub fn detach(&self) -> Tensor {
        Tensor { link: None, ..self.clone() }
    }

    /// Whether ops on this tensor are being recorded on a live tape.
    pub fn is_tracked(&self) -> bool {
        self.link.as_ref().is_some_and(TapeLink::is_live)
    }

    /// The elements, copied to the host, as `T` (which must be this tensor's dtype).
    pub fn to_vec<T: Element>(&self) -> Result<Vec<T>> {
        if T::DTYPE != self.dtype {
            return Err(Error::DType { op: "to_vec", expected: self.dtype, got: T::DTYPE });
        }
        Ok(self.storage().download()?.typed::<T>().to_vec())
    }

    /// The elements, copied to the host and widened to f64, whatever the dtype.
    pub fn to_vec_f64(&self) -> Result<Vec<f64>> {
        Ok(self.storage().download()?.to_f64_vec())
    }

    /// The value of a one-element tensor.
    pub fn item(&self) -> Result<f64> {
        if self.numel() != 1 {
            return Err(Error::shape("item", format!("expected one element, got shape {}", self.shape)));
        }
        Ok(self.to_vec_f64()?[0])
    }

    /// A copy on `device` (this tensor itself, shared, when it is already there).
    pub fn to(&self, device: &Device) -> Result<Tensor> {
        if &self.device == device {
            return Ok(self.clone());
        }
        let storage = self.storage().to_device(device)?;
        Ok(Tensor::from_storage(storage, self.shape.clone()))
    }

    /// A copy converted to `dtype`; not differentiable (casts happen at data boundaries).
    pub fn to_dtype(&self, dtype: DType) -> Result<Tensor> {
        if dtype == self.dtype {
            return Ok(self.detach());
        }
        let storage = self.storage().cast(dtype)?;
        Ok(Tensor::from_storage(storage, self.shape.clone()))
    }

    /// Overwrites this tensor's elements with `src`'s, in place (shapes, dtypes and devices must
    /// agree). Every view sharing the storage sees the new values.
    pub fn assign(&self, src: &Tensor) -> Result<()> {
        self.same_layout("assign", src)?;
        if self.shares_storage(src) {
            return Ok(());
        }
        let src_guard = src.storage();
        self.storage_mut().assign(&src_guard)
    }

    /// Checks that `other` has this tensor's shape, dtype and device.
    pub(crate) fn same_layout(&self, op: &'static str, other: &Tensor) -> Result<()> {
        self.same_kind(op, other)?;
        if self.shape != other.shape {
            return Err(Error::shape(op, format!("expected shape {}, got {}", self.shape, other.shape)));
        }
        Ok(())
    }

    /// Checks that `other` has this tensor's dtype and device.
    pub(crate) fn same_kind(&self, op: &'static str, other: &Tensor) -> Result<()> {
        if self.dtype != other.dtype {
            return Err(Error::DType { op, expected: self.dtype, got: other.dtype });
        }
        if self.device != other.device {
            return Err(Error::Device { op, lhs: self.device.clone(), rhs: other.device.clone() });
        }
        Ok(())
    }
}

/// The element count of a new tensor of `shape`, `dtype` on `device`, checked before anything is
/// allocated: the element and byte counts must not overflow, and on the CPU the bytes must fit the
/// host memory limit (a GPU checks its own buffer limits).
pub(crate) fn new_len(op: &'static str, shape: &Shape, dtype: DType, device: &Device) -> Result<usize> {
    let len = shape.checked_numel(op)?;
    let what = format_args!("shape {shape} of {dtype}");
    match device {
        Device::Cpu => cpu::check_host_bytes(op, &what, len, dtype.size_in_bytes())?,
        Device::Gpu(_) => len.checked_mul(dtype.size_in_bytes()).ok_or_else(|| Error::Memory {
            op,
            detail: format!("{what} is {len} elements, more bytes than memory can address"),
        })?,
    };
    Ok(len)
}

/// Outputs at least this large are reserved fallibly before an op computes them.
const PROBED_OUTPUT_BYTES: usize = 1 << 30;

/// Checks, before an op runs, that its output of `shape` can be held: [`new_len`]'s checks, and
/// on the CPU, for an output of a GiB or more, a fallible reservation of its bytes (released at
/// once). Ops whose output can dwarf their operands call it (a product of two vectors, a
/// broadcast, a gather naming rows many times, padding, im2col), so that an impossible size is an
/// error naming the op instead of an aborted process; smaller outputs skip the probe.
pub(crate) fn reserve_output(op: &'static str, shape: &Shape, dtype: DType, device: &Device) -> Result<()> {
    let len = new_len(op, shape, dtype, device)?;
    let bytes = len * dtype.size_in_bytes();
    if device == &Device::Cpu && bytes >= PROBED_OUTPUT_BYTES {
        drop(cpu::host_vec::<u8>(op, &format_args!("the output, shape {shape} of {dtype},"), bytes)?);
    }
    Ok(())
}

/// The number of draws for `shape`, which must fit one random stream (u32 positions).
fn stream_len(op: &'static str, shape: &Shape) -> Result<u32> {
    u32::try_from(shape.numel()).map_err(|_| {
        Error::argument(op, format!("{shape} has more elements than a random stream ({})", u32::MAX))
    })
}

impl fmt::Debug for Tensor {
    /// Shape, dtype, device and, for a small tensor on the CPU, its values. A GPU tensor's values
    /// are not read back (that would wait on the device): `to_vec` reads them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tensor(shape={}, dtype={}, device={}", self.shape, self.dtype, self.device)?;
        let storage = self.storage();
        if storage.is_gpu() {
            write!(f, ", data on the device")?;
        } else if self.numel() <= 16
            && let Ok(values) = self.to_vec_f64()
        {
            write!(f, ", data={values:?}")?;
        }
        if self.is_tracked() {
            write!(f, ", tracked")?;
        }
        write!(f, ")")
    }
}
