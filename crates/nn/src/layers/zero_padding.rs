//! ZeroPadding2D: rows and columns of zeros around channels-last images.

use serde_json::Value;
use tensor_core::Tensor;

use super::Config;
use super::base::{LayerBase, batch_shape, layer_basics, layer_builders};
use super::config::{Fields, FromValue, ToValue};
use crate::{ForwardCtx, Layer, Result};

/// The zeros ZeroPadding2D adds: ((top, bottom), (left, right)), as Keras keeps its `padding`.
/// A number pads all four sides alike, a (height, width) pair pads top and bottom by the first
/// and left and right by the second, as in Keras.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pads2D(pub (usize, usize), pub (usize, usize));

impl From<usize> for Pads2D {
    fn from(n: usize) -> Self {
        Pads2D((n, n), (n, n))
    }
}

impl From<(usize, usize)> for Pads2D {
    fn from((h, w): (usize, usize)) -> Self {
        Pads2D((h, h), (w, w))
    }
}

impl From<((usize, usize), (usize, usize))> for Pads2D {
    fn from((rows, columns): ((usize, usize), (usize, usize))) -> Self {
        Pads2D(rows, columns)
    }
}

/// Keras's config form: `[[top, bottom], [left, right]]`.
impl ToValue for Pads2D {
    fn to_value(&self) -> Value {
        let Pads2D((top, bottom), (left, right)) = *self;
        Value::from(vec![vec![top, bottom], vec![left, right]])
    }
}

/// Any of the forms Keras takes: a number, `[height, width]` or `[[top, bottom], [left, right]]`.
impl FromValue for Pads2D {
    fn from_value(value: &Value) -> std::result::Result<Self, String> {
        if let Ok(n) = usize::from_value(value) {
            return Ok(Pads2D::from(n));
        }
        if let Ok([h, w]) = <[usize; 2]>::try_from(Vec::<usize>::from_value(value).unwrap_or_default()) {
            return Ok(Pads2D::from((h, w)));
        }
        match Vec::<Vec<usize>>::from_value(value).as_deref() {
            Ok([rows, columns]) if rows.len() == 2 && columns.len() == 2 => {
                Ok(Pads2D((rows[0], rows[1]), (columns[0], columns[1])))
            }
            _ => Err(format!(
                "expected a whole number, [height, width] or [[top, bottom], [left, right]], got {value}"
            )),
        }
    }
}

/// Keras's `ZeroPadding2D`: adds rows of zeros above and below (height, width, channels)
/// images and columns of zeros left and right of them.
pub struct ZeroPadding2D {
    base: LayerBase,
    padding: Pads2D,
}

impl ZeroPadding2D {
    /// One row or column of zeros on each side (Keras's default `padding=(1, 1)`).
    pub fn new() -> ZeroPadding2D {
        ZeroPadding2D { base: LayerBase::new("zero_padding2d"), padding: Pads2D::from(1) }
    }

    /// The zeros to add: a number for every side, (height, width), or ((top, bottom), (left,
    /// right)).
    pub fn padding(mut self, padding: impl Into<Pads2D>) -> Self {
        self.padding = padding.into();
        self
    }

    /// Keras's `ZeroPadding2D.from_config`: `data_format` must be "channels_last" (or absent,
    /// or null).
    pub fn from_config(config: &Config) -> Result<ZeroPadding2D> {
        let mut fields = Fields::layer("ZeroPadding2D", config);
        let mut layer = ZeroPadding2D::new();
        fields.update("padding", &mut layer.padding)?;
        layer.base.read_channels_last(&mut fields)?;
        layer.base.read_config(&mut fields)?;
        fields.finish()?;
        Ok(layer)
    }
}

impl Default for ZeroPadding2D {
    fn default() -> Self {
        ZeroPadding2D::new()
    }
}

layer_builders!(ZeroPadding2D);

impl Layer for ZeroPadding2D {
    layer_basics!("ZeroPadding2D", "zero_padding2d");

    fn config(&self) -> Result<Config> {
        let mut config = self.base.config();
        config.insert("padding".into(), self.padding.to_value());
        config.insert("data_format".into(), "channels_last".to_string().to_value());
        Ok(config)
    }

    fn build(&mut self, inputs: &[Vec<usize>]) -> Result<Vec<usize>> {
        let input = self.base.single(inputs)?;
        let &[h, w, c] = input else {
            return Err(self.base.shape_error("images (height, width, channels)", input));
        };
        let Pads2D((top, bottom), (left, right)) = self.padding;
        let grown = |size: usize, before: usize, after: usize| size.checked_add(before)?.checked_add(after);
        let (Some(out_h), Some(out_w)) = (grown(h, top, bottom), grown(w, left, right)) else {
            return Err(self.base.error(format!(
                "padding {:?} around input shape {} overflows",
                self.padding,
                batch_shape(input)
            )));
        };
        self.base.build_weights(inputs, |_| Ok(()))?;
        Ok(vec![out_h, out_w, c])
    }

    fn forward(&self, inputs: &[Tensor], _ctx: &mut ForwardCtx<'_>) -> Result<Tensor> {
        self.base.check_inputs(inputs)?;
        let Pads2D((top, bottom), (left, right)) = self.padding;
        Ok(inputs[0].pad_axis(1, top, bottom)?.pad_axis(2, left, right)?)
    }
}
