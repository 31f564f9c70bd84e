//! 2-D convolution of NHWC image batches, with an optional bias and activation applied as the
//! output is stored, and im2col/col2im (the lowering of a convolution to a product) as ops of
//! their own.

use crate::autodiff::{Backward, record};
use crate::backend::{Activation, Conv2dGeometry, Padding};
use crate::{Error, Result, Shape, Tensor};

/// The dimensions of an NHWC batch, or an error naming `op`.
pub(super) fn nhwc(op: &'static str, x: &Tensor) -> Result<[usize; 4]> {
    <[usize; 4]>::try_from(x.dims()).map_err(|_| {
        Error::shape(op, format!("expected an NHWC image batch (rank 4), got shape {}", x.shape()))
    })
}

/// The batch size and geometry of a window over the NHWC batch `x`.
pub(super) fn of_images(
    op: &'static str,
    x: &Tensor,
    window: (usize, usize),
    strides: (usize, usize),
    padding: Padding,
) -> Result<(usize, Conv2dGeometry)> {
    let [n, h, w, c] = nhwc(op, x)?;
    Ok((n, Conv2dGeometry::resolve(op, [h, w, c], window, strides, padding)?))
}

/// Checks that a kernel reading `kernel_channels` input channels fits the `channels` of `x`.
pub(super) fn check_kernel_channels(
    op: &'static str,
    kernel: &Tensor,
    kernel_channels: usize,
    x: &Tensor,
    channels: usize,
) -> Result<()> {
    if kernel_channels == channels {
        return Ok(());
    }
    Err(Error::shape(
        op,
        format!(
            "kernel {} expects {kernel_channels} input channels, but input {} has {channels}",
            kernel.shape(),
            x.shape()
        ),
    ))
}

/// Checks that `x` is an NHWC batch of `g`'s images; returns the batch size.
fn check_images(op: &'static str, g: &Conv2dGeometry, x: &Tensor) -> Result<usize> {
    let [n, h, w, c] = nhwc(op, x)?;
    if [h, w, c] != [g.in_h, g.in_w, g.channels] {
        return Err(Error::shape(
            op,
            format!(
                "expected images of {}x{} pixels with {} channels, got shape {}",
                g.in_h,
                g.in_w,
                g.channels,
                x.shape()
            ),
        ));
    }
    Ok(n)
}

/// Checks that `cols` is an im2col matrix of `g`; returns the batch size.
fn check_cols(op: &'static str, g: &Conv2dGeometry, cols: &Tensor) -> Result<usize> {
    let per_image = g.positions();
    match *cols.dims() {
        [rows, patch] if patch == g.patch_len() && rows % per_image == 0 => Ok(rows / per_image),
        _ => Err(Error::shape(
            op,
            format!(
                "expected an im2col matrix of (N * {per_image}, {}), got shape {}",
                g.patch_len(),
                cols.shape()
            ),
        )),
    }
}

/// im2col of the whole NHWC batch `x`, untracked.
fn im2col_forward(x: &Tensor, g: &Conv2dGeometry) -> Result<Tensor> {
    let images = x.dims()[0];
    let shape = Shape::new([images * g.positions(), g.patch_len()]);
    crate::tensor::reserve_output("im2col", &shape, x.dtype(), x.device())?;
    let storage = x.storage().im2col(g, 0..images)?;
    Ok(Tensor::from_storage(storage, shape))
}

/// col2im of the im2col matrix `cols`, untracked.
fn col2im_forward(cols: &Tensor, g: &Conv2dGeometry) -> Result<Tensor> {
    let images = cols.dims()[0] / g.positions();
    Ok(Tensor::from_storage(cols.storage().col2im(g, images)?, g.input_shape(images)))
}

impl Tensor {
    /// The windows of an NHWC batch as the rows of an (N*OH*OW, KH*KW*C) matrix, zeros where a
    /// window overlaps padding: the lowering that turns a convolution into one matmul.
    pub fn im2col(&self, geometry: &Conv2dGeometry) -> Result<Tensor> {
        check_images("im2col", geometry, self)?;
        let out = im2col_forward(self, geometry)?;
        record(out, &[self], || Box::new(Im2colBackward { geometry: *geometry }))
    }

    /// The adjoint of [`Tensor::im2col`]: adds each row back onto the pixels its window covers,
    /// giving an (N, H, W, C) batch.
    pub fn col2im(&self, geometry: &Conv2dGeometry) -> Result<Tensor> {
        check_cols("col2im", geometry, self)?;
        let out = col2im_forward(self, geometry)?;
        record(out, &[self], || Box::new(Col2imBackward { geometry: *geometry }))
    }

    /// 2-D convolution (cross-correlation, as in Keras) of an NHWC batch with a (KH, KW, C, F)
    /// kernel, giving (N, OH, OW, F). No bias: add one by broadcasting, or use
    /// [`Tensor::conv2d_affine`].
    pub fn conv2d(&self, kernel: &Tensor, strides: (usize, usize), padding: Padding) -> Result<Tensor> {
        self.conv2d_affine(kernel, None, Activation::Identity, strides, padding)
    }

    /// Transposed 2-D convolution of an NHWC batch (N, H, W, C) with a (KH, KW, F, C) kernel, as
    /// Keras's `Conv2DTranspose` stores it, giving (N, OH, OW, F) of the sizes
    /// [`Conv2dGeometry::transposed`] gives: the input gradient of the convolution that maps
    /// (OH, OW, F) images to (H, W, C) ones with this kernel. It runs as that gradient does, one
    /// product `x · kernelᵀ` and col2im, so its backward rule is theirs.
    pub fn conv2d_transpose(
        &self,
        kernel: &Tensor,
        strides: (usize, usize),
        padding: Padding,
    ) -> Result<Tensor> {
        let op = "conv2d_transpose";
        self.same_kind(op, kernel)?;
        let [n, h, w, c] = nhwc(op, self)?;
        let &[kh, kw, filters, kc] = kernel.dims() else {
            return Err(Error::shape(
                op,
                format!("expected a kernel of shape (KH, KW, F, C), got {}", kernel.shape()),
            ));
        };
        check_kernel_channels(op, kernel, kc, self, c)?;
        let geometry = Conv2dGeometry::resolve_transposed(op, [h, w], filters, (kh, kw), strides, padding)?;
        let rows = self.reshape([n * h * w, c])?;
        let matrix = kernel.reshape([geometry.patch_len(), c])?;
        rows.matmul_t(&matrix, false, true)?.col2im(&geometry)
    }

    /// `activation(conv2d(self, kernel) + bias)` as one op: a convolutional layer, with an (F,)
    /// bias. The bias and the activation are applied as the convolution stores each output,
    /// and the backward pass takes the activation's derivative from the output.
    pub fn conv2d_affine(
        &self,
        kernel: &Tensor,
        bias: Option<&Tensor>,
        activation: Activation,
        strides: (usize, usize),
        padding: Padding,
    ) -> Result<Tensor> {
        let op = "conv2d";
        activation.check(op)?;
        self.same_kind(op, kernel)?;
        let &[kh, kw, kc, filters] = kernel.dims() else {
            return Err(Error::shape(
                op,
                format!("expected a kernel of shape (KH, KW, C, F), got {}", kernel.shape()),
            ));
        };
        let (batch, geometry) = of_images(op, self, (kh, kw), strides, padding)?;
        check_kernel_channels(op, kernel, kc, self, geometry.channels)?;
        if let Some(bias) = bias {
            self.same_kind(op, bias)?;
            if bias.dims() != [filters] {
                return Err(Error::shape(
                    op,
                    format!("expected a bias of shape ({filters},), got {}", bias.shape()),
                ));
            }
        }
        let matrix = kernel.with_shape(Shape::new([geometry.patch_len(), filters]));
        let bias_storage = bias.map(|b| b.storage());
        let storage = self.storage().conv2d(
            &matrix.storage(),
            bias_storage.as_deref(),
            activation,
            &geometry,
            batch,
        )?;
        drop(bias_storage);
        let out = Tensor::from_storage(storage, geometry.output_shape(batch, filters));
        let saved = (activation != Activation::Identity).then(|| out.detach());
        let mut inputs = vec![self, kernel];
        inputs.extend(bias);
        record(out, &inputs, || {
            Box::new(Conv2dBackward {
                x: self.detach(),
                kernel: matrix,
                kernel_shape: kernel.shape().clone(),
                out: saved,
                activation,
                geometry,
                batch,
                has_bias: bias.is_some(),
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
        Ok(vec![Some(im2col_forward(grad, &self.geometry)?)])
    }
}

/// The gradients of [`Tensor::conv2d_affine`], from one backend call.
struct Conv2dBackward {
    x: Tensor,
    /// The kernel as the (KH*KW*C, F) matrix the forward multiplied by.
    kernel: Tensor,
    kernel_shape: Shape,
    /// The output, kept when the activation's derivative needs it.
    out: Option<Tensor>,
    activation: Activation,
    geometry: Conv2dGeometry,
    batch: usize,
    has_bias: bool,
}

impl Backward for Conv2dBackward {
    fn name(&self) -> &'static str {
        "conv2d"
    }

    fn backward(&self, grad: &Tensor, needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let out = self.out.as_ref().map(|o| o.storage());
        let wanted = [needs[0], needs[1], self.has_bias && needs.get(2).copied().unwrap_or(false)];
        let (dx, dkernel, dbias) = self.x.storage().conv2d_backward(
            &self.kernel.storage(),
            out.as_deref(),
            &grad.storage(),
            self.activation,
            &self.geometry,
            self.batch,
            wanted,
        )?;
        let mut grads = vec![
            dx.map(|d| Tensor::from_storage(d, self.x.shape().clone())),
            dkernel.map(|d| Tensor::from_storage(d, self.kernel_shape.clone())),
        ];
        if self.has_bias {
            let filters = self.kernel.dims()[1];
            grads.push(dbias.map(|d| Tensor::from_storage(d, Shape::new([filters]))));
        }
        Ok(grads)
    }
}
