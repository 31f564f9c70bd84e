//! The wgpu backend: each op of [`BackendStorage`] records its kernels. GPU tensors hold f32,
//! or f16 on adapters with `SHADER_F16`: the products read and write f16 themselves, and the
//! dispatch (`crate::storage`) widens f16 operands to f32 for every other op. f64 is refused
//! with an error naming the op.

use std::ops::Range;

use super::GpuDevice;
use super::kernels::matmul::Epilogue;
use super::kernels::{
    argmax, batch_norm, binary, cast, conv, cross_entropy, depthwise_conv, fill, gather, matmul, optim, pool,
    random,
};
use super::kernels::{recurrent, reduce, softmax, strided_copy, unary};
use super::storage::GpuStorage;
use crate::backend::{
    Activation, AxisSplit, BackendStorage, BatchNormConfig, BinaryOp, Conv2dGeometry, Gradients3, MatmulDims,
    RecurrentCell, ReduceOp, Rows, UnaryOp, UpdateItem, UpdateRule, Window,
};
use crate::cpu::CpuStorage;
use crate::{DType, Error, Result, Shape};

/// Refuses any dtype but f32, naming the op.
fn f32_only(op: &'static str, dtype: DType) -> Result<()> {
    if dtype == DType::F32 { Ok(()) } else { Err(Error::DType { op, expected: DType::F32, got: dtype }) }
}

impl BackendStorage for GpuStorage {
    type Device = GpuDevice;

    fn full(device: &GpuDevice, len: usize, value: f64, dtype: DType) -> Result<Self> {
        f32_only("full", dtype)?;
        fill::fill(device, len, value as f32)
    }

    fn ramp(device: &GpuDevice, len: usize, start: f64, step: f64, dtype: DType) -> Result<Self> {
        f32_only("arange", dtype)?;
        fill::ramp(device, len, start as f32, step as f32)
    }

    fn uniform(device: &GpuDevice, len: u32, low: f64, high: f64, seed: u64, dtype: DType) -> Result<Self> {
        f32_only("uniform", dtype)?;
        random::uniform(device, len, low, high, seed)
    }

    fn upload(device: &GpuDevice, data: CpuStorage) -> Result<Self> {
        match data {
            CpuStorage::F32(data) => GpuStorage::from_host(device, bytemuck::cast_slice(&data), DType::F32),
            CpuStorage::F16(data) => GpuStorage::from_host(device, bytemuck::cast_slice(&data), DType::F16),
            other => Err(Error::DType { op: "to", expected: DType::F32, got: other.dtype() }),
        }
    }

    fn download(&self) -> Result<CpuStorage> {
        let bytes = self.to_host()?;
        Ok(match self.dtype {
            DType::F16 => CpuStorage::F16(bytemuck::pod_collect_to_vec(&bytes)),
            _ => CpuStorage::F32(bytemuck::pod_collect_to_vec(&bytes)),
        })
    }

    fn dtype(&self) -> DType {
        self.dtype
    }

    fn cast(&self, dtype: DType) -> Result<Self> {
        cast::cast(self, dtype)
    }

    fn assign(&mut self, src: &Self) -> Result<()> {
        self.copy_from(src);
        Ok(())
    }

    fn unary(&self, op: UnaryOp) -> Result<Self> {
        unary::unary(op, self)
    }

    fn unary_backward(&self, op: UnaryOp, out: &Self, grad: &Self) -> Result<Self> {
        unary::unary_backward(op, self, out, grad)
    }

    fn binary(
        &self,
        op: BinaryOp,
        shape: &Shape,
        rhs: &Self,
        rhs_shape: &Shape,
        out: &Shape,
    ) -> Result<Self> {
        binary::binary(op, self, shape, rhs, rhs_shape, out)
    }

    fn expand(&self, shape: &Shape, target: &Shape, scale: f64) -> Result<Self> {
        strided_copy::expand(self, shape, target, scale)
    }

    fn reduce(&self, op: ReduceOp, shape: &Shape, kept: &Shape) -> Result<Self> {
        reduce::reduce(op, self, shape, kept)
    }

    fn softmax(&self, split: AxisSplit, log: bool) -> Result<Self> {
        softmax::softmax(self, split, log)
    }

    fn argmax(&self, rows: Rows) -> Result<Self> {
        argmax::argmax(self, rows)
    }

    fn cross_entropy(&self, labels: &Self, rows: Rows, sparse: bool) -> Result<Self> {
        cross_entropy::loss(rows, sparse, self, labels)
    }

    fn cross_entropy_backward(&self, labels: &Self, grad: &Self, rows: Rows, sparse: bool) -> Result<Self> {
        cross_entropy::logits_grad(rows, sparse, self, labels, grad)
    }

    fn permute(&self, shape: &Shape, axes: &[usize]) -> Result<Self> {
        strided_copy::permute(self, shape, axes)
    }

    fn read_window(&self, window: Window) -> Result<Self> {
        strided_copy::read_window(self, window)
    }

    fn assemble(device: &GpuDevice, parts: &[(&Self, Window)], numel: usize, dtype: DType) -> Result<Self> {
        f32_only("concat", dtype)?;
        strided_copy::assemble(device, parts, numel)
    }

    fn gather_rows(&self, row_len: usize, indices: &[usize]) -> Result<Self> {
        gather::gather_rows(self, row_len, indices)
    }

    fn scatter_add_rows(&self, row_len: usize, indices: &[usize], rows: usize) -> Result<Self> {
        gather::scatter_add_rows(self, row_len, indices, rows)
    }

    fn matmul(&self, rhs: &Self, dims: &MatmulDims) -> Result<Self> {
        matmul::matmul(self, rhs, dims, Epilogue::default())
    }

    fn affine(
        &self,
        kernel: &Self,
        bias: Option<&Self>,
        activation: Activation,
        dims: &MatmulDims,
    ) -> Result<Self> {
        matmul::matmul(self, kernel, dims, Epilogue { bias, activation })
    }

    fn affine_backward(
        &self,
        kernel: &Self,
        out: Option<&Self>,
        grad: &Self,
        activation: Activation,
        dims: &MatmulDims,
        needs: [bool; 3],
    ) -> Result<Gradients3<Self>> {
        matmul::affine_backward(self, kernel, out, grad, activation, dims, needs)
    }

    fn im2col(&self, g: &Conv2dGeometry, images: Range<usize>) -> Result<Self> {
        conv::im2col(self, g, images)
    }

    fn col2im(&self, g: &Conv2dGeometry, images: usize) -> Result<Self> {
        conv::col2im(self, g, images)
    }

    fn conv2d(
        &self,
        kernel: &Self,
        bias: Option<&Self>,
        activation: Activation,
        g: &Conv2dGeometry,
        batch: usize,
    ) -> Result<Self> {
        conv::conv2d(self, kernel, Epilogue { bias, activation }, g, batch)
    }

    fn conv2d_backward(
        &self,
        kernel: &Self,
        out: Option<&Self>,
        grad: &Self,
        activation: Activation,
        g: &Conv2dGeometry,
        batch: usize,
        needs: [bool; 3],
    ) -> Result<Gradients3<Self>> {
        conv::conv2d_backward(self, kernel, out, grad, activation, g, batch, needs)
    }

    fn depthwise_conv2d(
        &self,
        kernel: &Self,
        g: &Conv2dGeometry,
        multiplier: usize,
        batch: usize,
    ) -> Result<Self> {
        depthwise_conv::depthwise_conv2d(self, kernel, g, multiplier, batch)
    }

    fn depthwise_conv2d_backward(
        &self,
        kernel: &Self,
        grad: &Self,
        g: &Conv2dGeometry,
        multiplier: usize,
        batch: usize,
        needs: [bool; 2],
    ) -> Result<(Option<Self>, Option<Self>)> {
        depthwise_conv::depthwise_conv2d_backward(self, kernel, grad, g, multiplier, batch, needs)
    }

    fn max_pool(&self, g: &Conv2dGeometry, batch: usize) -> Result<(Self, Self)> {
        pool::max_pool(self, g, batch)
    }

    fn max_pool_backward(&self, taps: &Self, g: &Conv2dGeometry, batch: usize) -> Result<Self> {
        pool::max_pool_backward(self, taps, g, batch)
    }

    fn avg_pool(&self, g: &Conv2dGeometry, batch: usize) -> Result<Self> {
        pool::avg_pool(self, g, batch)
    }

    fn avg_pool_backward(&self, g: &Conv2dGeometry, batch: usize) -> Result<Self> {
        pool::avg_pool_backward(self, g, batch)
    }

    fn batch_norm_train(&self, gamma: &Self, beta: &Self, p: BatchNormConfig) -> Result<(Self, Self, Self)> {
        batch_norm::batch_norm_train(p, self, gamma, beta)
    }

    fn batch_norm_backward(
        &self,
        gamma: &Self,
        mean: &Self,
        var: &Self,
        grad: &Self,
        p: BatchNormConfig,
    ) -> Result<(Self, Self, Self)> {
        batch_norm::batch_norm_backward(p, self, gamma, mean, var, grad)
    }

    fn lstm_cell(&self, c_prev: &Self, cell: RecurrentCell) -> Result<Self> {
        recurrent::lstm_cell(cell, self, c_prev)
    }

    fn lstm_cell_backward(
        &self,
        c_prev: &Self,
        out: &Self,
        grad: &Self,
        cell: RecurrentCell,
    ) -> Result<(Self, Self)> {
        recurrent::lstm_cell_backward(cell, self, c_prev, out, grad)
    }

    fn gru_cell(&self, inner: &Self, h_prev: &Self, cell: RecurrentCell) -> Result<Self> {
        recurrent::gru_cell(cell, self, inner, h_prev)
    }

    fn gru_cell_backward(
        &self,
        inner: &Self,
        h_prev: &Self,
        grad: &Self,
        cell: RecurrentCell,
    ) -> Result<(Self, Self, Self)> {
        recurrent::gru_cell_backward(cell, self, inner, h_prev, grad)
    }

    fn update(rule: &UpdateRule, items: &mut [UpdateItem<'_, Self>]) -> Result<()> {
        optim::update(rule, items)
    }
}
