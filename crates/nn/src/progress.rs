//! What `fit` and `evaluate` print, in Keras's formats.
//!
//! - verbose 1: Keras 3's live bar, redrawn in place (through indicatif) with the ETA and the
//!   running metrics, at most [`REFRESH`] apart; the final line of each pass shows the elapsed
//!   time and every log, sorted by name as Keras 3 sorts them:
//!   `37/37 ━━━━━━━━━━━━━━━━━━━━ 3s 12ms/step - accuracy: 0.9123 - loss: 0.2345`.
//!   Where there is no terminal to redraw on (output piped or captured), only that final line is
//!   written, so logs do not fill with redraws.
//! - verbose 2: one line per pass, in the format of the course notes (losses first, then metrics,
//!   then the validation ones): `2/2 - 1s - loss: 13.0168 - accuracy: 0.5000 - 504ms/epoch -
//!   252ms/step`.
//! - verbose 0: nothing.
//!
//! "Epoch i/n" precedes each epoch when there is more than one, as in Keras.

use std::io::Write;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::{Logs, NnError, Result};

/// The least time between two redraws of the live bar; each redraw reads the running metrics
/// from the device, the only read-back inside an epoch.
pub const REFRESH: Duration = Duration::from_millis(250);

/// Width of the bar in characters, as Keras's.
const BAR_WIDTH: usize = 20;

/// Where lines go: standard output, or a writer the caller injected.
enum Sink<'a> {
    Stdout,
    Writer(&'a mut dyn Write),
}

/// The display of one `fit` or `evaluate` call.
pub(crate) struct Progress<'a> {
    verbose: u8,
    sink: Sink<'a>,
    /// Log names in the order verbose 2 prints them; names not listed follow, sorted.
    order: Vec<String>,
    pass: Option<Pass>,
}

/// One pass over data (an epoch or an evaluation) being displayed.
struct Pass {
    steps: usize,
    started: Instant,
    after_first_step: Option<Instant>,
    last_refresh: Option<Instant>,
    /// The live bar, where verbose is 1 and standard output is a terminal.
    bar: Option<ProgressBar>,
}

impl Pass {
    /// Keras's estimate of the time per step: the first step (which warms caches and compiles
    /// pipelines) is left out once there are others.
    fn time_per_step(&self, done: usize, now: Instant) -> f64 {
        match (self.after_first_step, done) {
            (_, 0) => 0.0,
            (Some(first), d) if d > 1 => (now - first).as_secs_f64() / (d - 1) as f64,
            _ => (now - self.started).as_secs_f64() / done as f64,
        }
    }
}

impl<'a> Progress<'a> {
    /// A display at `verbose` (0, 1 or 2) writing to `writer`, or to standard output when none;
    /// `order` lists the log names in verbose 2's order.
    pub(crate) fn new(verbose: u8, writer: Option<&'a mut dyn Write>, order: Vec<String>) -> Progress<'a> {
        let sink = writer.map_or(Sink::Stdout, Sink::Writer);
        Progress { verbose, sink, order, pass: None }
    }

    /// Announces epoch `epoch` (0-based) of `epochs`.
    pub(crate) fn epoch(&mut self, epoch: usize, epochs: usize) -> Result<()> {
        if self.verbose > 0 && epochs > 1 {
            self.line(&format!("Epoch {}/{epochs}", epoch + 1))?;
        }
        Ok(())
    }

    /// Starts a pass of `steps` batches.
    pub(crate) fn start(&mut self, steps: usize) {
        let live = self.verbose == 1 && matches!(self.sink, Sink::Stdout);
        let bar = live.then(|| live_bar(steps)).filter(|bar| !bar.is_hidden());
        let now = Instant::now();
        self.pass = Some(Pass { steps, started: now, after_first_step: None, last_refresh: None, bar });
    }

    /// Records that `done` batches of the pass are finished; when the live bar is due for a
    /// redraw, `logs` is called for the running values (a read from the device) and shown.
    pub(crate) fn step(&mut self, done: usize, logs: impl FnOnce() -> Result<Logs>) -> Result<()> {
        let Some(pass) = self.pass.as_mut() else { return Ok(()) };
        let now = Instant::now();
        if done == 1 {
            pass.after_first_step = Some(now);
        }
        let Some(bar) = &pass.bar else { return Ok(()) };
        if pass.last_refresh.is_some_and(|last| now - last < REFRESH) {
            return Ok(());
        }
        pass.last_refresh = Some(now);
        let per_step = pass.time_per_step(done, now);
        let eta = per_step * pass.steps.saturating_sub(done) as f64;
        bar.set_prefix(counter(done, pass.steps));
        bar.set_position(done as u64);
        bar.set_message(format!(
            " {}{}{}",
            eta_text(eta),
            step_time(per_step, "step"),
            keras3_values(&logs()?)
        ));
        Ok(())
    }

    /// Ends the pass with its final logs (validation ones included): the final line.
    pub(crate) fn finish(&mut self, logs: &Logs) -> Result<()> {
        let Some(pass) = self.pass.take() else { return Ok(()) };
        let now = Instant::now();
        let elapsed = (now - pass.started).as_secs_f64();
        match self.verbose {
            1 => {
                let per_step = pass.time_per_step(pass.steps, now);
                let info = format!(" {elapsed:.0}s{}{}", step_time(per_step, "step"), keras3_values(logs));
                match pass.bar {
                    Some(bar) => {
                        bar.set_prefix(counter(pass.steps, pass.steps));
                        bar.set_position(pass.steps as u64);
                        bar.finish_with_message(info);
                    }
                    None => {
                        let bar = "━".repeat(BAR_WIDTH);
                        self.line(&format!("{} {bar}{info}", counter(pass.steps, pass.steps)))?;
                    }
                }
            }
            2 => {
                let ordered = self.ordered(logs);
                self.line(&verbose2_line(pass.steps, elapsed, &ordered))?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Prints a message from a callback (above the live bar, if one is drawn).
    pub(crate) fn message(&mut self, text: &str) -> Result<()> {
        match self.pass.as_ref().and_then(|p| p.bar.as_ref()) {
            Some(bar) => {
                bar.println(text);
                Ok(())
            }
            None => self.line(text),
        }
    }

    /// `logs` in verbose 2's order.
    fn ordered<'l>(&self, logs: &'l Logs) -> Vec<(&'l str, f64)> {
        let listed = self.order.iter().filter_map(|k| logs.get_key_value(k));
        let others = logs.iter().filter(|(k, _)| !self.order.contains(k));
        listed.chain(others).map(|(k, &v)| (k.as_str(), v)).collect()
    }

    fn line(&mut self, text: &str) -> Result<()> {
        let written = match &mut self.sink {
            Sink::Stdout => writeln!(std::io::stdout().lock(), "{text}"),
            Sink::Writer(w) => writeln!(w, "{text}"),
        };
        written.map_err(|e| NnError::Io { path: "progress output".into(), detail: e.to_string() })
    }
}

/// A bar drawn on standard output in Keras 3's colours; hidden by indicatif when standard output
/// is not a terminal.
fn live_bar(steps: usize) -> ProgressBar {
    let style = ProgressStyle::with_template("{prefix:.bold} {bar:20.green/white}{msg}")
        .expect("the template is valid")
        .progress_chars("━━");
    ProgressBar::with_draw_target(Some(steps as u64), ProgressDrawTarget::stdout()).with_style(style)
}

/// "done/steps", with `done` padded to the width of `steps` as Keras pads it.
fn counter(done: usize, steps: usize) -> String {
    let width = steps.to_string().len();
    format!("{done:>width$}/{steps}")
}

/// Keras's ETA: "12s", "3:05" or "1:02:03" (whole seconds, truncated).
fn eta_text(eta: f64) -> String {
    let s = eta as u64;
    if eta > 3600.0 {
        format!("{}:{:02}:{:02}", s / 3600, (s % 3600) / 60, s % 60)
    } else if eta > 60.0 {
        format!("{}:{:02}", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// Keras's time per unit: " 12ms/step", " 2s/epoch", " 850us/step".
fn step_time(seconds: f64, unit: &str) -> String {
    if seconds >= 1.0 || seconds == 0.0 {
        format!(" {seconds:.0}s/{unit}")
    } else if seconds >= 1e-3 {
        format!(" {:.0}ms/{unit}", seconds * 1e3)
    } else {
        format!(" {:.0}us/{unit}", seconds * 1e6)
    }
}

/// Keras 3's " - name: value" list: 4 decimals, or scientific notation for magnitudes up to 1e-3.
fn keras3_values(logs: &Logs) -> String {
    logs.iter()
        .map(|(k, &v)| {
            format!(" - {k}: {}", if v.abs() > 1e-3 { format!("{v:.4}") } else { scientific(v, 4) })
        })
        .collect()
}

/// The verbose 2 line of a pass of `steps` batches that took `seconds`, with `logs` in order.
fn verbose2_line(steps: usize, seconds: f64, logs: &[(&str, f64)]) -> String {
    let values: String = logs
        .iter()
        .map(|&(k, v)| format!(" - {k}: {}", if v > 1e-3 { format!("{v:.4}") } else { scientific(v, 4) }))
        .collect();
    format!(
        "{} - {seconds:.0}s{values} -{} -{}",
        counter(steps, steps),
        step_time(seconds, "epoch"),
        step_time(seconds / steps.max(1) as f64, "step")
    )
}

/// Python's `%.{precision}e`: "1.2345e-04", "nan", "inf".
pub(crate) fn scientific(v: f64, precision: usize) -> String {
    if !v.is_finite() {
        return if v.is_nan() {
            "nan".into()
        } else if v > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    let rust = format!("{v:.precision$e}");
    let (mantissa, exponent) = rust.split_once('e').expect("scientific notation has an exponent");
    let exponent: i32 = exponent.parse().expect("the exponent is an integer");
    format!("{mantissa}e{}{:02}", if exponent < 0 { '-' } else { '+' }, exponent.abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logs(pairs: &[(&str, f64)]) -> Logs {
        pairs.iter().map(|&(k, v)| (k.to_string(), v)).collect()
    }

    #[test]
    fn verbose_2_matches_the_notes() {
        let ordered = [("loss", 13.01684), ("accuracy", 0.5)];
        assert_eq!(
            verbose2_line(2, 0.504, &ordered),
            "2/2 - 1s - loss: 13.0168 - accuracy: 0.5000 - 504ms/epoch - 252ms/step"
        );
    }

    #[test]
    fn values_switch_to_scientific_notation_as_keras_does() {
        assert_eq!(scientific(1.23456e-4, 4), "1.2346e-04");
        assert_eq!(scientific(0.0, 4), "0.0000e+00");
        assert_eq!(scientific(-2.5e12, 4), "-2.5000e+12");
        assert_eq!(scientific(f64::NAN, 4), "nan");
        // Verbose 1 compares magnitudes; verbose 2 (Keras 2's rule) compares signed values.
        assert_eq!(
            keras3_values(&logs(&[("loss", -0.5), ("accuracy", 0.0005)])),
            " - accuracy: 5.0000e-04 - loss: -0.5000"
        );
        assert_eq!(
            verbose2_line(1, 0.0, &[("loss", -0.5)]),
            "1/1 - 0s - loss: -5.0000e-01 - 0s/epoch - 0s/step"
        );
    }

    #[test]
    fn times_and_counters_follow_keras() {
        assert_eq!(step_time(0.012, "step"), " 12ms/step");
        assert_eq!(step_time(2.4, "epoch"), " 2s/epoch");
        assert_eq!(step_time(0.00085, "step"), " 850us/step");
        assert_eq!(eta_text(12.9), "12s");
        assert_eq!(eta_text(185.0), "3:05");
        assert_eq!(eta_text(3723.0), "1:02:03");
        assert_eq!(counter(7, 120), "  7/120");
    }

    #[test]
    fn a_captured_verbose_1_pass_writes_only_its_final_line() {
        let mut out = Vec::new();
        {
            let mut progress = Progress::new(1, Some(&mut out), vec![]);
            progress.epoch(0, 3).unwrap();
            progress.start(37);
            for done in 1..=37 {
                progress.step(done, || panic!("no redraw without a terminal")).unwrap();
            }
            progress.finish(&logs(&[("loss", 0.2345), ("accuracy", 0.91234)])).unwrap();
        }
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(lines[0], "Epoch 1/3");
        assert!(lines[1].starts_with("37/37 ━━━━━━━━━━━━━━━━━━━━ 0s "), "{}", lines[1]);
        assert!(lines[1].ends_with("/step - accuracy: 0.9123 - loss: 0.2345"), "{}", lines[1]);
    }
}
