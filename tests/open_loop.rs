//! Open-loop load: ops due on a fixed schedule, latency from when each was due.

mod common;

use common::{get, run};

#[test]
fn far_below_capacity_the_rate_is_met_and_corrected_latency_is_never_below_uncorrected() {
    // 20 workers of 5 ms ops could do 4,000 ops/s; 500 are asked for. Sequential can do 200.
    let toml = r#"
name = "open"
[run]
trials = 1
warmup = "200ms"
duration = "1s"
mode = "open"
rate = 500
concurrency = [20]
[[workload]]
kind = "sleep"
latency = "5ms"
"#;
    let r = run(toml, &[]);
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    let records = r.records();
    assert_eq!(records.len(), iobench::ModelKind::SUBJECTS.len());
    for rec in &records {
        let model = rec["cell"]["model"].as_str().unwrap();
        assert_eq!(rec["status"], "ok", "{rec}");
        assert_eq!(rec["target_rate_ops_per_sec"], 500.0);
        for p in ["p50", "p90", "p99", "p99_9", "max"] {
            let corrected = get(rec, &format!("latency_us.{p}")).as_f64().unwrap();
            let uncorrected = get(rec, &format!("latency_uncorrected_us.{p}"))
                .as_f64()
                .unwrap();
            assert!(
                corrected >= uncorrected,
                "{model} {p}: {corrected} < {uncorrected}"
            );
        }
        let achieved = rec["throughput_ops_per_sec"].as_f64().unwrap();
        if model == "sequential" {
            // One op at a time cannot keep up: the queue shows in the corrected latency only.
            assert!(achieved < 250.0, "{achieved}");
            assert!(rec["late_start_ops"].as_u64().unwrap() > 0);
            let (c, u) = (
                get(rec, "latency_us.p99").as_f64().unwrap(),
                get(rec, "latency_uncorrected_us.p99").as_f64().unwrap(),
            );
            assert!(
                c > 10.0 * u,
                "sequential p99 corrected {c} vs uncorrected {u}"
            );
        } else {
            assert!(
                (400.0..=550.0).contains(&achieved),
                "{model}: {achieved} ops/s for 500 asked"
            );
        }
    }
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
