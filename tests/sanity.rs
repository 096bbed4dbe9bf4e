//! Loose, ratio-based sanity of the figures: wide enough for a noisy 2-core CI machine,
//! tight enough to catch a model that does not really run C operations at once.

mod common;

use common::{cells, procs, read_json, run, run_ok};

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
    let r = run_ok(toml, &[]);
    // The run ends in its report, and the console points at it.
    for f in ["report.html", "report.md", "charts/w1-throughput.png"] {
        assert!(r.out.join(f).is_file(), "{f} missing");
    }
    assert!(r.stdout().contains("report.html"), "{}", r.stdout());
    let summary = r.summary();
    let cells = cells(&summary);
    assert_eq!(
        cells.len(),
        iobench::ModelKind::SUBJECTS.len(),
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

/// Counted mode (what `cargo bench --bench models` runs): every model runs exactly the ops
/// asked for, shared among its workers, and the window is at least as long as the sleeps
/// make it (and not many times longer).
#[test]
fn a_counted_trial_runs_exactly_its_ops_on_every_model() {
    let toml = r#"
name = "counted"
[run]
concurrency = [4]
[[workload]]
kind = "sleep"
latency = "5ms"
"#;
    let scenario =
        iobench::Scenario::parse(toml, std::path::Path::new("counted.toml")).expect("parses");
    let cells = scenario.cells();
    assert_eq!(cells.len(), iobench::ModelKind::SUBJECTS.len());
    // 42 ops over 4 workers: two do 11, two do 10. Sequential does all 42 in a row.
    let ops = 42u64;
    for cell in cells {
        let mut cell = iobench::plan::RunCell::new(cell);
        cell.ops = Some(ops);
        let out = common::bin()
            .args(["trial", "--trial", "0", "--cell"])
            .arg(serde_json::to_string(&cell).unwrap())
            .output()
            .expect("iobench trial runs");
        let text = String::from_utf8_lossy(&out.stdout);
        let r: serde_json::Value = serde_json::from_str(text.trim()).expect("one record");
        let model = cell.model.name();
        assert_eq!(r["status"], "ok", "{model}: {}", r["reason"]);
        assert_eq!(r["ops"], ops, "{model}");
        assert_eq!(r["errors"], serde_json::json!({}), "{model}");
        let secs = r["window_secs"].as_f64().unwrap();
        let rounds = match model {
            "sequential" => 42.0,
            _ => 11.0,
        };
        let floor = rounds * 0.005;
        assert!(
            secs >= floor,
            "{model}: {secs} s for {rounds} rounds of 5 ms"
        );
        assert!(
            secs < 10.0 * floor,
            "{model}: {secs} s for {rounds} rounds of 5 ms"
        );
    }
}

/// The order of a run's trials, as results.jsonl has them.
fn order(r: &common::Run) -> Vec<String> {
    r.records()
        .iter()
        .map(|x| format!("{} #{}", x["cell"]["id"].as_str().unwrap(), x["trial"]))
        .collect()
}

#[test]
fn the_seed_shuffles_each_round_and_repeats_its_order() {
    let toml = r#"
name = "order"
run = { trials = 2, warmup = "0s", duration = "50ms", models = ["sequential", "threads", "thread-pool", "smol", "tokio-current-thread"], concurrency = [1] }
[[workload]]
kind = "sleep"
latency = "1ms"
"#;
    let runs: Vec<common::Run> = ["11", "11", "12"]
        .iter()
        .map(|seed| run(toml, &["--seed", seed]))
        .collect();
    for r in &runs {
        r.assert_exit(0);
        assert!(
            r.stderr().contains("--seed"),
            "the seed is printed: {}",
            r.stderr()
        );
        let info = read_json(&r.out.join("run.json"));
        assert!(info["seed"].is_u64(), "run.json keeps the seed");
    }
    let (a, b, c) = (order(&runs[0]), order(&runs[1]), order(&runs[2]));
    assert_eq!(a.len(), 10);
    // Trial 0 of every cell before trial 1 of any.
    assert!(a[..5].iter().all(|t| t.ends_with("#0")), "{a:?}");
    assert_eq!(a, b, "the same seed, the same order");
    assert_ne!(a, c, "another seed, another order");
}

/// Trials (and their worker processes) run from a private copy of the binary, so that they
/// share no text pages with the orchestrator; the copy is gone when the run ends.
#[test]
fn trials_run_from_a_private_copy_of_the_binary() {
    let (_dir, scenario, out) = common::scenario(
        r#"
name = "copy"
run = { trials = 1, warmup = "0s", duration = "1500ms", models = ["processes"], concurrency = [2] }
[[workload]]
kind = "sleep"
latency = "1ms"
"#,
    );
    let copy = out.join(".iobench-trials");
    let mut child = common::spawn_run(&scenario, &out, &[]);
    // The processes that run the copy: the trial and its two workers.
    let mut most = 0;
    while child.try_wait().unwrap().is_none() {
        let running = procs::pids()
            .into_iter()
            .filter(|&pid| procs::exe(pid).is_some_and(|exe| exe == copy))
            .count();
        most = most.max(running);
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    common::assert_exit(&child.wait_with_output().unwrap(), 0);
    assert!(most >= 3, "at most {most} processes ran {}", copy.display());
    assert!(!copy.exists(), "the copy is removed when the run ends");
}
