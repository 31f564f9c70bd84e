//! Pooling of channels-last images: max, average, global average and global max.

use tensor_core::{Padding, Tensor};

use super::base::{LayerBase, layer_basics, layer_builders};
use super::config::{Fields, config};
use super::convolutional::window_output;
use super::{Config, Size2, Spec};
use crate::{ForwardCtx, Layer, Result};

/// A windowed pooling layer: Keras's defaults are a (2, 2) pool, strides equal to the pool and
/// `valid` padding.
macro_rules! pooling_layer {
    ($(#[$doc:meta])* $layer:ident, $class:literal, $base_name:literal, $op:ident) => {
        $(#[$doc])*
        pub struct $layer {
            base: LayerBase,
            pool_size: Size2,
            strides: Option<Size2>,
            padding: Spec<Padding>,
        }

        impl $layer {
            /// A (2, 2) pool with strides (2, 2) and `valid` padding.
            pub fn new() -> Self {
                $layer {
                    base: LayerBase::new($base_name),
                    pool_size: Size2(2, 2),
                    strides: None,
                    padding: Spec::Value(Padding::Valid),
                }
            }

            /// The window's (height, width) ((2, 2) by default; a number means both).
            pub fn pool_size(mut self, pool_size: impl Into<Size2>) -> Self {
                self.pool_size = pool_size.into();
                self
            }

            /// The step between windows (the pool size unless given).
            pub fn strides(mut self, strides: impl Into<Size2>) -> Self {
                self.strides = Some(strides.into());
                self
            }

            /// `Padding::Valid` (default) or `Padding::Same`, or by name ("same").
            pub fn padding(mut self, padding: impl Into<Spec<Padding>>) -> Self {
                self.padding = padding.into();
                self
            }

            fn window(&self) -> Result<(Size2, Padding)> {
                Ok((self.strides.unwrap_or(self.pool_size), self.base.resolve(&self.padding)?))
            }

            /// Keras's `from_config`: the layer a [`Layer::config`] describes; settings missing
            /// from the config take their defaults.
            pub fn from_config(config: &Config) -> Result<Self> {
                let mut fields = Fields::layer($class, config);
                let mut layer = Self::new();
                fields.update("pool_size", &mut layer.pool_size)?;
                fields.update("strides", &mut layer.strides)?;
                fields.update("padding", &mut layer.padding)?;
                layer.base.read_config(&mut fields)?;
                fields.finish()?;
                Ok(layer)
            }
        }

        impl Default for $layer {
            fn default() -> Self {
                Self::new()
            }
        }

        layer_builders!($layer);

        impl Layer for $layer {
            layer_basics!($class, $base_name);

            /// `strides` is null when it follows the pool size.
            fn config(&self) -> Result<Config> {
                let mut config = self.base.config();
                config.extend(config!(
                    "pool_size": self.pool_size,
                    "strides": self.strides,
                    "padding": self.padding,
                ));
                Ok(config)
            }

            fn build(&mut self, inputs: &[Vec<usize>]) -> Result<Vec<usize>> {
                let input = self.base.single(inputs)?;
                let (strides, padding) = self.window()?;
                let (h, w) = window_output(&self.base, input, self.pool_size, strides, padding)?;
                let output = vec![h, w, input[2]];
                self.base.build_weights(inputs, |_| Ok(()))?;
                Ok(output)
            }

            fn forward(&self, inputs: &[Tensor], _ctx: &mut ForwardCtx<'_>) -> Result<Tensor> {
                self.base.check_inputs(inputs)?;
                let (strides, padding) = self.window()?;
                Ok(inputs[0].$op(self.pool_size.pair(), strides.pair(), padding)?)
            }
        }
    };
}

pooling_layer!(
    /// The maximum of each window, per channel (padding never wins).
    MaxPooling2D,
    "MaxPooling2D",
    "max_pooling2d",
    max_pool2d
);

pooling_layer!(
    /// The mean of each window, per channel; a window overlapping `same` padding averages only
    /// the pixels it covers, as Keras.
    AveragePooling2D,
    "AveragePooling2D",
    "average_pooling2d",
    avg_pool2d
);

/// A global pooling layer: one value per channel over height and width, (H, W, C) images to
/// (C,) vectors, or to (1, 1, C) images with `keepdims` (Keras's default `keepdims=False`).
macro_rules! global_pooling_layer {
    ($(#[$doc:meta])* $layer:ident, $class:literal, $base_name:literal, |$x:ident| $pool:expr) => {
        $(#[$doc])*
        pub struct $layer {
            base: LayerBase,
            keepdims: bool,
        }

        impl $layer {
            /// Pools over height and width, dropping them.
            pub fn new() -> $layer {
                $layer { base: LayerBase::new($base_name), keepdims: false }
            }

            /// Whether to keep height and width as axes of size 1, (1, 1, C) rather than (C,)
            /// (false by default).
            pub fn keepdims(mut self, keepdims: bool) -> Self {
                self.keepdims = keepdims;
                self
            }

            /// Keras's `from_config`: the layer a [`Layer::config`] describes.
            pub fn from_config(config: &Config) -> Result<$layer> {
                let mut fields = Fields::layer($class, config);
                let mut layer = $layer::new();
                fields.update("keepdims", &mut layer.keepdims)?;
                layer.base.read_config(&mut fields)?;
                fields.finish()?;
                Ok(layer)
            }
        }

        impl Default for $layer {
            fn default() -> Self {
                Self::new()
            }
        }

        layer_builders!($layer);

        impl Layer for $layer {
            layer_basics!($class, $base_name);

            fn config(&self) -> Result<Config> {
                let mut config = self.base.config();
                config.insert("keepdims".into(), serde_json::Value::Bool(self.keepdims));
                Ok(config)
            }

            fn build(&mut self, inputs: &[Vec<usize>]) -> Result<Vec<usize>> {
                let input = self.base.single(inputs)?;
                let &[_, _, channels] = input else {
                    return Err(self.base.shape_error("images of shape (height, width, channels)", input));
                };
                self.base.build_weights(inputs, |_| Ok(()))?;
                Ok(if self.keepdims { vec![1, 1, channels] } else { vec![channels] })
            }

            fn forward(&self, inputs: &[Tensor], _ctx: &mut ForwardCtx<'_>) -> Result<Tensor> {
                self.base.check_inputs(inputs)?;
                let $x = &inputs[0];
                let pooled: Tensor = $pool?;
                if self.keepdims {
                    let &[n, channels] = pooled.dims() else {
                        return Err(self.base.shape_error("pooled (N, C) features", pooled.dims()));
                    };
                    Ok(pooled.reshape([n, 1, 1, channels])?)
                } else {
                    Ok(pooled)
                }
            }
        }
    };
}

global_pooling_layer!(
    /// The mean of each channel over height and width: (H, W, C) images to (C,) vectors.
    GlobalAveragePooling2D,
    "GlobalAveragePooling2D",
    "global_average_pooling2d",
    |x| x.global_avg_pool2d()
);

global_pooling_layer!(
    /// The maximum of each channel over height and width: (H, W, C) images to (C,) vectors
    /// (a tie shares the gradient equally, as the `max` reduction does).
    GlobalMaxPooling2D,
    "GlobalMaxPooling2D",
    "global_max_pooling2d",
    |x| x.max(&[1, 2], false)
);
