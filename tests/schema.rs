//! The published formats (docs/schema/): a real run's run.json, every line of its
//! results.jsonl, its summary.json, and the compare.json of the run against itself are
//! valid under their JSON Schemas; a record or a verdict with a field the schema does not
//! list fails (the schemas list every field), and readers refuse a run.json of another
//! layout.

mod common;

use std::path::Path;

use serde_json::Value;

const SCHEMAS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/schema");
const BASE: &str = "https://github.com/iobench/iobench/docs/schema/";

fn schema(name: &str) -> Value {
    common::read_json(&Path::new(SCHEMAS).join(format!("{name}.schema.json")))
}

/// A validator of `name`'s schema, the other schemas known by their `$id`s.
fn validator(name: &str) -> jsonschema::Validator {
    let mut opts = jsonschema::options();
    for other in ["record", "run", "summary", "compare"] {
        let s = schema(other);
        assert_eq!(s["$id"], format!("{BASE}{other}.schema.json"));
        opts = opts.with_resource(
            format!("{BASE}{other}.schema.json"),
            jsonschema::Resource::from_contents(s).unwrap(),
        );
    }
    opts.build(&schema(name))
        .unwrap_or_else(|e| panic!("{name}.schema.json: {e}"))
}

fn assert_valid(v: &jsonschema::Validator, what: &str, instance: &Value) {
    let errors: Vec<String> = v
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{what}: {errors:#?}");
}

const SCENARIO: &str = r#"
name = "schema"
[run]
trials = 2
warmup = "0s"
duration = "150ms"
models = ["threads", "smol"]
concurrency = [1, 8]

[[workload]]
kind = "sleep"
latency = "5ms"

[[workload]]
kind = "tcp-echo"
payload = "64B"
concurrency = [4]

[[workload]]
kind = "sleep"
latency = "5ms"
mode = "open"
rate = 200
concurrency = [4]
"#;

#[test]
fn a_real_runs_files_are_valid_under_their_schemas() {
    let run = common::run_ok(SCENARIO, &[]);
    let run_json = common::read_json(&run.out.join("run.json"));
    assert_eq!(run_json["schema"], 1);
    assert_valid(&validator("run"), "run.json", &run_json);
    let record = validator("record");
    let records = run.records();
    assert!(records.len() >= 14, "{} records", records.len());
    for (i, r) in records.iter().enumerate() {
        assert_valid(&record, &format!("results.jsonl line {}", i + 1), r);
    }
    let summary = run.summary();
    assert_valid(&validator("summary"), "summary.json", &summary);

    // compare.json of the run against itself.
    let json = run.dir.path().join("verdicts.json");
    let out = common::bin()
        .arg("compare")
        .arg(&run.out)
        .arg(&run.out)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    assert!(
        out.status.code() == Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let verdicts = common::read_json(&json);
    assert_eq!(verdicts["schema"], 1);
    let compare = validator("compare");
    assert_valid(&compare, "compare.json", &verdicts);

    // The schemas can fail: a field they do not list, or a figure of the wrong type.
    let mut extra = records[0].clone();
    extra["a_new_figure"] = 1.into();
    assert!(!record.is_valid(&extra), "an unlisted record field");
    let mut wrong = records[0].clone();
    wrong["throughput_ops_per_sec"] = "fast".into();
    assert!(!record.is_valid(&wrong));
    let mut extra = verdicts.clone();
    extra["comparisons"][0]["surprise"] = true.into();
    assert!(!compare.is_valid(&extra), "an unlisted verdict field");
}

#[test]
fn readers_refuse_a_run_json_of_another_layout() {
    let run = common::run_ok(
        "name = \"t\"\n[run]\ntrials = 1\nwarmup = \"0s\"\nduration = \"50ms\"\nmodels = [\"threads\"]\nconcurrency = [1]\n[[workload]]\nkind = \"sleep\"\nlatency = \"1ms\"\n",
        &[],
    );
    let path = run.out.join("run.json");
    let mut v = common::read_json(&path);
    v["schema"] = 2.into();
    std::fs::write(&path, serde_json::to_string(&v).unwrap()).unwrap();
    let out = common::bin().arg("report").arg(&run.out).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("run.json has layout 2, this iobench reads layout 1"),
        "{err}"
    );
}
