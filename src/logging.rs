//! The command line's and the examples' logger: what tessera's libraries and wgpu report through
//! `log`, on standard error. By default tessera's warnings and everyone's errors;
//! `TESSERA_LOG=off|error|warn|info|debug|trace` sets one level for all.

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
        let fallback = if ours(metadata.target()) { LevelFilter::Warn } else { LevelFilter::Error };
        let level = LEVEL.get().copied().flatten().unwrap_or(fallback);
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
