//! Loose, ratio-based sanity of the figures: wide enough for a noisy 2-core CI machine,
//! tight enough to catch a model that does not really run C operations at once.

mod common;

use common::run;

#[test]
fn sleep_at_c50_reaches_half_of_ideal_except_sequential() {
    let toml = r#"
name = "sanity"
[run]
trials = 1
warmup = "200ms"
duration = "1s"
concurrency = [50]
[[workload]]
kind = "sleep"
latency = "20ms"
"#;
    let r = run(toml, &[]);
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    // The run ends in its report, and the console points at it.
    for f in ["report.html", "report.md", "charts/w1-throughput.png"] {
        assert!(r.out.join(f).is_file(), "{f} missing");
    }
    assert!(r.stdout().contains("report.html"), "{}", r.stdout());
    let summary = r.summary();
    let cells = summary["cells"].as_array().unwrap();
    assert_eq!(
        cells.len(),
        iobench::ModelKind::ALL.len(),
        "every model ran"
    );
    let ideal = 50.0 / 0.020;
    for cell in cells {
        let model = cell["model"].as_str().unwrap();
        assert_eq!(cell["status"], "ok", "{model}: {}", cell["reasons"]);
        let tput = cell["throughput_ops_per_sec"]["median"].as_f64().unwrap();
        if model == "sequential" {
            // One op at a time: 1 / latency, whatever C is.
            assert!(
                (25.0..=52.0).contains(&tput),
                "sequential did {tput} ops/s, expected ~50"
            );
            let achieved = cell["achieved_concurrency"]["median"].as_f64().unwrap();
            assert!(achieved < 1.5, "sequential achieved concurrency {achieved}");
        } else {
            assert!(
                tput >= 0.5 * ideal,
                "{model} did {tput} ops/s, ideal {ideal}"
            );
            assert!(
                tput <= 1.05 * ideal,
                "{model} did {tput} ops/s, more than ideal {ideal}"
            );
        }
    }
}
