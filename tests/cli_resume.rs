//! `tessera train` killed (SIGKILL) again and again — at seeded random moments, and at the
//! moments that matter: in the middle of a checkpoint's write, after the last checkpoint, in the
//! middle of the model's write and during the report — then resumed until it finishes, ends
//! where an uninterrupted run ends: the same weights bit for bit, a report of every epoch, and
//! no stray files. A corrupt latest checkpoint is passed over for the one before it, and a
//! resume with other settings is refused.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

const LIMIT: &str = "1200";
const EPOCHS: usize = 3;
/// The seed of the kill schedule's random delays.
const SCHEDULE_SEED: u64 = 0x7e55_e7a0;

/// `tessera train` on the CPU for the test's epochs, silent, into `out`, with `extra` flags.
fn tessera(out: &Path, extra: &[&str]) -> Command {
    tessera_epochs(out, EPOCHS, extra)
}

fn tessera_epochs(out: &Path, epochs: usize, extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tessera"));
    command
        .args([
            "train",
            "--cpu",
            "--limit",
            LIMIT,
            "--epochs",
            &epochs.to_string(),
            "--verbose",
            "0",
            "--out",
        ])
        .arg(out)
        .args(extra)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir());
    command
}

/// Runs to the end; standard output on success, standard error as the error otherwise.
fn finish(mut command: Command) -> Result<String, String> {
    let output = command.output().expect("tessera starts");
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

/// When to kill a run.
#[derive(Clone, Copy, Debug)]
enum Trigger {
    /// After this long.
    After(Duration),
    /// As soon as a temporary file of an atomic write whose name starts with this appears in
    /// the folder (relative to the output directory): in the middle of that write.
    MidWrite(&'static str, &'static str),
    /// As soon as this file (relative to the output directory), absent at the start, exists.
    Appears(&'static str),
}

/// How one launch ended.
#[derive(Debug)]
enum Ending {
    Killed,
    Finished(bool),
}

/// A small seeded generator for the schedule (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A duration in [low, high) seconds.
    fn seconds(&mut self, low: f64, high: f64) -> Duration {
        Duration::from_secs_f64(low + (high - low) * (self.next() >> 11) as f64 / (1u64 << 53) as f64)
    }
}

/// The names in `dir` that are atomic writes' temporaries (".name.tmp<pid>").
fn temporaries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|name| name.starts_with('.') && name.contains(".tmp"))
                .collect()
        })
        .unwrap_or_default()
}

/// Watches `child` until `trigger` fires, then kills it; or until it ends by itself.
fn run_until(mut child: Child, out: &Path, trigger: Trigger) -> Ending {
    let started = Instant::now();
    let appears_absent = match trigger {
        Trigger::Appears(name) => !out.join(name).exists(),
        _ => true,
    };
    loop {
        if let Some(status) = child.try_wait().expect("the child can be waited for") {
            return Ending::Finished(status.success());
        }
        let fired = match trigger {
            Trigger::After(delay) => started.elapsed() >= delay,
            Trigger::MidWrite(folder, prefix) => {
                temporaries(&out.join(folder)).iter().any(|name| name.starts_with(prefix))
            }
            Trigger::Appears(name) => appears_absent && out.join(name).exists(),
        };
        if fired {
            child.kill().expect("the child can be killed");
            child.wait().expect("the killed child can be waited for");
            return Ending::Killed;
        }
        // Mid-write triggers poll without pause: a write lasts milliseconds.
        if !matches!(trigger, Trigger::MidWrite(..)) {
            sleep(Duration::from_millis(5));
        }
    }
}

fn checkpoint_count(out: &Path) -> usize {
    std::fs::read_dir(out.join("checkpoints"))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|name| name.starts_with("epoch-") && name.ends_with(".safetensors"))
                .count()
        })
        .unwrap_or(0)
}

/// Every weight of the model in `path`, by name, as bits.
fn weight_bits(path: &Path) -> Vec<(String, Vec<u32>)> {
    let model = tessera::nn::io::load_model(path).unwrap();
    model
        .layers()
        .into_iter()
        .flat_map(|layer| {
            let layer_name = layer.name().to_string();
            layer.weights().into_iter().map(move |w| {
                let bits = w.value().to_vec::<f32>().unwrap().iter().map(|v| v.to_bits()).collect();
                (format!("{layer_name}/{}", w.name()), bits)
            })
        })
        .collect()
}

fn assert_same_weights(actual: &Path, expected: &Path, what: &str) {
    let (actual, expected) = (weight_bits(actual), weight_bits(expected));
    assert_eq!(actual.len(), expected.len(), "{what}: different weights");
    for ((name, a), (_, e)) in actual.iter().zip(&expected) {
        let differing = a.iter().zip(e).filter(|(x, y)| x != y).count();
        assert_eq!(differing, 0, "{what}: {differing} of {} values of {name} differ", a.len());
    }
}

/// Every file under `dir`, relative to it, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                found.push(path.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    found.sort();
    found
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tessera-cli-resume-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn a_run_killed_anywhere_resumes_to_the_uninterrupted_result() {
    // Training must be bitwise reproducible for the comparison to mean anything: two
    // uninterrupted runs (side by side) first.
    let (reference, again) = (scratch("reference"), scratch("again"));
    let runs = [&reference, &again].map(|out| tessera(out, &[]).stdout(Stdio::null()).spawn().unwrap());
    for mut run in runs {
        assert!(run.wait().unwrap().success(), "an uninterrupted run failed");
    }
    assert_same_weights(&again.join("model.safetensors"), &reference.join("model.safetensors"), "run to run");

    let out = scratch("killed");
    let mut rng = Rng(SCHEDULE_SEED);
    let mut random = || Trigger::After(rng.seconds(0.3, 25.0));
    let schedule = [
        random(),
        Trigger::MidWrite("checkpoints", ".epoch-"),
        Trigger::Appears("checkpoints/epoch-01.safetensors"),
        random(),
        Trigger::MidWrite("checkpoints", ".epoch-"),
        random(),
        Trigger::Appears("checkpoints/epoch-03.safetensors"),
        Trigger::MidWrite(".", ".model.safetensors.tmp"),
        Trigger::MidWrite(".", ".filters.png.tmp"),
        random(),
    ];
    let (mut kills, mut resumes, mut mid_write_hits) = (0, 0, Vec::new());
    for trigger in schedule {
        let resume = checkpoint_count(&out) > 0;
        resumes += usize::from(resume);
        let mut command = tessera(&out, if resume { &["--resume"] } else { &[] });
        let child = command.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let ending = run_until(child, &out, trigger);
        let left: Vec<String> =
            [".", "checkpoints"].iter().flat_map(|folder| temporaries(&out.join(folder))).collect();
        println!(
            "{trigger:?} ({}): {ending:?}; {} checkpoints; temporaries left {left:?}",
            if resume { "--resume" } else { "fresh" },
            checkpoint_count(&out)
        );
        match ending {
            Ending::Killed => kills += 1,
            Ending::Finished(success) => assert!(success, "a run after {trigger:?} failed"),
        }
        mid_write_hits.extend(left);
    }
    resumes += 1;
    let stdout = finish(tessera(&out, &["--resume"])).unwrap();
    println!(
        "{kills} kills, {} of them mid-write ({mid_write_hits:?}), {resumes} resumes; last: {}",
        mid_write_hits.len(),
        stdout.lines().find(|l| l.starts_with("trained")).unwrap_or("")
    );

    assert_same_weights(
        &out.join("model.safetensors"),
        &reference.join("model.safetensors"),
        "killed and resumed",
    );
    let expected = [
        "checkpoints/epoch-01.safetensors",
        "checkpoints/epoch-02.safetensors",
        "checkpoints/epoch-03.safetensors",
        "curves.png",
        "filters.png",
        "model.safetensors",
        "predictions.png",
        "report.md",
    ];
    assert_eq!(files(&out), expected, "stray or missing files");
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    for epoch in 1..=EPOCHS {
        assert!(
            report.lines().any(|l| l.starts_with(&format!("| {epoch} | "))),
            "epoch {epoch} missing:\n{report}"
        );
    }
    assert!(
        mid_write_hits.iter().any(|name| name.starts_with(".epoch-")),
        "no kill landed in the middle of a checkpoint's write: {mid_write_hits:?}"
    );

    // Other settings than the checkpoint's are refused, naming them; so are fewer epochs.
    let refused = finish(tessera(&out, &["--resume", "--batch-size", "32"])).unwrap_err();
    assert!(refused.contains("--batch-size 64 in the checkpoint, 32 now"), "{refused}");
    let refused =
        finish(tessera(&out, &["--resume", "--seed", "2", "--validation-split", "0.2"])).unwrap_err();
    assert!(refused.contains("--validation-split 0.1 in the checkpoint, 0.2 now"), "{refused}");
    assert!(refused.contains("--seed 1 in the checkpoint, 2 now"), "{refused}");
    let refused = finish(tessera_epochs(&out, 2, &["--resume"])).unwrap_err();
    assert!(refused.contains("past --epochs 2"), "{refused}");

    // A corrupt latest checkpoint: resuming falls back to the one before, says so, and trains
    // the last epoch again to the same weights.
    let latest = out.join("checkpoints/epoch-03.safetensors");
    let bytes = std::fs::read(&latest).unwrap();
    std::fs::write(&latest, &bytes[..bytes.len() / 2]).unwrap();
    let stdout = finish(tessera(&out, &["--resume"])).unwrap();
    assert!(stdout.contains("resumed from the checkpoint of epoch 2"), "{stdout}");
    assert!(
        stdout.contains("passed over a checkpoint") && stdout.contains("epoch-03.safetensors"),
        "{stdout}"
    );
    assert_same_weights(
        &out.join("model.safetensors"),
        &reference.join("model.safetensors"),
        "after the fallback",
    );
    assert_eq!(files(&out), expected, "stray or missing files after the fallback");

    for dir in [reference, again, out] {
        std::fs::remove_dir_all(dir).unwrap();
    }
}
