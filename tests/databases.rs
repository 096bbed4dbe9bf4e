//! Database workloads against real servers: the private PostgreSQL and Redis that
//! `scripts/services.sh up` starts (scripts/test.sh does), and a Redis of the test's own that
//! it kills mid-trial.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{error_count, model_of, reason, run, run_ok, wait_for};

fn postgres_url() -> String {
    std::env::var("IOBENCH_POSTGRES_URL")
        .unwrap_or_else(|_| iobench::workload::db::DEFAULT_POSTGRES_URL.to_string())
}

fn psql(sql: &str) {
    let out = Command::new("psql")
        .arg(postgres_url())
        .args(["-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
        .output()
        .expect("psql runs (scripts/services.sh up installs it)");
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn errors(rec: &serde_json::Value, kind: &str) -> u64 {
    rec["errors"][kind].as_u64().unwrap_or(0)
}

/// A row changed behind the reader's back is read as a mismatch, never as a success.
#[test]
fn a_wrong_value_read_back_is_an_error() {
    // A table the workload's setup finds whole (7 rows), with row 3 holding the wrong value.
    psql(
        "DROP TABLE IF EXISTS iobench_points_7; \
         CREATE TABLE iobench_points_7 (id integer PRIMARY KEY, val text NOT NULL); \
         INSERT INTO iobench_points_7 SELECT g, 'value-' || g FROM generate_series(1, 7) g; \
         UPDATE iobench_points_7 SET val = 'tampered' WHERE id = 3",
    );
    let toml = "name = \"wrong\"\n[run]\ntrials = 1\nwarmup = \"100ms\"\nduration = \"500ms\"\n\
                models = [\"threads\", \"tokio-current-thread\"]\nconcurrency = [4]\n\
                max_error_rate = 0.5\n\
                [[workload]]\nkind = \"postgres\"\nquery = \"point-select\"\nrows = 7\n";
    let r = run(toml, &[]);
    psql("DROP TABLE iobench_points_7");
    r.assert_exit(0);
    for rec in r.records() {
        assert_eq!(rec["status"], "ok", "{rec}");
        let (ok, bad) = (rec["ops"].as_u64().unwrap(), errors(&rec, "mismatch"));
        // One row in seven is wrong: about a seventh of the reads are mismatches.
        assert!(bad > 0, "no mismatch counted: {rec}");
        let share = bad as f64 / (ok + bad) as f64;
        assert!(
            (0.03..0.35).contains(&share),
            "mismatch share {share}: {rec}"
        );
        assert!(
            rec["error_samples"]["mismatch"]
                .as_str()
                .unwrap()
                .contains("tampered"),
            "{rec}"
        );
    }
}

/// The server stopped mid-trial gives error-counted or failed trials, and the run
/// completes, its next cell included.
#[test]
fn a_server_stopped_mid_trial_is_errors_not_a_hang() {
    let port = common::free_port();
    let mut redis = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server runs (scripts/services.sh up installs it)");
    let started = Instant::now();
    wait_for("redis to start", Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    });
    let url = format!("redis://127.0.0.1:{port}/");
    let toml = format!(
        "name = \"stopped\"\n[run]\ntrials = 1\nwarmup = \"100ms\"\nduration = \"2s\"\n\
         concurrency = [4]\nmodels = [\"tokio-current-thread\", \"threads\"]\n\
         [[workload]]\nkind = \"redis\"\ntimeout = \"1s\"\nurl = \"{url}\"\n"
    );
    // Killed once a trial holds connections (the run's probe has passed by then, so no
    // cell is skipped), and a little later: inside the window on an idle machine, in
    // set-up at worst (a failed trial, which the test accepts too).
    let killer = std::thread::spawn(move || {
        wait_for(
            "a trial's connections to redis",
            Duration::from_secs(30),
            || (established_to(port) >= 2).then_some(()),
        );
        std::thread::sleep(Duration::from_millis(700));
        let _ = redis.kill();
        let _ = redis.wait();
    });
    let r = run(&toml, &[]);
    killer.join().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(40),
        "{:?}",
        started.elapsed()
    );
    r.assert_exit(0);
    let records = r.records();
    assert_eq!(records.len(), 2, "both cells have a record");
    for rec in &records {
        assert!(
            rec["status"] == "failed" || error_count(rec) > 0,
            "a stopped server must show: {rec}"
        );
    }
}

/// A service that does not answer gives skipped cells whose reason says how to start it.
#[test]
fn services_down_give_skipped_cells_with_the_hint() {
    let toml = "name = \"down\"\n[run]\ntrials = 2\nwarmup = \"100ms\"\nduration = \"300ms\"\n\
                concurrency = [2]\nmodels = [\"threads\", \"smol\"]\n\
                [[workload]]\nkind = \"redis\"\nurl = \"redis://127.0.0.1:9/\"\n\
                [[workload]]\nkind = \"postgres\"\nurl = \"postgres://x@127.0.0.1:9/x\"\n";
    let r = run_ok(toml, &[]);
    let records = r.records();
    assert_eq!(records.len(), 8, "every planned trial is recorded");
    for rec in &records {
        assert_eq!(rec["status"], "skipped", "{rec}");
        assert!(reason(rec).contains("scripts/services.sh up"), "{rec}");
        assert!(
            rec["ops"].is_null(),
            "a skipped trial has no figures: {rec}"
        );
    }
    for cell in common::cells(&r.summary()) {
        assert_eq!(cell["status"], "skipped", "{cell}");
    }
    assert!(r.stdout().contains("skipped"), "{}", r.stdout());
}

/// `pool_max` bounds the whole model: worker processes split it, and the connections the
/// server sees during the window (`db_connections`) never exceed it in any model.
#[test]
fn the_pool_bounds_every_model_and_the_server_counts_its_connections() {
    for (kind, extra) in [
        ("postgres", ""),
        ("redis", "command = \"get\"\nkeys = 10\n"),
    ] {
        let toml = format!(
            "name = \"pool\"\n[run]\ntrials = 1\nwarmup = \"200ms\"\nduration = \"600ms\"\n\
             models = [\"threads\", \"tokio-current-thread\", \"processes\", \"async-processes\"]\n\
             concurrency = [12]\nevent_loops = 2\n\
             [[workload]]\nkind = \"{kind}\"\npool_min = 2\npool_max = 3\n{extra}"
        );
        let r = run_ok(&toml, &[]);
        for rec in r.records() {
            let model = model_of(&rec);
            assert_eq!(rec["status"], "ok", "{kind} {model}: {rec}");
            let n = rec["db_connections"]
                .as_u64()
                .unwrap_or_else(|| panic!("{kind} {model}: db_connections not counted: {rec}"));
            // 12 workers or tasks against a pool of 3: all 3 are open by the window's end,
            // and no more, whatever the model.
            assert_eq!(n, 3, "{kind} {model}: {n} connections: {rec}");
            if model == "processes" {
                assert_eq!(rec["workers"], 3, "at most pool_max workers: {rec}");
            }
        }
    }
}

/// `timeout` is the op's deadline in every model: a query the server takes longer over is
/// a timeout error, blocking or async, never a slow success.
#[test]
fn a_query_past_its_deadline_is_a_timeout_in_every_model() {
    let toml = "name = \"deadline\"\n[run]\ntrials = 1\nwarmup = \"0s\"\nduration = \"600ms\"\n\
                models = [\"threads\", \"processes\", \"tokio-current-thread\", \"smol\"]\n\
                concurrency = [2]\n\
                [[workload]]\nkind = \"postgres\"\nquery = \"sleep\"\nserver_delay = \"400ms\"\n\
                timeout = \"100ms\"\npool_min = 2\npool_max = 2\n";
    let r = run_ok(toml, &[]);
    for rec in r.records() {
        let model = model_of(&rec);
        assert_eq!(rec["status"], "failed", "{model}: {rec}");
        let why = reason(&rec);
        assert!(why.contains("Timeout"), "{model}: {why}");
    }
}

/// Blocking and async pools fill the same way: `pool_min` before the window (0 included),
/// more only when an op finds none free; so one op at a time keeps `max(pool_min, 1)`.
#[test]
fn blocking_and_async_pools_open_the_same_connections() {
    for (min, want) in [(3, 3), (0, 1)] {
        let toml = format!(
            "name = \"fill\"\n[run]\ntrials = 1\nwarmup = \"100ms\"\nduration = \"400ms\"\n\
             models = [\"threads\", \"processes\", \"tokio-current-thread\", \"smol\"]\n\
             concurrency = [1]\n\
             [[workload]]\nkind = \"postgres\"\npool_min = {min}\npool_max = 10\n"
        );
        let r = run_ok(&toml, &[]);
        for rec in r.records() {
            let model = model_of(&rec);
            assert_eq!(rec["status"], "ok", "{model}: {rec}");
            assert_eq!(
                rec["db_connections"].as_u64(),
                Some(want),
                "pool_min {min}, {model}: {rec}"
            );
        }
    }
}

/// Connections established to `port` on loopback, as /proc/net/tcp lists them (the
/// server's side of each: local port `port`, state 01).
fn established_to(port: u16) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let local = format!(":{port:04X}");
    table
        .lines()
        .skip(1)
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 3 && f[1].ends_with(&local) && f[3] == "01"
        })
        .count()
}
