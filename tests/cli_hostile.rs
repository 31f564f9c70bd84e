//! Hostile command lines for `tessera train`: each bad flag value, missing or unwritable
//! directory and impossible resume must end in a clean error naming the problem, before any
//! training; an exported TESSERA_ADAPTER must not stand in the way of `--cpu`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::hostile::Suite;

/// Runs `tessera train` with `args` (and `env`), on the CPU unless the args name an adapter: its
/// standard output on success, its standard error as the error otherwise. A panic in the child
/// is a panic here, so the tally counts it as one.
fn train(args: &[&str], env: &[(&str, &str)]) -> Result<String, String> {
    let output = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .arg("train")
        .args(args)
        .envs(env.iter().copied())
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .map_err(|e| format!("could not start tessera: {e}"))?;
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "tessera panicked: {stderr}");
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(stderr)
    }
}

/// An empty directory `name` under `root`.
fn scratch(root: &Path, name: &str) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn path(dir: &Path) -> String {
    dir.to_str().unwrap().to_string()
}

#[test]
fn hostile_train_flags_end_in_clean_errors() {
    let root = std::env::temp_dir().join(format!("tessera-cli-hostile-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let out = path(&root.join("out"));
    let mut suite = Suite::new("cli");

    let flag_cases: &[(&str, &[&str], &'static [&'static str])] = &[
        ("negative epochs", &["--epochs=-1"], &["--epochs", "-1"]),
        ("epochs not a number", &["--epochs", "three"], &["--epochs", "three"]),
        ("zero batch size", &["--batch-size", "0"], &["--batch-size 0", "at least 1"]),
        ("negative batch size", &["--batch-size=-64"], &["--batch-size", "-64"]),
        ("zero limit", &["--limit", "0"], &["--limit 0", "at least 1"]),
        ("limit not a number", &["--limit", "1e3"], &["--limit", "1e3"]),
        ("validation split of 1", &["--validation-split", "1"], &["--validation-split 1", "[0, 1)"]),
        ("validation split above 1", &["--validation-split", "1.5"], &["--validation-split 1.5", "[0, 1)"]),
        ("negative validation split", &["--validation-split=-0.1"], &["--validation-split -0.1", "[0, 1)"]),
        ("validation split NaN", &["--validation-split", "NaN"], &["--validation-split NaN", "[0, 1)"]),
        ("resume and overwrite", &["--resume", "--overwrite"], &["--resume", "--overwrite"]),
        ("cpu and an adapter", &["--adapter", "vulkan"], &["--adapter", "--cpu"]),
    ];
    for &(case, flags, mentions) in flag_cases {
        let mut args: Vec<String> = vec!["--cpu".into(), "--out".into(), out.clone()];
        args.extend(flags.iter().map(|f| f.to_string()));
        suite.error(case, mentions, move || train(&args.iter().map(String::as_str).collect::<Vec<_>>(), &[]));
    }

    let missing = path(&root.join("no-such-data"));
    let (data, out_dir) = (missing.clone(), out.clone());
    suite.error("missing data directory", &["no-such-data"], move || {
        train(&["--cpu", "--data", &data, "--out", &out_dir], &[])
    });

    let file = root.join("a-file");
    std::fs::write(&file, b"not a directory").unwrap();
    let out_file = path(&file);
    suite.error("--out on a file", &["--out", "a-file", "is a file"], move || {
        train(&["--cpu", "--out", &out_file], &[])
    });
    suite.error("--out under /proc", &["--out", "/proc/tessera-out", "cannot"], || {
        train(&["--cpu", "--out", "/proc/tessera-out"], &[])
    });

    let out_dir = out.clone();
    suite.error("unknown adapter", &["no-such-adapter"], move || {
        train(&["--adapter", "no-such-adapter", "--out", &out_dir], &[])
    });

    let empty = path(&scratch(&root, "empty"));
    suite.error(
        "--resume with nothing to resume",
        &["--resume", "nothing to resume", "checkpoint"],
        move || train(&["--cpu", "--resume", "--out", &empty], &[]),
    );

    let earlier = scratch(&root, "earlier");
    std::fs::create_dir_all(earlier.join("checkpoints")).unwrap();
    std::fs::write(earlier.join("checkpoints/epoch-02.safetensors"), b"an earlier run's").unwrap();
    let earlier_dir = path(&earlier);
    suite.error(
        "a fresh run over an earlier run's checkpoints",
        &["earlier run", "epoch 2", "--resume", "--overwrite"],
        move || train(&["--cpu", "--out", &earlier_dir], &[]),
    );
    let unreadable_dir = path(&earlier);
    suite.error(
        "--resume where no checkpoint loads",
        &["no checkpoint", "loads", "epoch-02.safetensors"],
        move || train(&["--cpu", "--resume", "--out", &unreadable_dir], &[]),
    );

    // An exported adapter choice is a default for GPU runs, not a conflict with --cpu; with no
    // epoch to train, the run evaluates the untrained model and reports without curves.
    let untrained = scratch(&root, "untrained");
    suite.correct("TESSERA_ADAPTER exported with --cpu and --epochs 0", move || {
        let out = path(&untrained);
        train(
            &["--cpu", "--epochs", "0", "--limit", "60", "--verbose", "0", "--out", &out],
            &[("TESSERA_ADAPTER", "no-such-adapter")],
        )?;
        let report = std::fs::read_to_string(untrained.join("report.md")).map_err(|e| e.to_string())?;
        Ok::<_, String>(if !report.contains("No epoch was trained") {
            Some(format!("the report does not say that no epoch was trained:\n{report}"))
        } else if untrained.join("curves.png").exists() {
            Some("a run without epochs drew curves".into())
        } else if !untrained.join("model.safetensors").exists() {
            Some("no model was saved".into())
        } else {
            None
        })
    });

    suite.finish();
    let _ = std::fs::remove_dir_all(root);
}
