//! Bilinear sampling of a channels-last image on the host, shared by augmentation (which
//! samples at transformed coordinates) and resizing (which samples on a scaled grid).

/// What a sample outside the image reads.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum FillMode {
    /// The nearest edge pixel (the border repeats outwards): Keras's default `fill_mode`.
    #[default]
    Nearest,
    /// A constant value in every channel (Keras's `fill_mode="constant"` with `cval`).
    Constant(f32),
    /// The image mirrored about its edges, edge pixels repeated: `dcba|abcd|dcba` (Keras's
    /// `fill_mode="reflect"`).
    Reflect,
    /// The image repeated: `abcd|abcd|abcd` (Keras's `fill_mode="wrap"`).
    Wrap,
}

/// A borrowed `height x width x channels` image, row-major.
pub(crate) struct HostImage<'a> {
    pub(crate) pixels: &'a [f32],
    pub(crate) height: usize,
    pub(crate) width: usize,
    pub(crate) channels: usize,
}

impl HostImage<'_> {
    /// Writes into `out` (one value per channel) the image at row `y`, column `x`, where pixel
    /// `(r, c)` has its centre at `(r, c)`; between centres the four neighbours are blended
    /// bilinearly, and neighbours outside the image read as `fill` says.
    pub(crate) fn sample(&self, y: f64, x: f64, fill: FillMode, out: &mut [f32]) {
        let (y0, x0) = (y.floor(), x.floor());
        let (fy, fx) = ((y - y0) as f32, (x - x0) as f32);
        let neighbours = [
            (y0, x0, (1.0 - fy) * (1.0 - fx)),
            (y0, x0 + 1.0, (1.0 - fy) * fx),
            (y0 + 1.0, x0, fy * (1.0 - fx)),
            (y0 + 1.0, x0 + 1.0, fy * fx),
        ];
        out.fill(0.0);
        for (row, col, weight) in neighbours {
            match self.texel(row, col, fill) {
                Texel::Pixel(pixel) => out.iter_mut().zip(pixel).for_each(|(o, &p)| *o += weight * p),
                Texel::Fill(value) => out.iter_mut().for_each(|o| *o += weight * value),
            }
        }
    }

    /// What position (`row`, `col`) (whole numbers) reads: a pixel, found as the
    /// [`FillMode`] says outside the image, or the constant.
    fn texel(&self, row: f64, col: f64, fill: FillMode) -> Texel<'_> {
        let inside = |v: f64, len: usize| v >= 0.0 && v < len as f64;
        let (r, c) = match fill {
            FillMode::Nearest => (clamp_index(row, self.height), clamp_index(col, self.width)),
            FillMode::Constant(value) if !(inside(row, self.height) && inside(col, self.width)) => {
                return Texel::Fill(value);
            }
            FillMode::Constant(_) => (row as usize, col as usize),
            FillMode::Reflect => (reflect_index(row, self.height), reflect_index(col, self.width)),
            FillMode::Wrap => (wrap_index(row, self.height), wrap_index(col, self.width)),
        };
        let start = (r * self.width + c) * self.channels;
        Texel::Pixel(&self.pixels[start..start + self.channels])
    }
}

/// The value a sampled neighbour contributes.
enum Texel<'a> {
    Pixel(&'a [f32]),
    Fill(f32),
}

/// The index that whole number `v` reads in an image of `len` pixels mirrored about its edges
/// (period `2 len`; a coordinate that is not finite reads index 0).
fn reflect_index(v: f64, len: usize) -> usize {
    let period = 2 * len as i64;
    // Coordinates past ±2^62 saturate; the period keeps the result in range anyway.
    let m = (v as i64).rem_euclid(period) as usize;
    if m < len { m } else { 2 * len - 1 - m }
}

/// The index that whole number `v` reads in an image of `len` pixels repeated (a coordinate
/// that is not finite reads index 0).
fn wrap_index(v: f64, len: usize) -> usize {
    (v as i64).rem_euclid(len as i64) as usize
}

/// `v` clamped to a valid index below `len` (a NaN coordinate clamps to 0).
fn clamp_index(v: f64, len: usize) -> usize {
    // `as` saturates: negative and NaN values become 0.
    (v.max(0.0) as usize).min(len - 1)
}
