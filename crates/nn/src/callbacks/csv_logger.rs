//! CSVLogger: each epoch's logs as a row of a CSV file.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{Callback, CallbackContext};
use crate::{Logs, NnError, Result};

/// Keras's `CSVLogger`: a header `epoch,<every log key, sorted>` and one row per epoch, written
/// and flushed as each epoch ends, so an interrupted run keeps every finished epoch. With
/// `append`, rows go after an existing file's (and its header is kept).
pub struct CSVLogger {
    path: PathBuf,
    separator: char,
    append: bool,
    file: Option<File>,
    keys: Option<Vec<String>>,
}

impl CSVLogger {
    /// Writes to `path`, comma-separated, replacing an existing file.
    pub fn new(path: impl AsRef<Path>) -> Self {
        CSVLogger { path: path.as_ref().to_path_buf(), separator: ',', append: false, file: None, keys: None }
    }

    pub fn separator(mut self, separator: char) -> Self {
        self.separator = separator;
        self
    }

    /// Adds rows after those of an existing file (a resumed run) instead of replacing it.
    pub fn append(mut self, append: bool) -> Self {
        self.append = append;
        self
    }

    fn io_error(&self, e: std::io::Error) -> NnError {
        NnError::Io { path: self.path.display().to_string(), detail: e.to_string() }
    }

    fn write_line(&mut self, fields: &[String]) -> Result<()> {
        let line = fields.join(&self.separator.to_string());
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| NnError::Usage("CSVLogger: written before training began".into()))?;
        let written = writeln!(file, "{line}").and_then(|()| file.flush());
        written.map_err(|e| self.io_error(e))
    }
}

impl Callback for CSVLogger {
    fn on_train_begin(&mut self, _ctx: &mut CallbackContext<'_>) -> Result<()> {
        let continuing = self.append && self.path.metadata().is_ok_and(|m| m.len() > 0);
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .append(self.append)
            .truncate(!self.append)
            .open(&self.path)
            .map_err(|e| self.io_error(e))?;
        self.file = Some(file);
        // An appended file already has its header.
        self.keys = continuing.then(Vec::new);
        Ok(())
    }

    fn on_epoch_end(&mut self, epoch: usize, logs: &mut Logs, _ctx: &mut CallbackContext<'_>) -> Result<()> {
        let keys = match &self.keys {
            Some(keys) if !keys.is_empty() => keys.clone(),
            header_written => {
                let keys: Vec<String> = logs.keys().cloned().collect();
                if header_written.is_none() {
                    let header: Vec<String> =
                        std::iter::once("epoch".to_string()).chain(keys.iter().cloned()).collect();
                    self.write_line(&header)?;
                }
                self.keys = Some(keys.clone());
                keys
            }
        };
        let row: Vec<String> = std::iter::once(epoch.to_string())
            .chain(keys.iter().map(|k| logs.get(k).map_or_else(|| "NA".to_string(), |v| v.to_string())))
            .collect();
        self.write_line(&row)
    }

    fn on_train_end(&mut self, _ctx: &mut CallbackContext<'_>) -> Result<()> {
        self.file = None;
        Ok(())
    }
}
