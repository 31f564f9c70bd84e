//! 2-D convolution of NHWC image batches by im2col and one matrix product, the window geometry
//! it shares with pooling, and im2col/col2im as ops of their own.

use std::ops::Range;

use super::matmul;
use crate::autodiff::{Backward, record};
use crate::cpu::{self, for_dtype};
use crate::gpu::{self, storage::GpuStorage};
use crate::storage::Storage;
use crate::{Device, Error, Result, Shape, Tensor};

/// How a sliding window treats the borders of its input, as Keras's `padding` argument.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Padding {
    /// No padding: windows stay inside the input, so the output shrinks (Keras's default).
    #[default]
    Valid,
    /// Zeros around the input so the output has `ceil(input / stride)` positions; an odd amount
    /// puts the extra row or column after (bottom, right), as TensorFlow does.
    Same,
}

/// Where the windows of a convolution or pooling land on one image: input and window sizes,
/// strides, the output size and the padding on each side, computed once by Keras's arithmetic.
/// Always consistent, because it can only be built through [`Conv2dGeometry::new`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Conv2dGeometry {
    pub(crate) in_h: usize,
    pub(crate) in_w: usize,
    pub(crate) channels: usize,
    pub(crate) window_h: usize,
    pub(crate) window_w: usize,
    pub(crate) stride_h: usize,
    pub(crate) stride_w: usize,
    pub(crate) out_h: usize,
    pub(crate) out_w: usize,
    pub(crate) pad_top: usize,
    pub(crate) pad_bottom: usize,
    pub(crate) pad_left: usize,
    pub(crate) pad_right: usize,
}

/// Output size and padding (before, after) along one axis.
fn axis(
    op: &'static str,
    name: &str,
    input: usize,
    window: usize,
    stride: usize,
    padding: Padding,
) -> Result<(usize, usize, usize)> {
    match padding {
        Padding::Valid if input < window => Err(Error::shape(
            op,
            format!(
                "a window of {window} does not fit an input {name} of {input} with `valid` padding; \
                 use `same` padding or a smaller window"
            ),
        )),
        Padding::Valid => Ok(((input - window) / stride + 1, 0, 0)),
        Padding::Same => {
            let out = input.div_ceil(stride);
            let total = ((out - 1) * stride + window).saturating_sub(input);
            Ok((out, total / 2, total - total / 2))
        }
    }
}

/// Along one axis, the window offsets that land inside the input, with the input index each
/// reads; `start` is the window's first position in padded coordinates.
fn axis_taps(start: usize, pad: usize, window: usize, size: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..window).filter_map(move |k| (start + k).checked_sub(pad).filter(|&i| i < size).map(|i| (k, i)))
}

/// The dimensions of an NHWC batch, or an error naming `op`.
pub(super) fn nhwc(op: &'static str, x: &Tensor) -> Result<[usize; 4]> {
    <[usize; 4]>::try_from(x.dims()).map_err(|_| {
        Error::shape(op, format!("expected an NHWC image batch (rank 4), got shape {}", x.shape()))
    })
}

impl Conv2dGeometry {
    /// The geometry of a `window` sliding over images of `input_hwc` = [height, width,
    /// channels] with `strides` (rows, columns) and `padding`.
    pub fn new(
        input_hwc: [usize; 3],
        window: (usize, usize),
        strides: (usize, usize),
        padding: Padding,
    ) -> Result<Self> {
        Self::resolve("Conv2dGeometry", input_hwc, window, strides, padding)
    }

    fn resolve(
        op: &'static str,
        [in_h, in_w, channels]: [usize; 3],
        (window_h, window_w): (usize, usize),
        (stride_h, stride_w): (usize, usize),
        padding: Padding,
    ) -> Result<Self> {
        if window_h == 0 || window_w == 0 {
            return Err(Error::argument(op, format!("window {window_h}x{window_w} must be at least 1x1")));
        }
        if stride_h == 0 || stride_w == 0 {
            return Err(Error::argument(op, format!("strides ({stride_h}, {stride_w}) must be at least 1")));
        }
        if in_h == 0 || in_w == 0 {
            return Err(Error::shape(op, format!("input images of {in_h}x{in_w} pixels are empty")));
        }
        let (out_h, pad_top, pad_bottom) = axis(op, "height", in_h, window_h, stride_h, padding)?;
        let (out_w, pad_left, pad_right) = axis(op, "width", in_w, window_w, stride_w, padding)?;
        Ok(Conv2dGeometry {
            in_h,
            in_w,
            channels,
            window_h,
            window_w,
            stride_h,
            stride_w,
            out_h,
            out_w,
            pad_top,
            pad_bottom,
            pad_left,
            pad_right,
        })
    }

    /// The batch size and geometry of a window over the NHWC batch `x`.
    pub(crate) fn of_images(
        op: &'static str,
        x: &Tensor,
        window: (usize, usize),
        strides: (usize, usize),
        padding: Padding,
    ) -> Result<(usize, Self)> {
        let [n, h, w, c] = nhwc(op, x)?;
        Ok((n, Self::resolve(op, [h, w, c], window, strides, padding)?))
    }

    /// Output (height, width).
    pub fn output_size(&self) -> (usize, usize) {
        (self.out_h, self.out_w)
    }

    /// Padding as ((top, bottom), (left, right)).
    pub fn pads(&self) -> ((usize, usize), (usize, usize)) {
        ((self.pad_top, self.pad_bottom), (self.pad_left, self.pad_right))
    }

    /// Elements of one input image.
    pub(crate) fn image_len(&self) -> usize {
        self.in_h * self.in_w * self.channels
    }

    /// Elements of one window across all channels: one im2col row.
    pub(crate) fn patch_len(&self) -> usize {
        self.window_h * self.window_w * self.channels
    }

    /// Every output position of `images` images, (image, row, column) in row-major order.
    pub(crate) fn windows(&self, images: usize) -> impl Iterator<Item = (usize, usize, usize)> + use<> {
        let (out_h, out_w) = (self.out_h, self.out_w);
        (0..images).flat_map(move |n| (0..out_h).flat_map(move |y| (0..out_w).map(move |x| (n, y, x))))
    }

    /// The taps of the window at output (`oy`, `ox`) that land inside the image, as (offset in
    /// the window, `ky * window_w + kx`; pixel read, `iy * in_w + ix`). Padding taps are left
    /// out: they read zero (convolution), never win (max) and are not counted (average).
    /// Keras's arithmetic never gives a window that is all padding.
    pub(crate) fn taps(&self, oy: usize, ox: usize) -> impl Iterator<Item = (usize, usize)> + use<> {
        let g = *self;
        axis_taps(oy * g.stride_h, g.pad_top, g.window_h, g.in_h).flat_map(move |(ky, iy)| {
            axis_taps(ox * g.stride_w, g.pad_left, g.window_w, g.in_w)
                .map(move |(kx, ix)| (ky * g.window_w + kx, iy * g.in_w + ix))
        })
    }

    /// Checks that `x` is an NHWC batch of this geometry's images; returns the batch size.
    fn check_images(&self, op: &'static str, x: &Tensor) -> Result<usize> {
        let [n, h, w, c] = nhwc(op, x)?;
        if [h, w, c] != [self.in_h, self.in_w, self.channels] {
            return Err(Error::shape(
                op,
                format!(
                    "expected images of {}x{} pixels with {} channels, got shape {}",
                    self.in_h,
                    self.in_w,
                    self.channels,
                    x.shape()
                ),
            ));
        }
        Ok(n)
    }

    /// Checks that `cols` is an im2col matrix of this geometry; returns the batch size.
    fn check_cols(&self, op: &'static str, cols: &Tensor) -> Result<usize> {
        let per_image = self.out_h * self.out_w;
        match *cols.dims() {
            [rows, patch] if patch == self.patch_len() && rows % per_image == 0 => Ok(rows / per_image),
            _ => Err(Error::shape(
                op,
                format!(
                    "expected an im2col matrix of (N * {per_image}, {}), got shape {}",
                    self.patch_len(),
                    cols.shape()
                ),
            )),
        }
    }
}

/// im2col of the images `images` of the NHWC batch `x`, untracked.
fn im2col_forward(x: &Tensor, g: &Conv2dGeometry, images: Range<usize>) -> Result<Tensor> {
    let rows = images.len() * g.out_h * g.out_w;
    let storage = match &*x.storage() {
        Storage::Cpu(s) => Storage::Cpu(for_dtype!(x.dtype(), T => {
            let block = &s.typed::<T>()[images.start * g.image_len()..images.end * g.image_len()];
            T::into_storage(cpu::conv::im2col::<T>(g, images.len(), block))
        })),
        Storage::Gpu(s) => Storage::Gpu(gpu::kernels::conv::im2col(s, g, images)?),
    };
    Ok(Tensor::from_storage(storage, Shape::new([rows, g.patch_len()])))
}

/// col2im of the im2col matrix `cols`, untracked.
fn col2im_forward(cols: &Tensor, g: &Conv2dGeometry) -> Result<Tensor> {
    let images = cols.dims()[0] / (g.out_h * g.out_w);
    let storage = match &*cols.storage() {
        Storage::Cpu(s) => Storage::Cpu(for_dtype!(cols.dtype(), T => T::into_storage(
            cpu::conv::col2im::<T>(g, images, s.typed())
        ))),
        Storage::Gpu(s) => Storage::Gpu(gpu::kernels::conv::col2im(s, g, images)?),
    };
    Ok(Tensor::from_storage(storage, Shape::new([images, g.in_h, g.in_w, g.channels])))
}

/// The 1x1, stride-1 window over the images of the NHWC batch `t`. Its im2col and col2im copy
/// images unchanged; through them a range of images is read out of a batch, or written into
/// one, binding no more of either buffer than a chunk of images needs.
fn identity(t: &Tensor) -> Result<Conv2dGeometry> {
    let [_, h, w, c] = nhwc("conv2d", t)?;
    Conv2dGeometry::new([h, w, c], (1, 1), (1, 1), Padding::Valid)
}

/// Entries `range` of the NHWC batch `t`, untracked; shares storage when that is all of it.
fn images_of(t: &Tensor, range: Range<usize>) -> Result<Tensor> {
    if range == (0..t.dims()[0]) {
        return Ok(t.detach());
    }
    let mut dims = t.dims().to_vec();
    dims[0] = range.len();
    Ok(im2col_forward(t, &identity(t)?, range)?.with_shape(Shape::new(dims)))
}

/// Writes the NHWC images `part` over the images of `batch` from `first` on.
fn write_images(batch: &Tensor, first: usize, part: &Tensor) -> Result<()> {
    let images = first..first + part.dims()[0];
    let source = part.storage();
    match (&mut *batch.storage_mut(), &*source) {
        (Storage::Cpu(dst), Storage::Cpu(src)) => for_dtype!(batch.dtype(), T => {
            let image_len = part.numel() / images.len().max(1);
            dst.typed_mut::<T>()[images.start * image_len..images.end * image_len]
                .copy_from_slice(src.typed::<T>());
        }),
        (Storage::Gpu(dst), Storage::Gpu(src)) => {
            gpu::kernels::conv::col2im_into(src, &identity(part)?, dst, images)?
        }
        _ => return Err(super::mixed_devices("conv2d", batch, part)),
    }
    Ok(())
}

// conv2d's forward and backward are split by ranges of images so that a backend with a limit
// on buffer sizes can run the batch in chunks: the im2col matrix is up to KH*KW times the size
// of the images it comes from.

/// The ranges of images conv2d takes one at a time: the whole batch, unless it runs on a GPU
/// whose storage binding limit one of the pass's matrices (images, im2col matrix, output or its
/// gradient) would exceed; then the most images per pass that fit.
fn passes(x: &Tensor, g: &Conv2dGeometry, filters: usize) -> Result<Vec<Range<usize>>> {
    let batch = x.dims()[0];
    let per_pass = match &*x.storage() {
        Storage::Cpu(_) => batch,
        Storage::Gpu(s) => gpu::kernels::conv::images_per_dispatch(
            &s.device,
            "conv2d",
            &[
                ("input", g.image_len()),
                ("im2col matrix", g.out_h * g.out_w * g.patch_len()),
                ("output", g.out_h * g.out_w * filters),
            ],
        )?,
    };
    // An empty batch still makes one (empty) pass, so that both gradients get a value.
    let per_pass = per_pass.max(1);
    Ok((0..batch.max(1)).step_by(per_pass).map(|start| start..(start + per_pass).min(batch)).collect())
}

/// A batch gathered from results that each cover one pass's images: with one pass its result is
/// the batch; with several, each is written in place into a batch allocated once.
enum Joined {
    One(Option<Tensor>),
    Several(Tensor),
}

impl Joined {
    /// Room for a batch of `shape` on `like`'s device and dtype, built over `passes`.
    fn new(passes: &[Range<usize>], shape: Shape, like: &Tensor) -> Result<Joined> {
        if passes.len() == 1 {
            return Ok(Joined::One(None));
        }
        // Every element is written by one pass or another, so a GPU batch starts uninitialised.
        let batch = match like.device() {
            Device::Cpu => Tensor::zeros(shape, like.dtype(), &Device::Cpu)?,
            Device::Gpu(gpu) => {
                Tensor::from_storage(Storage::Gpu(GpuStorage::empty(gpu, shape.numel())?), shape)
            }
        };
        Ok(Joined::Several(batch))
    }

    /// Takes the result for the pass over the images `images`.
    fn put(&mut self, images: &Range<usize>, part: Tensor) -> Result<()> {
        match self {
            Joined::One(slot) => *slot = Some(part),
            Joined::Several(batch) => write_images(batch, images.start, &part)?,
        }
        Ok(())
    }

    fn into_batch(self) -> Tensor {
        match self {
            Joined::One(part) => part.expect("every pass puts its result"),
            Joined::Several(batch) => batch,
        }
    }
}

/// conv2d of the images `images` of `x`: im2col, then one product with the (KH*KW*C, F) kernel
/// matrix. Returns (images, OH, OW, F), untracked.
fn forward_images(x: &Tensor, kernel: &Tensor, g: &Conv2dGeometry, images: Range<usize>) -> Result<Tensor> {
    let n = images.len();
    let cols = im2col_forward(x, g, images)?;
    let out = matmul::forward(&cols, kernel, false, false)?;
    Ok(out.with_shape(Shape::new([n, g.out_h, g.out_w, kernel.dims()[1]])))
}

/// conv2d of all of `x` with the kernel matrix `kernel`, pass by pass, untracked.
fn forward(x: &Tensor, kernel: &Tensor, g: &Conv2dGeometry, passes: &[Range<usize>]) -> Result<Tensor> {
    let shape = Shape::new([x.dims()[0], g.out_h, g.out_w, kernel.dims()[1]]);
    let mut out = Joined::new(passes, shape, x)?;
    for images in passes {
        out.put(images, forward_images(x, kernel, g, images.clone())?)?;
    }
    Ok(out.into_batch())
}

/// The output gradient of the images `images` as rows: (images * OH * OW, F).
fn grad_rows(grad: &Tensor, g: &Conv2dGeometry, images: Range<usize>) -> Result<Tensor> {
    let rows = images.len() * g.out_h * g.out_w;
    let block = images_of(grad, images)?;
    Ok(block.with_shape(Shape::new([rows, grad.dims()[3]])))
}

/// The input gradient of the images whose output gradient is `rows`: col2im(dY · Wᵀ).
fn input_grad_rows(rows: &Tensor, kernel: &Tensor, g: &Conv2dGeometry) -> Result<Tensor> {
    let cols = matmul::forward(rows, kernel, false, true)?;
    col2im_forward(&cols, g)
}

/// The images `images`' share of the kernel gradient, as (KH*KW*C, F): im2col(x)ᵀ · dY, where
/// `rows` is their output gradient.
fn kernel_grad_rows(x: &Tensor, rows: &Tensor, g: &Conv2dGeometry, images: Range<usize>) -> Result<Tensor> {
    let cols = im2col_forward(x, g, images)?;
    matmul::forward(&cols, rows, true, false)
}

/// The gradients of conv2d with respect to its input and its kernel matrix (those `needs`
/// asks for), pass by pass, untracked.
fn gradients(
    x: &Tensor,
    kernel: &Tensor,
    grad: &Tensor,
    g: &Conv2dGeometry,
    passes: &[Range<usize>],
    needs: &[bool],
) -> Result<(Option<Tensor>, Option<Tensor>)> {
    let mut dx = needs[0].then(|| Joined::new(passes, x.shape().clone(), x)).transpose()?;
    let mut dw: Option<Tensor> = None;
    for images in passes {
        // Both gradients read this pass's output gradient: it is cut out of the batch once.
        let rows = grad_rows(grad, g, images.clone())?;
        if let Some(dx) = &mut dx {
            dx.put(images, input_grad_rows(&rows, kernel, g)?)?;
        }
        if needs[1] {
            let part = kernel_grad_rows(x, &rows, g, images.clone())?;
            dw = Some(match dw {
                Some(sum) => sum.add(&part)?,
                None => part,
            });
        }
    }
    Ok((dx.map(Joined::into_batch), dw))
}

impl Tensor {
    /// The windows of an NHWC batch as the rows of an (N*OH*OW, KH*KW*C) matrix, zeros where a
    /// window overlaps padding: the lowering that turns a convolution into one matmul.
    pub fn im2col(&self, geometry: &Conv2dGeometry) -> Result<Tensor> {
        geometry.check_images("im2col", self)?;
        let out = im2col_forward(self, geometry, 0..self.dims()[0])?;
        record(out, &[self], || Box::new(Im2colBackward { geometry: *geometry }))
    }

    /// The adjoint of [`Tensor::im2col`]: adds each row back onto the pixels its window covers,
    /// giving an (N, H, W, C) batch.
    pub fn col2im(&self, geometry: &Conv2dGeometry) -> Result<Tensor> {
        geometry.check_cols("col2im", self)?;
        let out = col2im_forward(self, geometry)?;
        record(out, &[self], || Box::new(Col2imBackward { geometry: *geometry }))
    }

    /// 2-D convolution (cross-correlation, as in Keras) of an NHWC batch with a (KH, KW, C, F)
    /// kernel, giving (N, OH, OW, F). No bias: add one by broadcasting.
    pub fn conv2d(&self, kernel: &Tensor, strides: (usize, usize), padding: Padding) -> Result<Tensor> {
        self.same_kind("conv2d", kernel)?;
        let &[kh, kw, kc, filters] = kernel.dims() else {
            return Err(Error::shape(
                "conv2d",
                format!("expected a kernel of shape (KH, KW, C, F), got {}", kernel.shape()),
            ));
        };
        let (_, geometry) = Conv2dGeometry::of_images("conv2d", self, (kh, kw), strides, padding)?;
        if kc != geometry.channels {
            return Err(Error::shape(
                "conv2d",
                format!(
                    "kernel {} expects {kc} input channels, but input {} has {}",
                    kernel.shape(),
                    self.shape(),
                    geometry.channels
                ),
            ));
        }
        let matrix = kernel.with_shape(Shape::new([geometry.patch_len(), filters]));
        let out = forward(self, &matrix, &geometry, &passes(self, &geometry, filters)?)?;
        record(out, &[self, kernel], || {
            Box::new(Conv2dBackward {
                x: self.detach(),
                kernel: matrix,
                kernel_shape: kernel.shape().clone(),
                geometry,
            })
        })
    }
}

struct Im2colBackward {
    geometry: Conv2dGeometry,
}

impl Backward for Im2colBackward {
    fn name(&self) -> &'static str {
        "im2col"
    }

    fn backward(&self, grad: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(col2im_forward(grad, &self.geometry)?)])
    }
}

struct Col2imBackward {
    geometry: Conv2dGeometry,
}

impl Backward for Col2imBackward {
    fn name(&self) -> &'static str {
        "col2im"
    }

    fn backward(&self, grad: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(im2col_forward(grad, &self.geometry, 0..grad.dims()[0])?)])
    }
}

struct Conv2dBackward {
    x: Tensor,
    /// The kernel as the (KH*KW*C, F) matrix the forward multiplied by.
    kernel: Tensor,
    kernel_shape: Shape,
    geometry: Conv2dGeometry,
}

impl Backward for Conv2dBackward {
    fn name(&self) -> &'static str {
        "conv2d"
    }

    fn backward(&self, grad: &Tensor, needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        // The im2col matrix is rebuilt rather than saved from the forward pass: it is up to
        // KH*KW times the size of the input, too much to hold per layer until the backward sweep.
        let (x, g) = (&self.x, &self.geometry);
        let passes = passes(x, g, self.kernel.dims()[1])?;
        let (dx, dw) = gradients(x, &self.kernel, grad, g, &passes, needs)?;
        Ok(vec![dx, dw.map(|dw| dw.reshape(self.kernel_shape.clone())).transpose()?])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DType, Device};

    /// Running the batch in several passes gives what one pass gives.
    #[test]
    fn passes_over_the_batch_agree_with_one() {
        let x = Tensor::uniform([3, 5, 4, 2], -1.0, 1.0, 1, DType::F64, &Device::Cpu).unwrap();
        let kernel = Tensor::uniform([3 * 2 * 2, 3], -1.0, 1.0, 2, DType::F64, &Device::Cpu).unwrap();
        let g = Conv2dGeometry::new([5, 4, 2], (3, 2), (2, 1), Padding::Same).unwrap();
        let grad = Tensor::uniform([3, g.out_h, g.out_w, 3], -1.0, 1.0, 3, DType::F64, &Device::Cpu).unwrap();
        let values = |t: Tensor| t.to_vec::<f64>().unwrap();
        let batch = 0..3;
        let (one, several) = (std::slice::from_ref(&batch), [0..1, 1..3]);

        let whole = values(forward(&x, &kernel, &g, one).unwrap());
        assert_eq!(values(forward(&x, &kernel, &g, &several).unwrap()), whole);

        let all = [true, true];
        let (dx, dw) = gradients(&x, &kernel, &grad, &g, one, &all).unwrap();
        let (split_dx, split_dw) = gradients(&x, &kernel, &grad, &g, &several, &all).unwrap();
        assert_eq!(values(split_dx.unwrap()), values(dx.unwrap()));
        for (s, w) in values(split_dw.unwrap()).iter().zip(&values(dw.unwrap())) {
            assert!((s - w).abs() < 1e-12, "{s} vs {w}");
        }
        let (dx, dw) = gradients(&x, &kernel, &grad, &g, &several, &[false, true]).unwrap();
        assert!(dx.is_none() && dw.is_some());
    }
}
