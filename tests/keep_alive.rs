//! `keep_alive` on the server workloads: every server model obeys it, and the client
//! agrees, so an op opens a connection exactly when the setting says it must, and never
//! sends a request twice.

mod common;

use common::run;

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
            let r = run(&toml, &[]);
            assert_eq!(r.code(), Some(0), "{}", r.stderr());
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
