//! `.keras` archives: a zip of `config.json` (the model and its compile settings),
//! `metadata.json` and `model.weights.h5` (Keras 3's weights layout), read with the `zip`
//! crate. Each member is read up to the size its entry declares, and an entry may declare no
//! more than deflate can expand its stored bytes to, so a forged size allocates nothing huge.

use std::io::{Cursor, Read};
use std::path::Path;

use super::super::io_error;
use crate::Result;

/// The first bytes of a zip archive's first entry.
pub(super) const MAGIC: &[u8] = b"PK\x03\x04";

/// The most deflate expands data by (a run of one byte compresses about 1032 to 1).
const MAX_DEFLATE_RATIO: u64 = 1032;

/// The members of a `.keras` archive that tessera reads.
pub(super) struct Archive {
    pub(super) config: String,
    pub(super) weights: Vec<u8>,
}

/// Reads the archive at `path` from its `bytes`.
pub(super) fn read(bytes: &[u8], path: &Path) -> Result<Archive> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| io_error(path, format!("not a .keras archive (zip): {e}")))?;
    let config = member(&mut zip, path, "config.json")?;
    let config = String::from_utf8(config)
        .map_err(|e| io_error(path, format!("config.json is not UTF-8 text: {e}")))?;
    let weights = member(&mut zip, path, "model.weights.h5")?;
    Ok(Archive { config, weights })
}

/// The bytes of the member `name`.
fn member(zip: &mut zip::ZipArchive<Cursor<&[u8]>>, path: &Path, name: &str) -> Result<Vec<u8>> {
    let mut file = zip.by_name(name).map_err(|e| {
        io_error(path, format!("has no {name} ({e}); expected a .keras archive from Keras 3"))
    })?;
    let (size, stored) = (file.size(), file.compressed_size());
    if size > stored.saturating_mul(MAX_DEFLATE_RATIO) {
        return Err(io_error(
            path,
            format!("{name} declares {size} bytes, more than its {stored} stored bytes can hold"),
        ));
    }
    let mut bytes = Vec::new();
    bytes.try_reserve_exact(usize::try_from(size).unwrap_or(usize::MAX)).map_err(|e| {
        io_error(path, format!("{name} declares {size} bytes, which cannot be allocated: {e}"))
    })?;
    file.by_ref()
        .take(size)
        .read_to_end(&mut bytes)
        .map_err(|e| io_error(path, format!("{name} cannot be read: {e}")))?;
    if bytes.len() as u64 != size {
        return Err(io_error(path, format!("{name} holds {} bytes, its entry declares {size}", bytes.len())));
    }
    Ok(bytes)
}
