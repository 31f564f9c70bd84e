//! Finding a TrueType font for plot text once per process and handing it to plotters.

use std::sync::OnceLock;

/// The family name the pictures ask plotters for.
pub(super) const FAMILY: &str = "sans-serif";

/// Where Debian's `fonts-dejavu-core` (and other distributions) put DejaVu Sans.
const CANDIDATES: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];

/// Whether text can be drawn: registers the font on first call. When none is found it warns
/// once, naming the package that provides one, and every later picture is drawn without text.
pub(super) fn available() -> bool {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    *REGISTERED.get_or_init(|| match load() {
        Ok(()) => true,
        Err(why) => {
            log::warn!(
                "drawing pictures without text: {why}; install Debian's fonts-dejavu-core or set \
                 TESSERA_FONT to a TrueType file"
            );
            false
        }
    })
}

fn load() -> Result<(), String> {
    let path = match std::env::var_os("TESSERA_FONT") {
        Some(path) => path.into(),
        None => CANDIDATES
            .iter()
            .map(std::path::PathBuf::from)
            .find(|p| p.is_file())
            .ok_or_else(|| format!("no font at {}", CANDIDATES.join(", ")))?,
    };
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    // plotters keeps fonts for the life of the process; this runs once, so the leak is bounded.
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    plotters::style::register_font(FAMILY, plotters::style::FontStyle::Normal, bytes)
        .map_err(|_| format!("{}: not a TrueType or OpenType font", path.display()))
}
