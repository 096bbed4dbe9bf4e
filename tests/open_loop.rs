//! Open-loop load: ops due on a fixed schedule, latency from when each was due.

mod common;

use common::{get, model_of, run, run_ok};

/// An open-loop scenario: `models` at C = `c` asked for `rate` ops/s, each op a sleep of
/// `latency`, one trial of a 1 s window after 200 ms of warm-up.
fn open_sleep(rate: u32, models: &[&str], c: u32, latency: &str) -> String {
    let models: Vec<String> = models.iter().map(|m| format!("\"{m}\"")).collect();
    let models = models.join(", ");
    format!(
        r#"
name = "open"
[run]
trials = 1
warmup = "200ms"
duration = "1s"
mode = "open"
rate = {rate}
models = [{models}]
concurrency = [{c}]
[[workload]]
kind = "sleep"
latency = "{latency}"
"#
    )
}

#[test]
fn below_capacity_the_rate_is_met_and_corrected_latency_stays_close_to_uncorrected() {
    // 20 workers of 5 ms ops could do 4,000 ops/s; 500 are asked for (sequential, which
    // can do 200, has a test of its own below).
    let models: Vec<&str> = iobench::ModelKind::SUBJECTS
        .iter()
        .filter(|m| m.runs(iobench::WorkloadKind::Sleep))
        .map(|m| m.name())
        .filter(|m| *m != "sequential")
        .collect();
    let r = run_ok(&open_sleep(500, &models, 20, "5ms"), &[]);
    let records = r.records();
    assert_eq!(records.len(), models.len());
    for rec in &records {
        let model = model_of(rec);
        assert_eq!(rec["status"], "ok", "{rec}");
        assert_eq!(rec["target_rate_ops_per_sec"], 500.0);
        // At most 20% over the rate: a loop that does not pace (a closed loop) does 4,000.
        // At least half of it: with the models test beside it on the loaded 2-core machine
        // (load average 8), async-std did 349 and processes 275 for 500 asked, starved of
        // CPU rather than paced wrong; a per-worker rate mistaken for the whole is 20× off.
        let achieved = rec["throughput_ops_per_sec"].as_f64().unwrap();
        assert!(
            (250.0..=600.0).contains(&achieved),
            "{model}: {achieved} ops/s for 500 asked ({} ops started late)",
            rec["late_start_ops"]
        );
        // Ops start when due, so the median op waited little for its start: corrected p50
        // stays within 2× the uncorrected (a 5 ms op; tokio's pacing timer rounds up to its
        // millisecond tick, and a loaded machine wakes late, which adds a few ms). A broken
        // schedule that lets a queue form, or measures from the wrong instant, adds
        // hundreds (the test below sees over 5× at p99).
        let (c, u) = (
            get(rec, "latency_us.p50").as_f64().unwrap(),
            get(rec, "latency_uncorrected_us.p50").as_f64().unwrap(),
        );
        assert!(
            c <= 2.0 * u && u <= 2.0 * c,
            "{model}: p50 corrected {c} µs, uncorrected {u} µs"
        );
    }
}

#[test]
fn above_capacity_the_queue_shows_in_the_corrected_tail_only() {
    // One op at a time of 10 ms can do 100 ops/s; 300 are asked for (3× its capacity).
    let r = run_ok(&open_sleep(300, &["sequential"], 1, "10ms"), &[]);
    let records = r.records();
    assert_eq!(records.len(), 1);
    let rec = &records[0];
    assert_eq!(rec["status"], "ok", "{rec}");
    let achieved = rec["throughput_ops_per_sec"].as_f64().unwrap();
    assert!(
        achieved <= 110.0,
        "{achieved} ops/s from one 10 ms op at a time"
    );
    assert!(rec["late_start_ops"].as_u64().unwrap() > 0, "{rec}");
    let (c, u) = (
        get(rec, "latency_us.p99").as_f64().unwrap(),
        get(rec, "latency_uncorrected_us.p99").as_f64().unwrap(),
    );
    // Each op still takes about 10 ms (more on a loaded machine), while the queue grows by
    // 20 ms of waiting every 10 ms: by the window's end an op waits hundreds of ms.
    assert!(c > 5.0 * u, "p99 corrected {c} µs vs uncorrected {u} µs");
}

#[test]
fn open_without_rate_and_rate_without_open_are_rejected() {
    let base = "name = \"x\"\n[run]\nmodels = [\"threads\"]\n[[workload]]\nkind = \"sleep\"\n";
    for (extra, words) in [
        ("mode = \"open\"\n", "needs a rate"),
        ("rate = 100\n", "only applies to mode"),
        ("mode = \"open\"\nrate = 0\n", "above 0"),
    ] {
        let r = run(&format!("{base}{extra}"), &[]);
        assert_eq!(r.code(), Some(2), "{extra}: {}", r.stderr());
        assert!(r.stderr().contains(words), "{extra}: {}", r.stderr());
        assert!(r.stderr().contains("scenario.toml:"), "{}", r.stderr());
    }
}
