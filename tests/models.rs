//! The shared template: every workload on every model, through the real binary, must give
//! an ok cell with every figure present.

mod common;

use common::{get, run};
use iobench::ModelKind;

/// Figures every ok trial must carry (non-null).
const FIGURES: &[&str] = &[
    "ops",
    "window_secs",
    "throughput_ops_per_sec",
    "ideal_ops_per_sec",
    "efficiency",
    "latency_us.p50",
    "latency_us.p90",
    "latency_us.p99",
    "latency_us.p99_9",
    "latency_us.max",
    "cpu_user_secs",
    "cpu_sys_secs",
    "cpu_secs_per_1k_ops",
    "ctx_switches_voluntary",
    "ctx_switches_involuntary",
    "peak_rss_bytes",
    "peak_pss_bytes",
    "idle_rss_bytes",
    "idle_pss_bytes",
    "mem_per_op_bytes",
    "peak_threads",
    "peak_processes",
    "achieved_concurrency",
    "workers",
    "setup_secs",
];

/// Workload tables the template runs, one per workload kind. Each has an ideal throughput
/// (a delay), so `efficiency` is a figure every one of them must carry.
const WORKLOADS: &[(&str, &str)] = &[
    ("sleep", "kind = \"sleep\"\nlatency = \"5ms\""),
    (
        "tcp-echo",
        "kind = \"tcp-echo\"\npayload = \"2KiB\"\nserver_delay = \"2ms\"",
    ),
    (
        "http-get",
        "kind = \"http-get\"\npath = \"/ana\"\nserver_delay = \"2ms\"",
    ),
    ("dns", "kind = \"dns\"\nserver_delay = \"2ms\""),
];

#[test]
fn the_template_covers_every_workload() {
    let covered: Vec<&str> = WORKLOADS.iter().map(|(k, _)| *k).collect();
    let all: Vec<&str> = iobench::WorkloadKind::ALL
        .iter()
        .map(|k| k.name())
        .collect();
    assert_eq!(covered, all);
}

fn template(model: &str) {
    for (kind, table) in WORKLOADS {
        let toml = format!(
            "name = \"template\"\n[run]\ntrials = 1\nwarmup = \"100ms\"\nduration = \"300ms\"\n\
             models = [\"{model}\"]\nconcurrency = [4]\n[[workload]]\n{table}\n"
        );
        let r = run(&toml, &[]);
        assert_eq!(r.code(), Some(0), "{kind} on {model}: {}", r.stderr());
        let records = r.records();
        assert_eq!(records.len(), 1, "{kind} on {model}");
        let rec = &records[0];
        assert_eq!(rec["status"], "ok", "{kind} on {model}: {rec}");
        for f in FIGURES {
            assert!(
                !get(rec, f).is_null(),
                "{kind} on {model}: `{f}` missing in {rec}"
            );
        }
        assert!(rec["ops"].as_u64().unwrap() > 0);
        assert!(rec["peak_threads"].as_u64().unwrap() >= 1);
        let summary = r.summary();
        let cell = &summary["cells"][0];
        assert_eq!(cell["status"], "ok", "{cell}");
        assert_eq!(cell["model"], model);
        assert_eq!(cell["workload"], *kind);
        for f in FIGURES {
            assert!(
                get(cell, &format!("{f}.median")).is_number(),
                "{kind} on {model}: summary lacks `{f}`"
            );
        }
        assert!(summary["machine"]["cores"].as_u64().unwrap() >= 1);
    }
}

macro_rules! every_model {
    ($($test:ident => $model:literal),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                template($model);
            }
        )*

        /// A model added to `ModelKind` without a line here fails this test.
        #[test]
        fn the_template_covers_every_model() {
            let covered = [$($model),*];
            let all: Vec<&str> = ModelKind::ALL.iter().map(|m| m.name()).collect();
            assert_eq!(covered.to_vec(), all);
        }
    };
}

every_model! {
    sequential => "sequential",
    threads => "threads",
    thread_pool => "thread-pool",
    processes => "processes",
    tokio_current_thread => "tokio-current-thread",
    async_std => "async-std",
    smol => "smol",
    tokio_multi_thread => "tokio-multi-thread",
}
