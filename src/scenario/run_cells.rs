//! Run cells written and read back, built from scenarios (`plan` cannot import `scenario`).

use super::Scenario;
use crate::plan::RunCell;

fn cell(table: &str) -> RunCell {
    let toml = format!(
        "name = \"x\"\n[run]\nmodels = [\"threads\"]\nconcurrency = [1]\n[[workload]]\n{table}"
    );
    let s = Scenario::parse(&toml, std::path::Path::new("x.toml")).unwrap();
    RunCell::new(s.cells().remove(0))
}

fn read(json: serde_json::Value) -> RunCell {
    serde_json::from_value(json).unwrap()
}

#[test]
fn a_resolved_cell_reads_back_as_written() {
    for table in [
        "kind = \"tcp-echo\"\ntarget = \"10.0.0.1:7\"\n",
        "kind = \"disk-read\"\n",
        "kind = \"cpu-mix\"\n",
    ] {
        let mut c = cell(table);
        c.resolved.target = c.resolved.target.or(Some("127.0.0.1:9".into()));
        c.resolved.scratch = Some("/tmp/s".into());
        c.resolved.rounds = Some(7);
        // A run starts a target only for a workload that names none.
        c.target_pid = c.workload.target().is_none().then_some(3);
        (c.skip, c.ops) = (Some("why".into()), Some(9));
        let json = serde_json::to_value(&c).unwrap();
        let w = &json["workload"];
        assert_eq!(w["target"], c.resolved.target.as_deref().unwrap(), "{json}");
        assert_eq!(
            (&w["scratch"], &w["rounds"]),
            (&"/tmp/s".into(), &7.into()),
            "{json}"
        );
        assert_eq!((&json["skip"], &json["ops"]), (&"why".into(), &9.into()));
        assert_eq!(read(json), c);
    }
}

/// The run's values are written inside `workload`, as run folders always had them.
#[test]
fn a_written_cell_reads_with_its_run_values_lifted() {
    let old = |workload: serde_json::Value, pid: Option<u32>| {
        let mut c = serde_json::to_value(cell("kind = \"sleep\"\n").cell).unwrap();
        c["workload"] = workload;
        if let Some(p) = pid {
            c["target_pid"] = p.into();
        }
        read(c)
    };
    let echo = |target: &str| {
        serde_json::json!({"kind": "tcp-echo", "payload": "1KiB", "server_delay": "0s",
            "timeout": "10s", "target": target})
    };
    // The embedded target the run started: resolved, not a parameter.
    let c = old(echo("127.0.0.1:42827"), Some(5329));
    assert_eq!(c.resolved.target.as_deref(), Some("127.0.0.1:42827"));
    assert_eq!(c.workload.target(), None);
    assert_eq!(c.target_pid, Some(5329));
    // One the user wrote: both.
    let c = old(echo("10.0.0.1:7"), None);
    assert_eq!(c.resolved.target.as_deref(), Some("10.0.0.1:7"));
    assert_eq!(c.workload.target(), Some("10.0.0.1:7"));
    // A server under test's address, a scratch folder, calibrated rounds.
    let c = old(
        serde_json::json!({"kind": "echo-serve", "payload": "1KiB", "delay": "0s",
            "timeout": "10s", "client_threads": 1, "keep_alive": true, "target": "1.2.3.4:5"}),
        None,
    );
    assert_eq!(c.resolved.target.as_deref(), Some("1.2.3.4:5"));
    let c = old(
        serde_json::json!({"kind": "disk-write", "size": "64KiB", "fsync": false,
            "scratch": "/tmp/iobench-scratch-1-0"}),
        None,
    );
    assert_eq!(
        c.resolved.scratch.as_deref(),
        Some("/tmp/iobench-scratch-1-0")
    );
    let c = old(
        serde_json::json!({"kind": "cpu-mix", "wait": "1ms", "via": "sleep", "compute": "0s",
            "timeout": "10s", "rounds": 12}),
        None,
    );
    assert_eq!(c.resolved.rounds, Some(12));
    assert_eq!(
        c.workload.label(),
        "cpu-mix[compute=0s,timeout=10s,via=sleep,wait=1ms]"
    );
}
