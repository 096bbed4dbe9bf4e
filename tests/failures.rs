//! A trial that times out, crashes or is killed is recorded as failed with its reason,
//! and the run goes on; Ctrl-C stops a run cleanly and keeps what finished.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{read_records, run, scenario};

#[test]
fn a_trial_past_its_timeout_is_failed_and_the_run_goes_on() {
    let toml = r#"
name = "timeout"
[run]
trials = 1
warmup = "0s"
duration = "200ms"
models = ["sequential"]
concurrency = [1]
[[workload]]
kind = "sleep"
latency = "20s"
trial_timeout = "1500ms"
[[workload]]
kind = "sleep"
latency = "5ms"
"#;
    let started = Instant::now();
    let r = run(toml, &[]);
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the hung trial was not killed in time"
    );
    let records = r.records();
    assert_eq!(records.len(), 2);
    let of = |latency: &str| {
        records
            .iter()
            .find(|x| x["cell"]["workload"]["latency"] == latency)
            .unwrap()
    };
    let (hung, other) = (of("20s"), of("5ms"));
    assert_eq!(hung["status"], "failed");
    assert!(
        hung["reason"]
            .as_str()
            .unwrap()
            .contains("timed out after 1500ms"),
        "{hung}"
    );
    assert!(
        hung["throughput_ops_per_sec"].is_null(),
        "a failed trial has no figures: {hung}"
    );
    assert_eq!(other["status"], "ok", "{other}");
    let summary = r.summary();
    assert_eq!(summary["cells"][0]["status"], "failed");
    assert_eq!(summary["cells"][1]["status"], "ok");
}

/// The pids of `parent`'s children whose command line contains all of `words`.
fn children_with(parent: u32, words: &[&str]) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
            continue;
        };
        let ppid: u32 = rest
            .split(' ')
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if ppid == parent && words.iter().all(|w| cmdline.contains(w)) {
            out.push(pid);
        }
    }
    out
}

fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `iobench run`, its trials in the order the scenario declares its cells.
fn spawn_run(path: &Path, out: &Path) -> Child {
    let seed = common::declared_order_seed(&std::fs::read_to_string(path).unwrap());
    Command::new(env!("CARGO_BIN_EXE_iobench"))
        .arg("run")
        .arg(path)
        .arg("--out")
        .arg(out)
        .args(["--seed", &seed])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Alive and not a zombie.
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rfind(')').map(|i| s[i + 2..].starts_with('Z')))
        .is_some_and(|zombie| !zombie)
}

/// A short cell, a long one that the test interrupts, and a short one after it.
fn three_cells(long_model: &str) -> String {
    format!(
        r#"
name = "interrupt"
[run]
trials = 1
warmup = "100ms"
duration = "200ms"
concurrency = [2]
models = ["threads"]
[[workload]]
kind = "sleep"
latency = "2ms"
[[workload]]
kind = "sleep"
latency = "11ms"
duration = "30s"
models = ["{long_model}"]
[[workload]]
kind = "sleep"
latency = "3ms"
"#
    )
}

#[test]
fn a_killed_trial_is_failed_and_the_run_goes_on() {
    let (_dir, path, out) = scenario(&three_cells("threads"));
    let child = spawn_run(&path, &out);
    let victim = wait_for("the long trial", || {
        children_with(child.id(), &["trial", "latency\":\"11ms"])
            .first()
            .copied()
    });
    // SAFETY: signalling a process this test found as a child of its own child.
    unsafe { libc::kill(victim as i32, libc::SIGKILL) };
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let records = read_records(&out);
    assert_eq!(records.len(), 3, "every cell recorded");
    let killed: Vec<_> = records.iter().filter(|r| r["status"] == "failed").collect();
    assert_eq!(killed.len(), 1, "{records:?}");
    assert!(
        killed[0]["reason"]
            .as_str()
            .unwrap()
            .contains("killed by signal 9 (SIGKILL)"),
        "{}",
        killed[0]
    );
    assert_eq!(killed[0]["cell"]["workload"]["latency"], "11ms");
}

#[test]
fn ctrl_c_stops_the_run_keeps_finished_trials_and_leaves_no_process() {
    let (_dir, path, out) = scenario(&three_cells("processes"));
    let child = spawn_run(&path, &out);
    // Wait until the first cell is on disk and the long processes trial has its workers.
    let trial = wait_for("the processes trial", || {
        children_with(child.id(), &["trial", "\"model\":\"processes\""])
            .first()
            .copied()
    });
    let workers = wait_for("its workers", || {
        let w = children_with(trial, &["worker"]);
        (w.len() == 2).then_some(w)
    });
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let started = Instant::now();
    let output = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "Ctrl-C did not stop the run promptly"
    );
    assert_eq!(output.status.code(), Some(130));
    let records = read_records(&out);
    assert_eq!(
        records.len(),
        1,
        "the finished trial kept, the interrupted one not recorded"
    );
    assert!(records.iter().all(|r| r["status"] == "ok"));
    assert!(
        out.join("summary.json").exists(),
        "summary written from what finished"
    );
    wait_for("the trial and its workers to end", || {
        (!alive(trial) && workers.iter().all(|w| !alive(*w))).then_some(())
    });
}
