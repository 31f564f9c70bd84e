//! Host buffers whose size a caller chose (a shape, a file's header): checked against the host
//! memory limit and reserved fallibly, so that an impossible size is an error naming it, never
//! an aborted process.
//!
//! The limit is off by default: the allocator's own refusal, which a fallible reservation turns
//! into an error, is then the bound. A fixed default (the physical memory, say) would be wrong
//! both ways: under a container or cgroup the process may get far less, and with swap it may
//! get more. But on Linux, with memory overcommit, a reservation below RAM + swap succeeds and
//! only touching its pages can get the process killed; a program that takes sizes from
//! untrusted input should therefore set a limit, with the `TESSERA_HOST_MEMORY_LIMIT`
//! environment variable (read once, at the first checked allocation) or
//! [`set_host_memory_limit`], which overrides it.

use std::fmt::Display;
use std::sync::OnceLock;

use parking_lot::Mutex;

use crate::{Error, Result};

/// The environment variable holding the host memory limit: a byte count, optionally with a
/// binary suffix (`K`, `M`, `G` or `T`, with or without `iB`), such as `8G` or `512MiB`.
pub const HOST_MEMORY_LIMIT_VAR: &str = "TESSERA_HOST_MEMORY_LIMIT";

/// Where the limit comes from.
#[derive(Clone, Copy)]
enum Budget {
    /// `TESSERA_HOST_MEMORY_LIMIT`, or no limit when it is unset.
    FromEnvironment,
    /// Set by [`set_host_memory_limit`]: a byte count, or `None` for no limit.
    Set(Option<usize>),
}

static BUDGET: Mutex<Budget> = Mutex::new(Budget::FromEnvironment);

/// The environment's limit, parsed once: `Err` keeps the message for a malformed value, which
/// every checked allocation then reports (a limit that silently did nothing would be worse).
static ENVIRONMENT_LIMIT: OnceLock<std::result::Result<Option<usize>, String>> = OnceLock::new();

/// Sets the most bytes one host buffer of a caller-chosen size may take (`None`: no limit
/// beyond what the allocator grants), overriding `TESSERA_HOST_MEMORY_LIMIT`.
pub fn set_host_memory_limit(bytes: Option<usize>) {
    *BUDGET.lock() = Budget::Set(bytes);
}

/// The host memory limit in force, in bytes (`None`: no limit); an error when
/// `TESSERA_HOST_MEMORY_LIMIT` is set to something that is not a byte count.
pub fn host_memory_limit() -> Result<Option<usize>> {
    let budget = *BUDGET.lock();
    match budget {
        Budget::Set(limit) => Ok(limit),
        Budget::FromEnvironment => ENVIRONMENT_LIMIT
            .get_or_init(|| match std::env::var(HOST_MEMORY_LIMIT_VAR) {
                Ok(value) => parse_byte_count(&value).map(Some).ok_or_else(|| {
                    format!(
                        "{HOST_MEMORY_LIMIT_VAR}={value:?} is not a byte count; expected e.g. 8G, 512MiB or \
                         1000000"
                    )
                }),
                Err(_) => Ok(None),
            })
            .clone()
            .map_err(|detail| Error::Memory { op: "host memory limit", detail }),
    }
}

/// `1000000`, `64K`, `512MiB`, `8G`, `1T` (binary multiples; case ignored).
fn parse_byte_count(value: &str) -> Option<usize> {
    let value = value.trim();
    let digits = value.find(|c: char| !c.is_ascii_digit()).unwrap_or(value.len());
    let (number, suffix) = value.split_at(digits);
    let shift = match suffix.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" => 10,
        "m" | "mib" => 20,
        "g" | "gib" => 30,
        "t" | "tib" => 40,
        _ => return None,
    };
    number.parse::<usize>().ok()?.checked_mul(1 << shift)
}

/// The bytes of `len` elements of `element_size` bytes each, for `what` (described in errors:
/// "shape (3, 4) of f32"): an error naming the size when the product overflows or exceeds the
/// host memory limit.
pub fn check_host_bytes(
    op: &'static str,
    what: &dyn Display,
    len: usize,
    element_size: usize,
) -> Result<usize> {
    let bytes = len.checked_mul(element_size).ok_or_else(|| Error::Memory {
        op,
        detail: format!(
            "{what} is {len} elements of {element_size} bytes, more bytes than memory can address"
        ),
    })?;
    if let Some(limit) = host_memory_limit()?
        && bytes > limit
    {
        return Err(Error::Memory {
            op,
            detail: format!(
                "{what} needs {bytes} bytes ({}), more than the host memory limit of {limit} bytes ({}; set by \
                 {HOST_MEMORY_LIMIT_VAR} or set_host_memory_limit)",
                human_bytes(bytes),
                human_bytes(limit)
            ),
        });
    }
    Ok(bytes)
}

/// An empty vector with room for exactly `len` elements, checked by [`check_host_bytes`] and
/// reserved fallibly: an error naming `what` and its size if the host cannot hold it.
pub fn host_vec<T>(op: &'static str, what: &dyn Display, len: usize) -> Result<Vec<T>> {
    let bytes = check_host_bytes(op, what, len, size_of::<T>())?;
    let mut buffer = Vec::new();
    buffer.try_reserve_exact(len).map_err(|e| Error::Memory {
        op,
        detail: format!(
            "{what} needs {bytes} bytes ({}), which the host cannot allocate: {e}",
            human_bytes(bytes)
        ),
    })?;
    Ok(buffer)
}

/// `len` values `value(i)`, in a buffer from [`host_vec`].
pub(crate) fn host_vec_from<T>(
    op: &'static str,
    what: &dyn Display,
    len: usize,
    value: impl FnMut(usize) -> T,
) -> Result<Vec<T>> {
    let mut buffer = host_vec(op, what, len)?;
    buffer.extend((0..len).map(value));
    Ok(buffer)
}

/// A byte count for people: `4.0 GiB`.
fn human_bytes(bytes: usize) -> String {
    const UNITS: [&str; 7] = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} bytes") } else { format!("{value:.1} {}", UNITS[unit]) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts_parse_with_binary_suffixes() {
        assert_eq!(parse_byte_count("1000"), Some(1000));
        assert_eq!(parse_byte_count("64K"), Some(64 << 10));
        assert_eq!(parse_byte_count("512MiB"), Some(512 << 20));
        assert_eq!(parse_byte_count(" 8g "), Some(8 << 30));
        assert_eq!(parse_byte_count("lots"), None);
        assert_eq!(parse_byte_count("8X"), None);
        assert_eq!(parse_byte_count(""), None);
        assert_eq!(parse_byte_count("99999999999999999999T"), None);
    }

    #[test]
    fn sizes_print_for_people() {
        assert_eq!(human_bytes(12), "12 bytes");
        assert_eq!(human_bytes(3 << 30), "3.0 GiB");
    }
}
