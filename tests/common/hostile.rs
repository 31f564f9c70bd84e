//! A tally for hostile-input tests: each case feeds tessera something a careless or malicious
//! user could, and must end in a clean error that names the problem or in a correct result.
//! Anything else — a panic, a wrong answer, an error that does not say what was wrong, or no
//! answer within the deadline — is counted against the suite, and `finish` fails the test with
//! every such case listed after printing the counts (which the suites' figures are taken from).

use std::fmt::Display;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// How long one case may take before it counts as a hang. Generous: a case runs on two shared
/// cores beside other tests, and some read or decode files.
const DEADLINE: Duration = Duration::from_secs(120);

/// How one case ended.
enum Outcome {
    CleanError,
    Correct,
    /// The case ended but not as it must (a wrong result, an error that misses the point, or
    /// success where an error was due); the string says how.
    Wrong(String),
    Panicked(String),
}

/// A clean error if `message` mentions every one of `mentions` (case-insensitively).
fn judge_error(message: &str, mentions: &[&str]) -> Outcome {
    let lower = message.to_lowercase();
    match mentions.iter().find(|m| !lower.contains(&m.to_lowercase())) {
        None => Outcome::CleanError,
        Some(missing) => Outcome::Wrong(format!("error does not mention {missing:?}: {message}")),
    }
}

/// The counts of one hostile-input suite.
pub struct Suite {
    name: &'static str,
    tried: usize,
    clean_errors: usize,
    correct: usize,
    panics: usize,
    hangs: usize,
    failures: Vec<String>,
}

impl Suite {
    pub fn new(name: &'static str) -> Suite {
        Suite { name, tried: 0, clean_errors: 0, correct: 0, panics: 0, hangs: 0, failures: Vec::new() }
    }

    /// A case that must fail with an error whose message contains every one of `mentions`
    /// (case-insensitively): the user must learn what was wrong, not just that something was.
    pub fn error<T, E: Display>(
        &mut self,
        case: &str,
        mentions: &'static [&'static str],
        run: impl FnOnce() -> Result<T, E> + Send + 'static,
    ) {
        self.run(case, move || match run() {
            Ok(_) => Outcome::Wrong("succeeded where an error was due".into()),
            Err(e) => judge_error(&e.to_string(), mentions),
        });
    }

    /// A case that must succeed with a correct result: `run` returns `Ok(None)` when the result
    /// is right, `Ok(Some(why))` when it is wrong, and an error when the call failed.
    pub fn correct<E: Display>(
        &mut self,
        case: &str,
        run: impl FnOnce() -> Result<Option<String>, E> + Send + 'static,
    ) {
        self.run(case, move || match run() {
            Ok(None) => Outcome::Correct,
            Ok(Some(why)) => Outcome::Wrong(format!("wrong result: {why}")),
            Err(e) => Outcome::Wrong(format!("failed where a result was due: {e}")),
        });
    }

    /// A case that may end either way, as long as it ends cleanly: a correct result or an error
    /// naming `mentions` (e.g. an allocation that one machine can make and another cannot).
    pub fn clean<E: Display>(
        &mut self,
        case: &str,
        mentions: &'static [&'static str],
        run: impl FnOnce() -> Result<Option<String>, E> + Send + 'static,
    ) {
        self.run(case, move || match run() {
            Ok(None) => Outcome::Correct,
            Ok(Some(why)) => Outcome::Wrong(format!("wrong result: {why}")),
            Err(e) => judge_error(&e.to_string(), mentions),
        });
    }

    fn run(&mut self, case: &str, body: impl FnOnce() -> Outcome + Send + 'static) {
        self.tried += 1;
        let (sender, receiver) = mpsc::channel();
        // Its own thread, so that a hang is caught by the deadline (the thread is then left
        // behind) and a panic is reported as this case's, not as the whole test's.
        let _ = thread::Builder::new().name(format!("case {case}")).spawn(move || {
            let outcome =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)).unwrap_or_else(|payload| {
                    let message = payload
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    Outcome::Panicked(message)
                });
            let _ = sender.send(outcome);
        });
        match receiver.recv_timeout(DEADLINE) {
            Ok(Outcome::CleanError) => self.clean_errors += 1,
            Ok(Outcome::Correct) => self.correct += 1,
            Ok(Outcome::Wrong(why)) => self.failures.push(format!("{case}: {why}")),
            Ok(Outcome::Panicked(message)) => {
                self.panics += 1;
                self.failures.push(format!("{case}: panicked: {message}"));
            }
            Err(_) => {
                self.hangs += 1;
                self.failures.push(format!("{case}: no answer within {DEADLINE:?}"));
            }
        }
    }

    /// Prints the counts and fails if any case ended badly.
    pub fn finish(self) {
        let wrong = self.failures.len() - self.panics - self.hangs;
        println!(
            "{}: {} cases tried, {} clean errors, {} correct results, {} panics, {} hangs, {} wrong",
            self.name, self.tried, self.clean_errors, self.correct, self.panics, self.hangs, wrong
        );
        assert!(
            self.failures.is_empty(),
            "{}: {} cases ended badly:\n{}",
            self.name,
            self.failures.len(),
            self.failures.join("\n")
        );
    }
}
