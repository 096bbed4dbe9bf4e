//! Parsing, expansion into cells, and errors that point at the mistake.

use super::*;

fn parse(src: &str) -> Result<Scenario, ScenarioError> {
    Scenario::parse(src, Path::new("t.toml"))
}

const OK: &str = r#"
name = "quick"
description = "d"
[run]
trials = 2
warmup = "1s"
duration = "3s"
models = ["sequential", "threads"]
concurrency = [1, 16]
[[workload]]
kind = "sleep"
latency = "10ms"
concurrency = [1, 16, 256, 4096]
"#;

#[test]
fn parses_and_expands() {
    let s = parse(OK).unwrap();
    let cells = s.cells();
    assert_eq!(cells.len(), 8);
    assert_eq!(cells[0].id, "sleep[latency=10ms]/sequential/c1/closed");
    assert_eq!(cells[7].concurrency, 4096);
    assert_eq!(cells[0].trials, 2);
    assert_eq!(cells[0].trial_timeout.0, Duration::from_secs(34));
}

#[test]
fn the_default_scenario_parses() {
    parse(DEFAULT_SCENARIO_TOML).unwrap();
}

fn location_of(src: &str) -> (usize, usize, String) {
    let e = parse(src).unwrap_err();
    let (l, c) = e.location.expect("a location");
    (l, c, e.to_string())
}

#[test]
fn unknown_keys_and_values_point_at_themselves() {
    for (from, to, at, words) in [
        ("trials = 2", "trails = 2", (5, 1), "unknown field `trails`"),
        ("\"threads\"]", "\"fibers\"]", (8, 25), "fibers"),
        (
            "latency",
            "latncy",
            (12, 1),
            "`latncy` is not a parameter of `sleep`",
        ),
    ] {
        let (l, c, msg) = location_of(&OK.replace(from, to));
        assert_eq!((l, c), at, "{msg}");
        assert!(msg.contains(words), "{msg}");
    }
}

#[test]
fn zero_values_are_rejected() {
    for (from, to, line) in [
        ("duration = \"3s\"", "duration = \"0s\"", 7),
        ("trials = 2", "trials = 0", 5),
        ("trials = 2", "trials = -4", 5),
        ("concurrency = [1, 16]", "concurrency = [1, 0]", 9),
        ("latency = \"10ms\"", "latency = \"0ms\"", 12),
    ] {
        let (l, _, msg) = location_of(&OK.replace(from, to));
        assert_eq!(l, line, "{to}: {msg}");
    }
}

#[test]
fn contradictions_are_rejected() {
    let (l, _, msg) = location_of(&OK.replace(
        "models = [\"sequential\", \"threads\"]",
        "models = [\"threads\", \"threads\"]",
    ));
    assert_eq!(l, 8);
    assert!(msg.contains("twice"), "{msg}");
    let (l, _, msg) =
        location_of(&OK.replace("[[workload]]", "[[workload]]\ntrial_timeout = \"2s\""));
    assert_eq!(l, 11);
    assert!(msg.contains("trial_timeout"), "{msg}");
    let (_, _, msg) = location_of(&OK.replace("kind = \"sleep\"", "kind = \"sleeep\""));
    assert!(msg.contains("sleeep"), "{msg}");
}

#[test]
fn database_and_server_parameters_are_checked() {
    let base = "name = \"x\"\n[[workload]]\n";
    for (table, line, words) in [
        ("kind = \"redis\"\npool_min = 20\n", 4, "above pool_max"),
        (
            "kind = \"postgres\"\nserver_delay = \"5ms\"\n",
            4,
            "only applies to query",
        ),
        (
            "kind = \"postgres\"\nquery = \"drop\"\n",
            4,
            "unknown variant",
        ),
        (
            "kind = \"http-serve\"\npath = \"/bytes/9\"\n",
            4,
            "not one of the server's routes",
        ),
        (
            "kind = \"echo-serve\"\nload_generator = \"wrk\"\n",
            4,
            "not a parameter",
        ),
    ] {
        let (l, _, msg) = location_of(&format!("{base}{table}"));
        assert_eq!(l, line, "{table}: {msg}");
        assert!(msg.contains(words), "{table}: {msg}");
    }
    let s = parse(&format!("{base}kind = \"redis\"\n")).unwrap();
    match &s.workloads[0].0 {
        WorkloadSpec::Redis(r) => assert_eq!((r.pool.pool_min, r.pool.pool_max), (5, 10)),
        other => panic!("{other:?}"),
    }
    let s = parse(&format!("{base}kind = \"postgres\"\npool_min = 0\n")).unwrap();
    match &s.workloads[0].0 {
        WorkloadSpec::Postgres(p) => assert_eq!((p.pool.pool_min, p.pool.pool_max), (0, 10)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn syntax_errors_have_a_location() {
    let (l, _, _) = location_of("name = \"x\"\n[run\n");
    assert_eq!(l, 2);
}

#[test]
fn run_durations_past_a_week_are_rejected_where_written() {
    for (from, to, line) in [
        ("duration = \"3s\"", "duration = \"169h\"", 7),
        ("warmup = \"1s\"", "warmup = \"10000000000000000000s\"", 6),
        ("[[workload]]", "[[workload]]\ntrial_timeout = \"200h\"", 11),
    ] {
        let (l, _, msg) = location_of(&OK.replace(from, to));
        assert_eq!(l, line, "{to}: {msg}");
        assert!(
            msg.contains("longer than any duration iobench accepts, 604800s"),
            "{to}: {msg}"
        );
    }
    let s = parse(&OK.replace("duration = \"3s\"", "duration = \"168h\"")).unwrap();
    assert_eq!(s.workloads[0].1.duration, crate::units::MAX_DURATION);
}

#[test]
fn a_key_of_too_many_parts_is_found() {
    let key = vec!["a"; 200].join(" . ");
    let (l, c, msg) = location_of(&format!(
        "name = \"x\"\n[[workload]]\nkind = \"sleep\"\n  {key} = 1\n"
    ));
    assert_eq!((l, c), (4, 3), "{msg}");
    let header = vec!["\"q.q\""; 100].join(".");
    let (l, c, msg) = location_of(&format!("name = \"x\"\nv = 1.5\n[{header}]\n"));
    assert_eq!((l, c), (3, 2), "{msg}");
}
