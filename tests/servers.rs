//! Server workloads: the model is the server, the trial is its client.

mod common;

use std::time::{Duration, Instant};

use common::procs::{cmdline, parent, pids};
use common::{bin, error_count, find, get, reason, run_ok, scenario, wait_for};

fn server_scenario(models: &str, c: u32, duration: &str, table: &str) -> String {
    format!(
        "name = \"servers\"\n[run]\ntrials = 1\nwarmup = \"200ms\"\nduration = \"{duration}\"\n\
         models = [{models}]\nconcurrency = [{c}]\n[[workload]]\n{table}\n"
    )
}

/// The sequential server answers one request at a time: with a 10 ms handler and 16
/// clients taking turns (a connection per request) it serves about 100 requests/s and no
/// more, while a thread per connection serves the 16 clients at once.
#[test]
fn the_sequential_server_is_sequential() {
    let toml = server_scenario(
        "\"sequential\", \"threads\"",
        16,
        "1s",
        "kind = \"http-serve\"\npath = \"/json\"\ndelay = \"10ms\"\nkeep_alive = false",
    );
    let r = run_ok(&toml, &[]);
    let recs = r.records();
    let ops = |model: &str| {
        let rec = find(&recs, "cell.model", model);
        assert_eq!(rec["status"], "ok", "{rec}");
        rec["throughput_ops_per_sec"].as_f64().unwrap()
    };
    let (seq, threads) = (ops("sequential"), ops("threads"));
    // 1 / 10 ms = 100/s is the ceiling; a window edge can add at most one op per second.
    assert!(seq <= 101.0, "the sequential server did {seq}/s");
    assert!(seq >= 50.0, "the sequential server did only {seq}/s");
    assert!(
        threads > 5.0 * seq,
        "threads {threads}/s vs sequential {seq}/s"
    );
}

/// A server killed mid-trial gives a failed trial (or counted errors), never a hang, and
/// the run goes on to the next cell.
#[test]
fn a_server_killed_mid_trial_fails_the_trial() {
    for model in ["threads", "processes"] {
        let toml = format!(
            "name = \"killed\"\n[run]\ntrials = 1\nwarmup = \"200ms\"\nduration = \"3s\"\n\
             concurrency = [4]\n[[workload]]\nkind = \"echo-serve\"\ntimeout = \"2s\"\n\
             models = [\"{model}\"]\n[[workload]]\nkind = \"echo-serve\"\npayload = \"100B\"\n\
             duration = \"300ms\"\nmodels = [\"{model}\"]\n"
        );
        let (_dir, path, out) = scenario(&toml);
        // The long cell first: it is the one killed.
        let seed = common::declared_order_seed(&toml);
        let child = common::spawn_run(&path, &out, &["--seed", &seed]);
        let started = Instant::now();
        // Wait for the first cell's server, let it serve a moment, then kill it.
        let pid = wait_for("a server", Duration::from_secs(20), || find_sut(child.id()));
        std::thread::sleep(Duration::from_millis(800));
        // SAFETY: kill sends a signal to the pid found above.
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        let output = child.wait_with_output().unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{model}: the run took {:?}",
            started.elapsed()
        );
        assert_eq!(
            output.status.code(),
            Some(0),
            "{model}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let recs = common::read_records(&out);
        assert_eq!(recs.len(), 2, "{model}: both cells have a record");
        let killed = &recs[0];
        assert!(
            killed["status"] == "failed" || error_count(killed) > 0,
            "{model}: a killed server must show: {killed}"
        );
        if killed["status"] == "failed" {
            let why = reason(killed);
            assert!(why.contains("server"), "{model}: {why}");
        }
        assert_eq!(recs[1]["status"], "ok", "{model}: the next cell runs");
    }
}

/// The pid of the `iobench sut` that run `run` started: a child of one of its trials.
fn find_sut(run: u32) -> Option<u32> {
    pids().into_iter().find(|&pid| {
        cmdline(pid).split('\0').nth(1) == Some("sut") && parent(pid).and_then(parent) == Some(run)
    })
}

/// wrk runs against the same server after iobench's window, and both are recorded.
#[test]
fn wrk_cross_checks_the_same_server() {
    let toml = server_scenario(
        "\"tokio-current-thread\"",
        8,
        "1s",
        "kind = \"http-serve\"\nload_generator = \"wrk\"",
    );
    let r = run_ok(&toml, &[]);
    let rec = &r.records()[0];
    assert_eq!(
        rec["status"], "ok",
        "{rec} (is wrk installed? scripts/test.sh installs it)"
    );
    let wrk = get(rec, "wrk.requests_per_sec").as_f64().unwrap();
    let ours = rec["throughput_ops_per_sec"].as_f64().unwrap();
    assert!(wrk > 0.0 && get(rec, "wrk.latency_p99_us").as_f64().unwrap() > 0.0);
    let ratio = rec["iobench_to_wrk_ratio"].as_f64().unwrap();
    assert!((ratio - ours / wrk).abs() < 1e-9);
    // Loose: the two generators measure the same server at different moments on a noisy
    // machine, and iobench's client is a debug build here.
    assert!((0.1..10.0).contains(&ratio), "iobench/wrk = {ratio}");
    assert_eq!(get(rec, "wrk.errors").as_u64(), Some(0), "{rec}");
}

#[test]
fn wrk_is_refused_where_it_cannot_run() {
    let toml = server_scenario(
        "\"smol\"",
        1,
        "1s",
        "kind = \"echo-serve\"\nload_generator = \"wrk\"",
    );
    let (_dir, path, _out) = scenario(&toml);
    let out = bin().arg("run").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(":10:1") && err.contains("load_generator"),
        "{err}"
    );
}
