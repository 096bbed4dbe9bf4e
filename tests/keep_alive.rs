//! `keep_alive` on the server workloads: every server model obeys it, and the client
//! agrees, so an op opens a connection exactly when the setting says it must, and never
//! sends a request twice.

mod common;

use common::run_ok;

/// Connects per op: about one with `keep_alive = false` (the server closes after each
/// reply, the client connects before each op), about none with `true` (the connections of
/// setup carry every op); and no request is ever resent, against a fixed-worker server
/// (thread-pool) and an async one (tokio-current-thread), for both protocols.
#[test]
fn connects_per_op_follow_keep_alive_and_nothing_is_resent() {
    for table in [
        "kind = \"echo-serve\"\npayload = \"100B\"",
        "kind = \"http-serve\"\npath = \"/json\"",
    ] {
        for keep_alive in [false, true] {
            let toml = format!(
                "name = \"keep-alive\"\n[run]\ntrials = 1\nwarmup = \"100ms\"\n\
                 duration = \"400ms\"\nmodels = [\"thread-pool\", \"tokio-current-thread\"]\n\
                 concurrency = [4]\npool_size = 8\n[[workload]]\n{table}\n\
                 keep_alive = {keep_alive}\n"
            );
            let r = run_ok(&toml, &[]);
            let recs = r.records();
            assert_eq!(recs.len(), 2, "{}", r.stderr());
            for rec in &recs {
                let what = format!(
                    "{} keep_alive={keep_alive} on {}",
                    rec["cell"]["workload"]["kind"], rec["cell"]["model"]
                );
                assert_eq!(rec["status"], "ok", "{what}: {rec}");
                let ops = rec["ops"].as_u64().unwrap();
                assert!(ops > 20, "{what}: only {ops} ops");
                let connects = rec["connects"]
                    .as_u64()
                    .unwrap_or_else(|| panic!("{what}: no connects figure: {rec}"));
                let per_op = connects as f64 / ops as f64;
                if keep_alive {
                    assert!(per_op < 0.05, "{what}: {connects} connects for {ops} ops");
                } else {
                    assert!(
                        (0.9..=1.1).contains(&per_op),
                        "{what}: {connects} connects for {ops} ops"
                    );
                }
                assert_eq!(rec["retried_ops"], 0, "{what}: {rec}");
            }
        }
    }
}

/// With keep-alive, a server with one worker (sequential) serves one connection for its
/// life: the other clients wait through the whole window. They are not left out of the
/// figures: each is an unfinished op, in the latency percentiles at the age it reached.
#[test]
fn clients_a_fixed_worker_server_never_serves_are_unfinished_ops() {
    let toml = "name = \"starved\"\n[run]\ntrials = 1\nwarmup = \"100ms\"\n\
                duration = \"300ms\"\nmodels = [\"sequential\"]\nconcurrency = [4]\n\
                [[workload]]\nkind = \"http-serve\"\npath = \"/json\"\ntimeout = \"1500ms\"\n";
    let r = run_ok(toml, &[]);
    let rec = &r.records()[0];
    assert_eq!(rec["status"], "ok", "{rec}");
    assert_eq!(rec["unfinished_ops"], 3, "three clients wait: {rec}");
    // Their age at the window's end is at least the window: the tail shows them.
    let max_us = rec["latency_us"]["max"].as_f64().unwrap();
    assert!(max_us >= 300_000.0, "max latency {max_us} µs: {rec}");
    assert!(rec["achieved_concurrency"].as_f64().unwrap() < 2.0, "{rec}");
}
