//! `run --resume DIR` continues an interrupted run: the trials already recorded are kept
//! and not run again, the rest are appended, and the summary is the whole run's. It
//! refuses a folder started with other cells or by another binary.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{
    assert_exit, bin, cells, read_json, read_records, run_ok, scenario, spawn_run, wait_for,
};

const TOML: &str = r#"
name = "resume"
[run]
trials = 2
warmup = "0s"
duration = "150ms"
models = ["sequential", "threads", "smol"]
concurrency = [1, 8]
[[workload]]
kind = "sleep"
latency = "2ms"
"#;

/// (cell id, trial) of every record.
fn trials(records: &[serde_json::Value]) -> Vec<(String, u64)> {
    records
        .iter()
        .map(|r| {
            (
                r["cell"]["id"].as_str().unwrap().to_string(),
                r["trial"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn an_interrupted_run_resumed_is_the_whole_run() {
    let (_dir, path, out) = scenario(TOML);
    let child = spawn_run(&path, &out, &[]);
    // Stop it about half way: 12 trials in all.
    wait_for("some trials to finish", Duration::from_secs(60), || {
        (std::fs::read_to_string(out.join("results.jsonl")).map_or(0, |t| t.lines().count()) >= 5)
            .then_some(())
    });
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    assert_exit(&child.wait_with_output().unwrap(), 130);
    let before = trials(&read_records(&out));
    assert!(before.len() >= 5 && before.len() < 12, "{before:?}");

    let o = common::run_command(&path, &out).output().unwrap();
    // `run_command` gives --out; --resume takes the folder instead.
    assert_exit(&o, 2);
    let o = bin()
        .arg("run")
        .arg(&path)
        .arg("--resume")
        .arg(&out)
        .output()
        .unwrap();
    assert_exit(&o, 0);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains(&format!(
            "{} trials already recorded, {} to run",
            before.len(),
            12 - before.len()
        )),
        "{stderr}"
    );
    let after = trials(&read_records(&out));
    // The earlier records first, untouched, then the rest: each trial exactly once.
    assert_eq!(&after[..before.len()], &before[..]);
    let unique: BTreeSet<_> = after.iter().cloned().collect();
    assert_eq!((after.len(), unique.len()), (12, 12), "{after:?}");

    // The same cells and trial count as the run uninterrupted.
    let whole = run_ok(TOML, &[]);
    let ids = |s: &serde_json::Value| -> Vec<(String, u64)> {
        cells(s)
            .iter()
            .map(|c| {
                (
                    c["id"].as_str().unwrap().to_string(),
                    c["trials"]["ok"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let summary = read_json(&out.join("summary.json"));
    assert_eq!(ids(&summary), ids(&whole.summary()));
    assert!(
        cells(&summary).iter().all(|c| c["trials"]["ok"] == 2),
        "{summary}"
    );
    assert!(out.join("report.html").is_file());
}

#[test]
fn a_run_is_not_resumed_with_other_cells_or_another_binary() {
    let r = run_ok(TOML, &["--trials", "1", "--models", "threads"]);
    let resume = |extra: &[&str]| {
        bin()
            .arg("run")
            .arg(&r.scenario)
            .args(extra)
            .arg("--resume")
            .arg(&r.out)
            .output()
            .unwrap()
    };
    // Other options: other cells.
    let o = resume(&["--trials", "1"]);
    assert_exit(&o, 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("it was started with other cells"));
    // The same cells: nothing is left to run.
    let o = resume(&["--trials", "1", "--models", "threads"]);
    assert_exit(&o, 0);
    assert!(String::from_utf8_lossy(&o.stderr).contains("2 trials already recorded, 0 to run"));
    assert_eq!(read_records(&r.out).len(), 2);
    // Another binary (run.json says so).
    let run_json = r.out.join("run.json");
    let mut v = read_json(&run_json);
    v["binary"]["size"] = serde_json::json!(1);
    std::fs::write(&run_json, v.to_string()).unwrap();
    let o = resume(&["--trials", "1", "--models", "threads"]);
    assert_exit(&o, 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("started by another iobench binary"));
    // No run there at all.
    let (_d, _p, empty) = scenario(TOML);
    std::fs::create_dir_all(&empty).unwrap();
    let o = bin()
        .arg("run")
        .arg(&r.scenario)
        .arg("--resume")
        .arg(&empty)
        .output()
        .unwrap();
    assert_exit(&o, 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot resume"));
}
