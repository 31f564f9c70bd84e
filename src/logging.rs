//! The command line's and the examples' logger: what tessera's libraries and wgpu report through
//! `log`, on standard error. By default tessera's warnings and everyone else's errors;
//! `TESSERA_LOG=off|error|warn|info|debug|trace` sets tessera's level (and lets everyone else's
//! warnings through, unless it is `off` or `error`).

use std::sync::OnceLock;

use log::{LevelFilter, Log, Metadata, Record};

/// The environment variable that sets the level.
pub const LOG_ENV: &str = "TESSERA_LOG";

struct StderrLogger;

/// A level for every target, when `TESSERA_LOG` gives one.
static LEVEL: OnceLock<Option<LevelFilter>> = OnceLock::new();

/// Whether `target` is one of tessera's own crates (whose warnings a user wants by default).
fn ours(target: &str) -> bool {
    ["tensor_core", "nn", "tessera"].iter().any(|c| target == *c || target.starts_with(&format!("{c}::")))
}

impl Log for StderrLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        let asked = LEVEL.get().copied().flatten();
        let level = match (ours(metadata.target()), asked) {
            (true, Some(level)) => level,
            (true, None) => LevelFilter::Warn,
            (false, Some(level)) => level.min(LevelFilter::Warn),
            (false, None) => LevelFilter::Error,
        };
        metadata.level() <= level
    }

    fn log(&self, record: &Record<'_>) {
        if self.enabled(record.metadata()) {
            eprintln!("{}: {}: {}", record.level().as_str().to_lowercase(), record.target(), record.args());
        }
    }

    fn flush(&self) {}
}

/// Installs the logger (once; later calls do nothing).
pub fn init() {
    let level =
        *LEVEL.get_or_init(|| std::env::var(LOG_ENV).ok().and_then(|v| v.parse::<LevelFilter>().ok()));
    if log::set_logger(&StderrLogger).is_ok() {
        log::set_max_level(level.unwrap_or(LevelFilter::Warn));
    }
}
