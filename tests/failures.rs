//! A trial that times out, crashes or is killed is recorded as failed with its reason,
//! and the run goes on; Ctrl-C stops a run cleanly and keeps what finished.

mod common;

use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

use common::procs::{alive, child_with, children_with};
use common::{assert_exit, find, read_records, reason, run_ok, scenario, wait_for};
use tempfile::TempDir;

#[test]
fn a_trial_past_its_timeout_is_failed_and_the_run_goes_on() {
    let toml = r#"
name = "timeout"
run = { trials = 1, warmup = "0s", duration = "200ms", models = ["sequential"], concurrency = [1] }
[[workload]]
kind = "sleep"
latency = "20s"
trial_timeout = "1500ms"
[[workload]]
kind = "sleep"
latency = "5ms"
"#;
    let started = Instant::now();
    let r = run_ok(toml, &[]);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the hung trial was not killed in time"
    );
    let records = r.records();
    assert_eq!(records.len(), 2);
    let of = |latency: &str| find(&records, "cell.workload.latency", latency);
    let (hung, other) = (of("20s"), of("5ms"));
    assert_eq!(hung["status"], "failed");
    assert!(reason(hung).contains("timed out after 1500ms"), "{hung}");
    assert!(
        hung["throughput_ops_per_sec"].is_null(),
        "a failed trial has no figures: {hung}"
    );
    assert_eq!(other["status"], "ok", "{other}");
    let summary = r.summary();
    assert_eq!(summary["cells"][0]["status"], "failed");
    assert_eq!(summary["cells"][1]["status"], "ok");
}

/// How long the tests below wait for a trial or its workers to start, or to end.
const WAIT: Duration = Duration::from_secs(30);

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

/// Starts the run of `three_cells(long_model)`, its trials in the order declared; returns
/// its folder, its run folder and the running `iobench run`.
fn start_three_cells(long_model: &str) -> (TempDir, PathBuf, Child) {
    let toml = three_cells(long_model);
    let (dir, path, out) = scenario(&toml);
    let seed = common::declared_order_seed(&toml);
    let child = common::spawn_run(&path, &out, &["--seed", &seed]);
    (dir, out, child)
}

#[test]
fn a_killed_trial_is_failed_and_the_run_goes_on() {
    let (_dir, out, child) = start_three_cells("threads");
    let victim = wait_for("the long trial", WAIT, || {
        child_with(child.id(), &["trial", "latency\":\"11ms"])
    });
    // SAFETY: signalling a process this test found as a child of its own child.
    unsafe { libc::kill(victim as i32, libc::SIGKILL) };
    assert_exit(&child.wait_with_output().unwrap(), 0);
    let records = read_records(&out);
    assert_eq!(records.len(), 3, "every cell recorded");
    let killed: Vec<_> = records.iter().filter(|r| r["status"] == "failed").collect();
    assert_eq!(killed.len(), 1, "{records:?}");
    assert!(
        reason(killed[0]).contains("killed by signal 9 (SIGKILL)"),
        "{}",
        killed[0]
    );
    assert_eq!(killed[0]["cell"]["workload"]["latency"], "11ms");
}

#[test]
fn ctrl_c_stops_the_run_keeps_finished_trials_and_leaves_no_process() {
    a_signal_stops_the_run(libc::SIGINT);
}

#[test]
fn sigterm_stops_the_run_like_ctrl_c() {
    a_signal_stops_the_run(libc::SIGTERM);
}

/// A closed terminal (or an ssh session that drops) sends SIGHUP.
#[test]
fn sighup_stops_the_run_like_ctrl_c() {
    a_signal_stops_the_run(libc::SIGHUP);
}

/// `signal` mid-run: exit 130, the finished trial kept, the interrupted one not recorded,
/// the summary written, and no trial or worker left.
fn a_signal_stops_the_run(signal: i32) {
    let (_dir, out, child) = start_three_cells("processes");
    // Wait until the first cell is on disk and the long processes trial has its workers.
    let trial = wait_for("the processes trial", WAIT, || {
        child_with(child.id(), &["trial", "\"model\":\"processes\""])
    });
    let workers = wait_for("its workers", WAIT, || {
        let w = children_with(trial, &["worker"]);
        (w.len() == 2).then_some(w)
    });
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, signal) };
    let started = Instant::now();
    let output = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "signal {signal} did not stop the run promptly"
    );
    assert_exit(&output, 130);
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
    wait_for("the trial and its workers to end", WAIT, || {
        (!alive(trial) && workers.iter().all(|w| !alive(*w))).then_some(())
    });
}

/// An echo server that closes every other connection at once, and answers one request on
/// each of the others before closing it: about half the ops fail, and each answered
/// connection is found closed by the next op, which sends its request again.
fn flaky_echo_server() -> std::net::SocketAddr {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for (i, conn) in listener.incoming().enumerate() {
            let Ok(mut conn) = conn else { continue };
            if i % 2 == 1 {
                continue; // dropped: closed before any reply
            }
            let mut header = [0u8; 8];
            if conn.read_exact(&mut header).is_err() {
                continue;
            }
            let n = u32::from_le_bytes(header[..4].try_into().unwrap()) as usize;
            let mut payload = vec![0u8; n];
            if conn.read_exact(&mut payload).is_ok() {
                let _ = conn.write_all(&header);
                let _ = conn.write_all(&payload);
            }
        }
    });
    addr
}

fn flaky_echo_toml(addr: std::net::SocketAddr, extra: &str) -> String {
    format!(
        r#"
name = "flaky"
[run]
trials = 1
warmup = "100ms"
duration = "400ms"
models = ["sequential"]
concurrency = [1]
{extra}
[[workload]]
kind = "tcp-echo"
payload = "64B"
timeout = "2s"
target = "{addr}"
"#
    )
}

#[test]
fn a_trial_whose_errors_pass_max_error_rate_fails_with_the_rate_and_the_first_error() {
    let r = run_ok(&flaky_echo_toml(flaky_echo_server(), ""), &[]);
    let rec = &r.records()[0];
    assert_eq!(rec["status"], "failed", "{rec}");
    let why = reason(rec);
    assert!(
        why.contains("above max_error_rate 1%") && why.contains("first"),
        "{why}"
    );
}

#[test]
fn failed_and_retried_ops_are_figures() {
    let r = run_ok(
        &flaky_echo_toml(flaky_echo_server(), "max_error_rate = 0.9"),
        &[],
    );
    let rec = &r.records()[0];
    assert_eq!(rec["status"], "ok", "{rec}");
    let (ok, failed) = (
        rec["ops"].as_u64().unwrap(),
        rec["failed_ops"].as_u64().unwrap(),
    );
    assert!(ok > 10 && failed > 10, "{ok} ok, {failed} failed");
    let rate = rec["error_rate"].as_f64().unwrap();
    assert!((0.3..0.7).contains(&rate), "error rate {rate}");
    // Failed ops have latencies of their own; the ok ones do not include them.
    assert!(
        rec["error_latency_us"]["p50"].as_f64().unwrap() > 0.0,
        "{rec}"
    );
    // A 400 ms window is sampled at least 20 times, the last at its end.
    let samples = rec["memory_samples"].as_u64().unwrap();
    assert!(samples >= 20, "{samples} memory samples");
    // Every answered connection is found closed by the next op, which sends again.
    let retried = rec["retried_ops"].as_u64().unwrap();
    assert!(retried * 2 >= ok, "{retried} retries for {ok} ok ops");
    // Each op opens one connection (a retried op's first try reuses one). The counters are
    // read at the window's edges as the sampler wakes, a little late on a busy machine, so
    // an op or two near the start may have connected before the first reading.
    let connects = rec["connects"].as_u64().unwrap();
    assert!(
        connects as f64 >= 0.95 * (ok + failed) as f64 && connects <= 2 * (ok + failed),
        "{connects} connects for {} ops",
        ok + failed
    );
}
