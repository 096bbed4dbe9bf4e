//! Fuzzing the scenario parser and the command line (proptest).
//!
//! In process, for speed: [`Scenario::parse`] (and [`Scenario::load`] for text that is not
//! UTF-8) over arbitrary bytes, a soup of TOML tokens, mutations of the shipped
//! `scenarios/*.toml`, and a table of edges. The property: nothing panics, and every
//! rejected input names its file and, when the text could be read, the line and column
//! (consistent with the text). Accepted scenarios are also expanded into cells and listed.
//! The real binary runs the edges with `run` and `list` (exit 2, `file:line:col` on
//! stderr), and random argument vectors (never a panic; clap's errors exit 2).
//!
//! The random tests share a time budget: 30 s in all by default, `IOBENCH_FUZZ_SECS=300`
//! for a longer run by hand. `PROPTEST_CASES=N` caps each random test at N cases (and,
//! without `IOBENCH_FUZZ_SECS`, lifts the time limit). `IOBENCH_FUZZ_SEED=S` repeats a run
//! (each test prints its seed and how many inputs it tried on stderr).

// ScenarioError is large, as in the library (`lib.rs` allows it for `scenario`).
#![allow(clippy::result_large_err)]

mod common;

use std::fmt::Debug;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Once;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use iobench::scenario::{Overrides, Scenario, ScenarioError};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

// ---------------------------------------------------------------------------------------
// Budget, seed and the loop
// ---------------------------------------------------------------------------------------

/// The random tests' time, all together.
fn total_budget() -> Option<Duration> {
    match std::env::var("IOBENCH_FUZZ_SECS") {
        Ok(s) => Some(Duration::from_secs_f64(
            s.parse::<f64>()
                .expect("IOBENCH_FUZZ_SECS is a number of seconds"),
        )),
        Err(_) if max_cases().is_some() => None,
        Err(_) => Some(Duration::from_secs(30)),
    }
}

fn max_cases() -> Option<u64> {
    std::env::var("PROPTEST_CASES")
        .ok()
        .map(|s| s.parse().expect("PROPTEST_CASES is a number"))
}

fn base_seed() -> u64 {
    static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *SEED.get_or_init(|| match std::env::var("IOBENCH_FUZZ_SEED") {
        Ok(s) => s.parse().expect("IOBENCH_FUZZ_SEED is a number"),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64),
    })
}

/// Written past the test harness's capture, so that a passing run shows it too.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Panics known to come from code this harness leaves to others, counted and reported
/// rather than failed: none now. (Durations past what a `Duration` holds panicked in
/// `HumanDuration::from_str` until units.rs bounded every duration at a week.)
const ELSEWHERE: &[&str] = &[];

static ELSEWHERE_SEEN: AtomicU64 = AtomicU64::new(0);

fn elsewhere(message: &str) -> bool {
    ELSEWHERE.iter().any(|m| message.contains(m))
}

/// Keeps the known panics of [`ELSEWHERE`] off stderr (they are counted instead).
fn quiet_known_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !elsewhere(&panic_message(info.payload())) {
                previous(info);
            }
        }));
    });
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "<a panic without a message>".into())
}

/// Runs `test` on values of `strategy` for `share` of the budget (or `PROPTEST_CASES`
/// cases), shrinking any failure, and returns how many ran.
fn fuzz<S: Strategy>(
    name: &str,
    share: f64,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) -> u64
where
    S::Value: Debug,
{
    quiet_known_panics();
    let seed = base_seed();
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..8 + name.len().min(24)].copy_from_slice(&name.as_bytes()[..name.len().min(24)]);
    let config = Config {
        failure_persistence: None,
        max_shrink_time: 60_000,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &key));
    let budget = total_budget().map(|b| b.mul_f64(share));
    let cases = max_cases().unwrap_or(u64::MAX);
    let start = Instant::now();
    let mut n = 0;
    while n < cases && budget.is_none_or(|b| start.elapsed() < b) {
        let tree = strategy.new_tree(&mut runner).expect("a case");
        if let Err(e) = runner.run_one(tree, &test) {
            panic!("{name} failed (IOBENCH_FUZZ_SEED={seed}): {e}");
        }
        n += 1;
    }
    say(&format!(
        "fuzz {name}: {n} executions in {:.1} s (IOBENCH_FUZZ_SEED={seed}); known panics tolerated: {}",
        start.elapsed().as_secs_f64(),
        ELSEWHERE_SEEN.load(Ordering::Relaxed)
    ));
    n
}

// ---------------------------------------------------------------------------------------
// The property
// ---------------------------------------------------------------------------------------

#[derive(Debug, PartialEq)]
enum Outcome {
    Accepted,
    Rejected(ScenarioError),
    /// A known panic of [`ELSEWHERE`].
    Elsewhere,
}

/// Parses `bytes` as the scenario `path` (reading it from `path` when it is not UTF-8),
/// checks the property, and says what became of it.
fn parse_checked(bytes: &[u8], path: &Path) -> Result<Outcome, TestCaseError> {
    quiet_known_panics();
    let text = std::str::from_utf8(bytes).ok();
    let outcome = std::panic::catch_unwind(|| {
        let parsed = match text {
            Some(src) => Scenario::parse(src, path),
            None => {
                std::fs::write(path, bytes).expect("write the scenario");
                Scenario::load(path)
            }
        };
        match parsed {
            Ok(s) => {
                use_accepted(&s);
                Ok(Ok(()))
            }
            Err(e) => {
                let shown = e.to_string();
                check_error(&e, &shown, path, text).map(|()| Err(e))
            }
        }
    });
    match outcome {
        Ok(Ok(Ok(()))) => Ok(Outcome::Accepted),
        Ok(Ok(Err(e))) => Ok(Outcome::Rejected(e)),
        Ok(Err(bad)) => Err(TestCaseError::fail(bad)),
        Err(payload) => {
            let message = panic_message(&*payload);
            match elsewhere(&message) {
                true => {
                    ELSEWHERE_SEEN.fetch_add(1, Ordering::Relaxed);
                    Ok(Outcome::Elsewhere)
                }
                false => Err(TestCaseError::fail(format!("panicked: {message}"))),
            }
        }
    }
}

/// What the commands do with a scenario they accepted, short of running it.
fn use_accepted(s: &Scenario) {
    let cells: usize = s
        .workloads
        .iter()
        .map(|(_, run)| run.models.len() * run.concurrency.len())
        .sum();
    if cells <= 10_000 {
        let _ = s.cells();
    }
    let _ = iobench::list::scenario_models(s);
    let mut o = s.clone();
    let _ = o.apply(&Overrides {
        models: Some(vec!["threads".into()]),
        concurrency: Some(vec![1, 2]),
        ..Overrides::default()
    });
    if cells <= 10_000 {
        let _ = o.cells();
    }
}

/// A rejection names `path`; when the text was readable, also a line and column that
/// exist in it, and the line it shows is that line.
fn check_error(
    e: &ScenarioError,
    shown: &str,
    path: &Path,
    src: Option<&str>,
) -> Result<(), String> {
    let p = path.display().to_string();
    let fail = |why: String| Err(format!("{why}; the error:\n{shown}"));
    if e.path != path {
        return fail(format!("names {} instead of {p}", e.path.display()));
    }
    if !shown.starts_with(&format!("{p}:")) {
        return fail(format!("does not start with `{p}:`"));
    }
    if e.message.trim().is_empty() {
        return fail("has no message".into());
    }
    let Some(src) = src else {
        return match e.location.is_none() && shown.contains("cannot read") {
            true => Ok(()),
            false => fail("text that is not UTF-8 is not refused as unreadable".into()),
        };
    };
    let Some((line, col)) = e.location else {
        return fail("no line and column for a readable file".into());
    };
    let lines: Vec<&str> = src.split('\n').collect();
    if line == 0 || col == 0 || line > lines.len() {
        return fail(format!(
            "line {line} col {col} is not in the {} line(s)",
            lines.len()
        ));
    }
    let text = lines[line - 1];
    if col > text.chars().count() + 1 {
        return fail(format!(
            "col {col} is past the end of line {line} ({text:?})"
        ));
    }
    if !shown.contains(&format!("{p}:{line}:{col}: ")) {
        return fail(format!("does not show `{p}:{line}:{col}: `"));
    }
    if let Some(shown_line) = &e.source_line {
        let expected = match line < lines.len() {
            true => text.strip_suffix('\r').unwrap_or(text),
            false => text,
        };
        if shown_line != expected {
            return fail(format!(
                "shows line {shown_line:?}, not line {line} {expected:?}"
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------------------

/// The shipped scenarios, (file name, text).
fn shipped() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .expect("scenarios/")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).expect("a scenario"))
        })
        .collect();
    out.sort();
    assert!(out.len() >= 5, "the shipped scenarios in {}", dir.display());
    out
}

/// Values written in place of a key's value.
const EDGE_VALUES: &[&str] = &[
    "0",
    "-1",
    "1",
    "4294967295",
    "4294967296",
    "1000000000000",
    "9223372036854775807",
    "-9223372036854775808",
    "0.0",
    "-0.0",
    "1e308",
    "1e-308",
    "nan",
    "inf",
    "-inf",
    "true",
    "\"\"",
    "\" \"",
    "\"0s\"",
    "\"1e9s\"",
    "\"-1s\"",
    "\"1ns\"",
    "\"1000000000s\"",
    "\"10000000000000000000s\"",
    "\"99999999999999999999999h\"",
    "\"0B\"",
    "\"99999999999GiB\"",
    "\"18446744073709551615B\"",
    "\"-1KiB\"",
    "\"1.5\"",
    "\"µs\"",
    "\"{port}\"",
    "\"{nope}\"",
    "\"line:\"",
    "[]",
    "[[]]",
    "[0]",
    "[1, 1]",
    "[\"threads\", \"threads\"]",
    "[\"\"]",
    "{}",
    "{ a = 1 }",
    "1979-05-27T07:32:00Z",
    "'''\n'''",
    "\"\\u0000\"",
    "\"\\uD800\"",
    "\"ü\u{feff}\"",
];

/// Lines inserted into a scenario.
const SNIPPETS: &[&str] = &[
    "[[workload]]",
    "[[workload]]\nkind = \"sleep\"",
    "[run]",
    "[workload]",
    "[[model]]",
    "[[model]]\nname = \"m\"\nworker = [\"x\"]\nruns = [\"sleep\"]",
    "[[model]]\nname = \"s\"\ncommand = [\"x\", \"{port}\"]\nhost = \"h\"",
    "[[run]]",
    "name = \"x\"",
    "kind = \"sleep\"",
    "kind = \"nap\"",
    "models = []",
    "models = [\"m\", \"s\"]",
    "concurrency = [0]",
    "concurrency = [4294967296]",
    "trial_timeout = \"1ns\"",
    "mode = \"open\"",
    "rate = 1e308",
    "max_error_rate = 1",
    "target = \"\"",
    "target = \"[::1]:0\"",
    "workload = 3",
    "run = []",
    "a.b.c = 1",
    "\"\" = 1",
    "= 1",
    "x = ",
    "\u{feff}",
    "\r",
    "\t",
    "#",
];

#[derive(Clone, Debug)]
enum Mutation {
    FlipBit(Index, u8),
    SetByte(Index, u8),
    DeleteBytes(Index, u8),
    Truncate(Index),
    DeleteLine(Index),
    DuplicateLine(Index),
    SwapLines(Index, Index),
    ReplaceValue(Index, Index),
    InsertLine(Index, Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        1 => (any::<Index>(), 0u8..8).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
        1 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::SetByte(i, b)),
        1 => (any::<Index>(), any::<u8>()).prop_map(|(i, n)| Mutation::DeleteBytes(i, n)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        1 => any::<Index>().prop_map(Mutation::DeleteLine),
        1 => any::<Index>().prop_map(Mutation::DuplicateLine),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        3 => (any::<Index>(), any::<Index>()).prop_map(|(l, v)| Mutation::ReplaceValue(l, v)),
        2 => (any::<Index>(), any::<Index>()).prop_map(|(l, s)| Mutation::InsertLine(l, s)),
    ]
}

fn split_lines(src: &[u8]) -> Vec<Vec<u8>> {
    src.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect()
}

fn mutate(src: &mut Vec<u8>, m: &Mutation) {
    let join = |lines: Vec<Vec<u8>>| lines.join(&b'\n');
    match m {
        Mutation::FlipBit(i, b) if !src.is_empty() => {
            let at = i.index(src.len());
            src[at] ^= 1 << b;
        }
        Mutation::SetByte(i, v) if !src.is_empty() => {
            let at = i.index(src.len());
            src[at] = *v;
        }
        Mutation::DeleteBytes(i, n) if !src.is_empty() => {
            let at = i.index(src.len());
            let end = (at + *n as usize % 16 + 1).min(src.len());
            src.drain(at..end);
        }
        Mutation::Truncate(i) => src.truncate(i.index(src.len() + 1)),
        Mutation::DeleteLine(i) => {
            let mut lines = split_lines(src);
            lines.remove(i.index(lines.len()));
            *src = join(lines);
        }
        Mutation::DuplicateLine(i) => {
            let mut lines = split_lines(src);
            let at = i.index(lines.len());
            lines.insert(at, lines[at].clone());
            *src = join(lines);
        }
        Mutation::SwapLines(a, b) => {
            let mut lines = split_lines(src);
            let (a, b) = (a.index(lines.len()), b.index(lines.len()));
            lines.swap(a, b);
            *src = join(lines);
        }
        Mutation::ReplaceValue(l, v) => {
            let mut lines = split_lines(src);
            // Prefer a line that sets a key.
            let with_key: Vec<usize> = (0..lines.len())
                .filter(|&i| lines[i].contains(&b'='))
                .collect();
            let at = match with_key.is_empty() {
                true => l.index(lines.len()),
                false => with_key[l.index(with_key.len())],
            };
            let line = &mut lines[at];
            let value = EDGE_VALUES[v.index(EDGE_VALUES.len())].as_bytes();
            match line.iter().position(|&b| b == b'=') {
                Some(eq) => {
                    line.truncate(eq + 1);
                    line.push(b' ');
                    line.extend_from_slice(value);
                }
                None => {
                    line.extend_from_slice(b" = ");
                    line.extend_from_slice(value);
                }
            }
            *src = join(lines);
        }
        Mutation::InsertLine(l, s) => {
            let mut lines = split_lines(src);
            let at = l.index(lines.len() + 1);
            let snippet = SNIPPETS[s.index(SNIPPETS.len())].as_bytes().to_vec();
            lines.insert(at, snippet);
            *src = join(lines);
        }
        _ => {}
    }
}

/// TOML-ish tokens, joined at random: inputs that get further into the parser than bytes.
const TOKENS: &[&str] = &[
    "[",
    "]",
    "[[",
    "]]",
    "{",
    "}",
    "=",
    ",",
    ".",
    "\"",
    "'",
    "\"\"\"",
    "\n",
    "\n",
    "\n",
    " ",
    "\t",
    "#",
    "\\",
    "\r\n",
    "\u{0}",
    "ü",
    "name",
    "description",
    "kind",
    "workload",
    "run",
    "model",
    "models",
    "concurrency",
    "trials",
    "warmup",
    "duration",
    "mode",
    "rate",
    "trial_timeout",
    "max_error_rate",
    "pool_size",
    "latency",
    "payload",
    "command",
    "worker",
    "runs",
    "ready",
    "host",
    "\"sleep\"",
    "\"tcp-echo\"",
    "\"x\"",
    "\"threads\"",
    "\"open\"",
    "\"10ms\"",
    "\"0s\"",
    "\"1KiB\"",
    "\"{port}\"",
    "1",
    "0",
    "-1",
    "4294967296",
    "1e400",
    "1.5",
    "true",
    "name = \"f\"\n",
    "[[workload]]\nkind = \"sleep\"\n",
    "[run]\n",
];

fn token_soup() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..80).prop_map(|t| t.concat().into_bytes())
}

fn temp() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temp dir")
}

// ---------------------------------------------------------------------------------------
// In-process random tests
// ---------------------------------------------------------------------------------------

#[test]
fn arbitrary_bytes_never_panic_and_errors_point_into_the_file() {
    let dir = temp();
    let path = dir.path().join("bytes.toml");
    let bytes = prop::collection::vec(any::<u8>(), 0..600);
    let strategy = prop_oneof![bytes, token_soup()];
    fuzz("bytes", 0.2, strategy, |b| {
        parse_checked(&b, &path).map(drop)
    });
}

#[test]
fn mutated_shipped_scenarios_never_panic_and_errors_point_into_the_file() {
    let dir = temp();
    let scenarios = shipped();
    // Every shipped scenario is accepted as it is: the mutations start from good files.
    for (name, text) in &scenarios {
        let path = dir.path().join(name);
        let got = parse_checked(text, &path).unwrap();
        assert_eq!(got, Outcome::Accepted, "{name}");
    }
    let strategy = (any::<Index>(), prop::collection::vec(mutation(), 1..5));
    let rejected = AtomicU64::new(0);
    let n = fuzz("mutations", 0.4, strategy, |(i, ms)| {
        let (name, text) = &scenarios[i.index(scenarios.len())];
        let mut src = text.clone();
        for m in &ms {
            mutate(&mut src, m);
        }
        let path = dir.path().join(name);
        if let Outcome::Rejected(_) = parse_checked(&src, &path)? {
            rejected.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    });
    say(&format!(
        "fuzz mutations: {} of {n} rejected",
        rejected.load(Ordering::Relaxed)
    ));
}

// ---------------------------------------------------------------------------------------
// The edges
// ---------------------------------------------------------------------------------------

/// What an edge must give: refused at a line, or either (accepted or refused: what a
/// run would do with it is not this harness's question).
#[derive(Clone, Copy, Debug)]
enum Expect {
    RejectedAt(usize),
    Rejected,
    Either,
}

fn run_key(kv: &str) -> String {
    format!("name = \"edge\"\n[run]\n{kv}\n[[workload]]\nkind = \"sleep\"\n")
}

fn workload_key(kind: &str, kv: &str) -> String {
    format!(
        "name = \"edge\"\n[run]\nmodels = [\"threads\"]\n[[workload]]\nkind = \"{kind}\"\n{kv}\n"
    )
}

fn nested(open: &str, close: &str, n: usize) -> String {
    format!("{}1{}", open.repeat(n), close.repeat(n))
}

/// 10 MB of `[[workload]]` tables, the last one `last`.
fn many_workloads(last: &str) -> String {
    let table = "[[workload]]\nkind = \"sleep\"\nlatency = \"10ms\"\n";
    let mut s = String::from("name = \"big\"\n[run]\nmodels = [\"threads\"]\nconcurrency = [1]\n");
    while s.len() < 10_000_000 {
        s += table;
    }
    s + last
}

fn edges() -> Vec<(&'static str, Vec<u8>, Expect)> {
    use Expect::*;
    let s = |t: String| t.into_bytes();
    vec![
        ("concurrency 0", s(run_key("concurrency = [0]")), RejectedAt(3)),
        ("concurrency 2^32", s(run_key("concurrency = [4294967296]")), RejectedAt(3)),
        ("concurrency 10^12", s(run_key("concurrency = [1000000000000]")), RejectedAt(3)),
        ("concurrency -1", s(run_key("concurrency = [-1]")), RejectedAt(3)),
        ("concurrency 1.5", s(run_key("concurrency = [1.5]")), RejectedAt(3)),
        ("concurrency empty", s(run_key("concurrency = []")), RejectedAt(3)),
        ("concurrency twice", s(run_key("concurrency = [1, 1]")), RejectedAt(3)),
        (
            "a workload's concurrency 2^32",
            s(workload_key("sleep", "concurrency = [4294967296]")),
            RejectedAt(6),
        ),
        ("trials 0", s(run_key("trials = 0")), RejectedAt(3)),
        ("trials 10^12", s(run_key("trials = 1000000000000")), RejectedAt(3)),
        ("trials i64 max", s(run_key("trials = 9223372036854775807")), RejectedAt(3)),
        ("trials past i64", s(run_key("trials = 9223372036854775808")), RejectedAt(3)),
        ("pool_size 2^32", s(run_key("pool_size = 4294967296")), RejectedAt(3)),
        ("event_loops 0", s(run_key("event_loops = 0")), RejectedAt(3)),
        ("duration 0s", s(run_key("duration = \"0s\"")), RejectedAt(3)),
        ("duration 1e9s", s(run_key("duration = \"1e9s\"")), RejectedAt(3)),
        ("duration -1s", s(run_key("duration = \"-1s\"")), RejectedAt(3)),
        ("warmup -1s", s(run_key("warmup = \"-1s\"")), RejectedAt(3)),
        ("warmup 0s", s(run_key("warmup = \"0s\"")), Either),
        ("duration a number", s(run_key("duration = 3")), RejectedAt(3)),
        ("duration no unit", s(run_key("duration = \"3\"")), RejectedAt(3)),
        ("duration 1e9 seconds", s(run_key("duration = \"1000000000s\"")), RejectedAt(3)),
        ("duration a week", s(run_key("duration = \"168h\"")), Either),
        ("warmup 8 days", s(run_key("warmup = \"192h\"")), RejectedAt(3)),
        ("trial_timeout 8 days", s(run_key("trial_timeout = \"192h\"")), RejectedAt(3)),
        (
            "duration past Duration",
            s(run_key("duration = \"99999999999999999999999h\"")),
            Either,
        ),
        (
            "warmup plus duration past Duration, with a trial_timeout",
            s(run_key(
                "warmup = \"10000000000000000000s\"\nduration = \"10000000000000000000s\"\ntrial_timeout = \"1s\"",
            )),
            Rejected,
        ),
        (
            "warmup plus duration past Duration",
            s(run_key("warmup = \"10000000000000000000s\"\nduration = \"10000000000000000000s\"")),
            Rejected,
        ),
        ("trial_timeout 1ns", s(run_key("trial_timeout = \"1ns\"")), RejectedAt(3)),
        ("rate 0", s(run_key("mode = \"open\"\nrate = 0")), RejectedAt(4)),
        ("rate nan", s(run_key("mode = \"open\"\nrate = nan")), RejectedAt(4)),
        ("rate inf", s(run_key("mode = \"open\"\nrate = inf")), RejectedAt(4)),
        ("rate 1e308", s(run_key("mode = \"open\"\nrate = 1e308")), Either),
        ("open without a rate", s(run_key("mode = \"open\"")), RejectedAt(3)),
        ("max_error_rate 2", s(run_key("max_error_rate = 2")), RejectedAt(3)),
        ("max_error_rate nan", s(run_key("max_error_rate = nan")), RejectedAt(3)),
        ("models empty", s(run_key("models = []")), RejectedAt(3)),
        ("models twice", s(run_key("models = [\"threads\", \"threads\"]")), RejectedAt(3)),
        (
            "payload past memory",
            s(workload_key("tcp-echo", "payload = \"99999999999GiB\"")),
            Either,
        ),
        (
            "payload past u64",
            s(workload_key("tcp-echo", "payload = \"99999999999999999999GiB\"")),
            Either,
        ),
        ("payload -1KiB", s(workload_key("tcp-echo", "payload = \"-1KiB\"")), RejectedAt(6)),
        ("payload nan", s(workload_key("tcp-echo", "payload = \"nanB\"")), Either),
        (
            "latency past Duration",
            s(workload_key("sleep", "latency = \"99999999999999999999999h\"")),
            Either,
        ),
        ("files 2^32", s(workload_key("disk-read", "files = 4294967296")), RejectedAt(6)),
        ("rows -1", s(workload_key("postgres", "rows = -1")), RejectedAt(6)),
        ("block_every 10^12", s(workload_key("sleep", "block_every = 1000000000000")), RejectedAt(6)),
        ("unknown key", s(workload_key("sleep", "latncy = \"1ms\"")), RejectedAt(6)),
        ("no kind", s("name = \"x\"\n[[workload]]\nlatency = \"1ms\"\n".into()), RejectedAt(2)),
        ("empty file", Vec::new(), RejectedAt(1)),
        ("only a comment", s("# nothing\n".into()), RejectedAt(1)),
        ("no workload", s("name = \"x\"\n".into()), RejectedAt(1)),
        ("empty name", s("name = \"\"\n[[workload]]\nkind = \"sleep\"\n".into()), RejectedAt(1)),
        ("a NUL byte", b"\0".to_vec(), RejectedAt(1)),
        ("4 KiB of NUL bytes", vec![0; 4096], RejectedAt(1)),
        ("NUL in a string", s(run_key("name2 = \"a\0b\"")), RejectedAt(3)),
        ("not UTF-8", vec![b'n', 0xff, 0xfe, b'\n'], Rejected),
        ("a BOM", s(format!("\u{feff}{}", run_key("trials = 1"))), Either),
        ("CR line ends", s(run_key("trials = 0").replace('\n', "\r\n")), RejectedAt(3)),
        ("a lone CR", s(run_key("trials = 1") + "\r"), Either),
        ("a CR in a line", s(run_key("trials = 1\rwarmup = \"1s\"")), RejectedAt(3)),
        (
            "10,000 nested arrays in a workload",
            s(workload_key("sleep", &format!("x = {}", nested("[", "]", 10_000)))),
            RejectedAt(6),
        ),
        (
            "10,000 nested arrays at the top",
            s(format!("x = {}\n", nested("[", "]", 10_000))),
            RejectedAt(1),
        ),
        (
            "10,000 nested inline tables in a workload",
            s(workload_key("sleep", &format!("x = {}", nested("{a = ", "}", 10_000)))),
            RejectedAt(6),
        ),
        (
            "10,000 nested inline tables in [run]",
            s(run_key(&format!("trials = {}", nested("{a = ", "}", 10_000)))),
            RejectedAt(3),
        ),
        (
            "a 10,000-part dotted key",
            s(workload_key("sleep", &format!("{} = 1", vec!["a"; 10_000].join(".")))),
            RejectedAt(6),
        ),
        (
            "a 10,000-part table header",
            s(format!("name = \"x\"\n[{}]\n", vec!["a"; 10_000].join("."))),
            RejectedAt(2),
        ),
        (
            "10,000 nested arrays unclosed",
            s(format!("name = \"x\"\nx = {}", "[".repeat(10_000))),
            RejectedAt(2),
        ),
        (
            "a 10 MB name",
            s(format!("name = \"{}\"\n[[workload]]\nkind = \"sleep\"\n", "a".repeat(10_000_000))),
            Either,
        ),
        ("10 MB of [[workload]] tables", s(many_workloads("")), Either),
        (
            "10 MB of [[workload]] tables, the last one bad",
            s(many_workloads("[[workload]]\nkind = \"sleep\"\nlatency = \"-1s\"\n")),
            Rejected,
        ),
        (
            "a model without a command",
            s("name = \"x\"\n[[model]]\nname = \"m\"\n[[workload]]\nkind = \"sleep\"\n".into()),
            RejectedAt(2),
        ),
        (
            "a model with an empty command",
            s("name = \"x\"\n[[model]]\nname = \"m\"\ncommand = []\n[[workload]]\nkind = \"sleep\"\n".into()),
            RejectedAt(4),
        ),
        (
            "a model with an unknown placeholder",
            s("name = \"x\"\n[[model]]\nname = \"m\"\ncommand = [\"{nope\", \"}{\", \"{x}\"]\n[[workload]]\nkind = \"sleep\"\n".into()),
            RejectedAt(4),
        ),
        (
            "a model named like iobench's",
            s("name = \"x\"\n[[model]]\nname = \"threads\"\nworker = [\"w\"]\nruns = [\"sleep\"]\n[[workload]]\nkind = \"sleep\"\n".into()),
            RejectedAt(3),
        ),
        (
            "a model ready on an empty line",
            s("name = \"x\"\n[[model]]\nname = \"m\"\ncommand = [\"c\"]\nready = \"line:\"\n[[workload]]\nkind = \"sleep\"\n".into()),
            RejectedAt(5),
        ),
    ]
}

/// The lines of the message of a scenario that [`parse_checked`] refused.
fn rejected_line(e: &ScenarioError) -> Option<usize> {
    e.location.map(|(l, _)| l)
}

#[test]
fn edges_never_panic_and_errors_point_at_the_mistake() {
    let dir = temp();
    let start = Instant::now();
    let mut bad = Vec::new();
    let edges = edges();
    for (i, (name, src, expect)) in edges.iter().enumerate() {
        let path = dir.path().join(format!("edge-{i}.toml"));
        let t = Instant::now();
        let got = parse_checked(src, &path);
        let took = t.elapsed();
        let verdict = match (&got, expect) {
            (Err(e), _) => Some(format!("{e}")),
            (Ok(Outcome::Elsewhere), _) => {
                say(&format!(
                    "edge `{name}`: panicked in src/units.rs (left to its fix)"
                ));
                None
            }
            (Ok(Outcome::Accepted), Expect::RejectedAt(_) | Expect::Rejected) => {
                Some("accepted".into())
            }
            (Ok(Outcome::Rejected(e)), Expect::RejectedAt(l)) if rejected_line(e) != Some(*l) => {
                Some(format!("refused at the wrong line, expected {l}:\n{e}"))
            }
            _ => None,
        };
        if took > Duration::from_secs(20) {
            bad.push(format!("`{name}` took {took:?}"));
        }
        if let Some(v) = verdict {
            bad.push(format!("`{name}`: {v}"));
        }
    }
    say(&format!(
        "fuzz edges: {} executions in {:.1} s",
        edges.len(),
        start.elapsed().as_secs_f64()
    ));
    assert!(bad.is_empty(), "{}", bad.join("\n\n"));
}

// ---------------------------------------------------------------------------------------
// The binary
// ---------------------------------------------------------------------------------------

/// Does `stderr` hold `path:LINE:COL:`?
fn names_line_and_col(stderr: &str, path: &Path) -> bool {
    let p = format!("{}:", path.display());
    stderr.match_indices(&p).any(|(at, _)| {
        let rest = &stderr[at + p.len()..];
        let mut parts = rest.splitn(3, ':');
        let digits = |s: Option<&str>| {
            s.is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        };
        digits(parts.next()) && digits(parts.next()) && parts.next().is_some()
    })
}

#[test]
fn the_binary_refuses_malformed_edges_with_exit_2_and_file_line_col() {
    let start = Instant::now();
    let picks = [
        "concurrency 0",
        "concurrency 2^32",
        "concurrency 10^12",
        "trials 10^12",
        "duration 0s",
        "duration 1e9s",
        "duration -1s",
        "warmup plus duration past Duration, with a trial_timeout",
        "empty file",
        "4 KiB of NUL bytes",
        "10,000 nested arrays in a workload",
        "10,000 nested inline tables in [run]",
    ];
    let edges = edges();
    let mut n = 0;
    for pick in picks {
        let (_, src, _) = edges.iter().find(|(name, _, _)| *name == pick).expect(pick);
        let (dir, path, out) = common::scenario("");
        std::fs::write(&path, src).unwrap();
        let run = common::run_command(&path, &out)
            .output()
            .expect("iobench runs");
        let list = common::bin()
            .arg("list")
            .arg(&path)
            .output()
            .expect("iobench runs");
        for (what, output) in [("run", run), ("list", list)] {
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(2), "`{pick}`, {what}:\n{stderr}");
            assert!(!stderr.contains("panicked"), "`{pick}`, {what}:\n{stderr}");
            assert!(
                names_line_and_col(&stderr, &path),
                "`{pick}`, {what}: no {}:LINE:COL: in\n{stderr}",
                path.display()
            );
            n += 1;
        }
        assert!(!out.exists(), "`{pick}`: a run folder was written");
        drop(dir);
    }
    say(&format!(
        "fuzz binary edges: {n} executions in {:.1} s",
        start.elapsed().as_secs_f64()
    ));
}

// ---------------------------------------------------------------------------------------
// The command line
// ---------------------------------------------------------------------------------------

/// Words of iobench's command line, and values for them. No target's name (echo, http,
/// dns): `serve KIND` would serve until killed. Every scenario the words name is malformed
/// or missing, and the folder the commands run in holds a malformed scenarios/quick.toml
/// and scenarios/ci.toml (the defaults of `run` and `ab`), so that no command starts a
/// benchmark.
const WORDS: &[&str] = &[
    "run",
    "list",
    "merge",
    "report",
    "compare",
    "ab",
    "trial",
    "sut",
    "worker",
    "serve",
    "help",
    "--out",
    "--models",
    "--shard",
    "--concurrency",
    "--trials",
    "--warmup",
    "--duration",
    "--target",
    "--workloads",
    "--save-baseline",
    "--seed",
    "--export",
    "--partial",
    "--threshold",
    "--significance",
    "--max-error-rate",
    "--gate-all",
    "--fail-on-inconclusive",
    "--a",
    "--b",
    "--allow-missing",
    "--json",
    "--baseline",
    "--cell",
    "--trial",
    "--model",
    "--spec",
    "--listen",
    "--watch-stdin",
    "--count",
    "--help",
    "-h",
    "--version",
    "-V",
    "--",
    "-",
    "--nope",
    "-x",
    "bad.toml",
    "missing.toml",
    "folder",
    "folder/",
    "",
    " ",
    "0",
    "1",
    "-1",
    "4294967296",
    "18446744073709551616",
    "1e9",
    "0s",
    "-1s",
    "1s",
    "1e9s",
    "99999999999999999999999h",
    "10000000000000000000s",
    "threads",
    "fibers",
    "sleep",
    "nap",
    "1,2,3",
    "0,1",
    ",",
    "a,,b",
    "0/0",
    "1/0",
    "5/2",
    "0/1",
    "auto",
    "env:NOPE",
    "env:",
    "bmf",
    "csv",
    "github-action-benchmark",
    "x.json",
    "{}",
    "[]",
    "{\"id\": 1}",
    "nan",
    "inf",
    "0.5",
    "2",
    "127.0.0.1:0",
    "::",
    "[::1]:0",
    "--out=folder",
    "--trials=0",
    "--shard=0/0",
    "--models=",
    "--concurrency=1,0",
    "ü",
    "main",
    "../x",
    "reports/latest",
];

const SUBCOMMANDS: &[&str] = &[
    "run", "list", "merge", "report", "compare", "ab", "trial", "sut", "worker", "serve", "help",
];

fn argv() -> impl Strategy<Value = Vec<std::ffi::OsString>> {
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;
    let word = || {
        prop_oneof![
            8 => prop::sample::select(WORDS).prop_map(OsString::from),
            1 => prop::collection::vec(any::<char>(), 0..12)
                // No NUL: an argument cannot hold one.
                .prop_map(|c| c.into_iter().map(|c| if c == '\0' { '0' } else { c }).collect::<String>().into()),
            1 => prop::collection::vec(1u8..=255, 0..8).prop_map(OsString::from_vec),
        ]
    };
    let flags: Vec<&str> = WORDS
        .iter()
        .copied()
        .filter(|w| w.starts_with('-'))
        .collect();
    let flag = prop::sample::select(flags);
    // A subcommand, then flags with a value each, then a few words: past clap's checks
    // more often than words at random.
    let shaped = (
        prop::sample::select(SUBCOMMANDS),
        prop::collection::vec((flag, word()), 0..4),
        prop::collection::vec(word(), 0..3),
    )
        .prop_map(|(sub, flags, rest)| {
            let mut v = vec![OsString::from(sub)];
            for (f, w) in flags {
                v.push(f.into());
                v.push(w);
            }
            v.extend(rest);
            v
        });
    prop_oneof![prop::collection::vec(word(), 0..7), shaped]
}

/// A folder whose default scenarios are malformed, and `bad.toml` and `folder/` in it.
fn cli_folder() -> tempfile::TempDir {
    let dir = temp();
    let bad = "name = \"bad\"\n[run]\ntrials = 0\n[[workload]]\nkind = \"sleep\"\n";
    std::fs::create_dir_all(dir.path().join("scenarios")).unwrap();
    std::fs::create_dir_all(dir.path().join("folder")).unwrap();
    for f in ["scenarios/quick.toml", "scenarios/ci.toml", "bad.toml"] {
        std::fs::write(dir.path().join(f), bad).unwrap();
    }
    dir
}

/// `iobench ARGS` in `dir`, killed (its process group) after `limit`: the exit code (None:
/// killed by a signal) and stderr.
fn iobench_in(
    dir: &Path,
    args: &[std::ffi::OsString],
    limit: Duration,
) -> (Option<i32>, String, bool) {
    use std::os::unix::process::CommandExt;
    let err = dir.join(format!("stderr-{:?}", std::thread::current().id()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_iobench"))
        .args(args)
        .current_dir(dir)
        .env_remove("JOB_COMPLETION_INDEX")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err).unwrap())
        .process_group(0)
        .spawn()
        .expect("iobench starts");
    let deadline = Instant::now() + limit;
    let (status, timed_out) = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break (status, false);
        }
        if Instant::now() > deadline {
            // SAFETY: a plain syscall on the group this test made.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            break (child.wait().expect("wait"), true);
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let stderr = String::from_utf8_lossy(&std::fs::read(&err).unwrap_or_default()).into_owned();
    (status.code(), stderr, timed_out)
}

/// clap's own errors end with this line.
fn clap_error(stderr: &str) -> bool {
    stderr.contains("For more information, try '--help'")
}

#[test]
fn random_command_lines_parse_without_panicking() {
    use clap::Parser;
    quiet_known_panics();
    fuzz("cli-parse", 0.1, argv(), |args| {
        let parsed = std::panic::catch_unwind(|| {
            let _ = iobench::cli::Cli::try_parse_from(
                std::iter::once(std::ffi::OsString::from("iobench")).chain(args.iter().cloned()),
            );
        });
        match parsed {
            Ok(()) => Ok(()),
            Err(p) if elsewhere(&panic_message(&*p)) => {
                ELSEWHERE_SEEN.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(p) => Err(TestCaseError::fail(format!(
                "panicked: {}",
                panic_message(&*p)
            ))),
        }
    });
}

#[test]
fn random_command_lines_never_panic_the_binary() {
    let dir = cli_folder();
    let elsewhere_seen = AtomicU64::new(0);
    let codes: [AtomicU64; 5] = Default::default();
    fuzz("cli-binary", 0.3, argv(), |args| {
        let (code, stderr, timed_out) = iobench_in(dir.path(), &args, Duration::from_secs(20));
        codes[code.map_or(4, |c| c.clamp(0, 4) as usize)].fetch_add(1, Ordering::Relaxed);
        let panicked = code == Some(101) || stderr.contains("panicked");
        if panicked && elsewhere(&stderr) {
            elsewhere_seen.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        let fail = |why: &str| {
            Err(TestCaseError::fail(format!(
                "{why}, exit {code:?}:\n{stderr}"
            )))
        };
        if timed_out {
            return fail("still running after 20 s");
        }
        if panicked {
            return fail("panicked");
        }
        match code {
            None => fail("killed by a signal"),
            Some(c) if clap_error(&stderr) && c != 2 => {
                fail("a command-line error that does not exit 2")
            }
            Some(0..=3) => Ok(()),
            Some(_) => fail("an exit code iobench does not give"),
        }
    });
    let codes: Vec<u64> = codes.iter().map(|c| c.load(Ordering::Relaxed)).collect();
    say(&format!(
        "fuzz cli-binary: exit 0, 1, 2, 3, other: {codes:?}; known panics left to src/units.rs: {}",
        elsewhere_seen.load(Ordering::Relaxed)
    ));
}

#[test]
fn the_command_line_definition_is_sound() {
    use clap::CommandFactory;
    iobench::cli::Cli::command().debug_assert();
}
