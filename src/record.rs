//! The trial record: one JSON line per trial in `results.jsonl`.
//!
//! Every figure carries its unit in its name. A figure that could not be measured is
//! `null`, never zero or NaN. Raw data (`Tally`, `SamplerReport`) becomes a record here.
//!
//! A results.jsonl read back may come from anywhere (another machine, another version, a
//! hand edit): its lines are read through `read_line` and `Results::read`, which check each
//! record (`TrialRecord::check`) and name each line they leave out by file and line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::measure::histogram::LatencyUs;
use crate::op::ErrorKind;
use crate::plan::RunCell;

/// Version of the record layout; bumped when a field changes meaning.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrialStatus {
    Ok,
    Failed,
    Skipped,
}

/// What one wrk run measured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WrkFigures {
    pub requests_per_sec: f64,
    pub requests: u64,
    pub latency_p50_us: f64,
    pub latency_p75_us: f64,
    pub latency_p90_us: f64,
    pub latency_p99_us: f64,
    /// Socket errors (connect, read, write, timeout) and non-2xx/3xx responses.
    pub errors: u64,
    /// wrk's run length in whole seconds (it takes no finer duration).
    pub secs: u64,
}

/// What one trial measured. Every field is `None` on a failed trial.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    /// Verified ops that completed inside the window.
    pub ops: Option<u64>,
    /// Length of the measured window, in seconds.
    pub window_secs: Option<f64>,
    /// Verified ops per second of window.
    pub throughput_ops_per_sec: Option<f64>,
    /// What a perfect model would reach at this concurrency, in ops per second.
    pub ideal_ops_per_sec: Option<f64>,
    /// throughput / ideal.
    pub efficiency: Option<f64>,
    /// Percentiles of verified ops, in microseconds: in closed mode from the op's start, in
    /// open mode from when it was due (queueing included).
    pub latency_us: Option<LatencyUs>,
    /// Every verified op's latency in nanoseconds: the HdrHistogram (3 significant digits),
    /// in its V2 serialization with DEFLATE, base64 (`HISTFAAA…`, as HdrHistogram's own
    /// tools read it). A cell's percentiles come from its trials' histograms merged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_histogram: Option<String>,
    /// Open mode: percentiles from each op's actual start (queueing left out), in
    /// microseconds; never below `latency_us`.
    pub latency_uncorrected_us: Option<LatencyUs>,
    /// Open mode: the rate asked for, in ops per second (`throughput_ops_per_sec` is the
    /// achieved rate).
    pub target_rate_ops_per_sec: Option<f64>,
    /// Open mode: ops that started more than 1 ms after they were due (the model could
    /// not start them on time).
    pub late_start_ops: Option<u64>,
    /// User CPU time of the whole process tree during the window, in seconds (null for
    /// server workloads, whose CPU is read from /proc without the split).
    pub cpu_user_secs: Option<f64>,
    /// System CPU time of the same tree during the window, in seconds.
    pub cpu_sys_secs: Option<f64>,
    /// CPU seconds of the measured tree during the window: the trial's (user + system), or
    /// for server workloads the server's.
    #[serde(default)]
    pub cpu_secs: Option<f64>,
    /// (user + system) CPU seconds per 1,000 verified ops.
    pub cpu_secs_per_1k_ops: Option<f64>,
    pub ctx_switches_voluntary: Option<u64>,
    pub ctx_switches_involuntary: Option<u64>,
    /// Peak resident set of the process tree during the window (sum over processes), in bytes.
    pub peak_rss_bytes: Option<u64>,
    /// Peak proportional set of the process tree during the window, in bytes.
    pub peak_pss_bytes: Option<u64>,
    /// Resident set before workers, tasks, processes or connections exist, in bytes.
    pub idle_rss_bytes: Option<u64>,
    /// Proportional set at the same moment, in bytes.
    pub idle_pss_bytes: Option<u64>,
    /// (peak PSS − idle PSS) / ops in flight, in bytes. Ops in flight are the model's
    /// `workers` (threads, pool jobs, processes or tasks: min(C, cap) where the model caps
    /// them); a server's are the client's C connections.
    pub mem_per_op_bytes: Option<f64>,
    /// Peak thread count of the process tree, the harness's sampler thread included.
    pub peak_threads: Option<u64>,
    /// Peak process count of the tree, the trial process included.
    pub peak_processes: Option<u64>,
    /// Threads of the harness itself inside `peak_threads` (the sampler).
    pub harness_threads: Option<u64>,
    /// Ops that failed during the window (every kind).
    #[serde(default)]
    pub failed_ops: Option<u64>,
    /// failed / (verified + failed) ops during the window.
    #[serde(default)]
    pub error_rate: Option<f64>,
    /// Failed ops by kind, during the window.
    pub errors: BTreeMap<ErrorKind, u64>,
    /// The first message seen for each error kind.
    pub error_samples: BTreeMap<ErrorKind, String>,
    /// Mean ops in flight during the window (Little's law: ops × mean latency / window; in
    /// open mode the uncorrected latency, from each op's actual start).
    pub achieved_concurrency: Option<f64>,
    /// Workers the model ran: threads, pool jobs, processes or tasks.
    pub workers: Option<u64>,
    /// Time from trial start to the opening of the window (building runtime, workers,
    /// sessions), in seconds; not part of any figure above.
    pub setup_secs: Option<f64>,
    /// CPU time the harness's sampler thread used during the window, in seconds.
    pub sampler_cpu_secs: Option<f64>,
    /// CPU time the embedded target used during the window, in seconds (null when the
    /// target is not embedded): a busy target means the target, not the model, was the limit.
    pub target_cpu_secs: Option<f64>,
    /// How many times memory was sampled during the window.
    pub memory_samples: Option<u64>,
    /// Server workloads: CPU seconds the load generator (the trial process) used during
    /// the window; the memory, thread and CPU figures above are the server's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_cpu_secs: Option<f64>,
    /// Server workloads with `load_generator = "wrk"`: what wrk measured against the same
    /// server after iobench's window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wrk: Option<WrkFigures>,
    /// iobench's throughput / wrk's requests per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iobench_to_wrk_ratio: Option<f64>,
    /// Percentiles of the failed ops' latencies, in microseconds (null when none failed):
    /// a timeout's 10 s are here, not missing from the tail.
    #[serde(default)]
    pub error_latency_us: Option<LatencyUs>,
    /// Ops whose request was sent again on a new connection after a reused one was found
    /// closed before any byte of the reply (counted inside the window; the op's latency
    /// holds both tries).
    #[serde(default)]
    pub retried_ops: Option<u64>,
    /// Client connections opened during the measured window.
    #[serde(default)]
    pub connects: Option<u64>,
    /// Open mode: ops due inside the window that had not started when it ended. They are
    /// in `latency_us` (and its histogram) with the latency reached at the window's end, a
    /// lower bound, and not in `ops` (they were not verified).
    #[serde(default)]
    pub dropped_ops: Option<u64>,
    /// Open mode: mean time by which an op that waited for its due time woke late, in
    /// microseconds: the model's pacing error (its runtime's timer), part of the corrected
    /// latency (tokio's timer rounds up to the millisecond; a blocking nanosleep does not).
    #[serde(default)]
    pub pace_lag_us: Option<f64>,
    /// Ops in flight for the whole measured window: started before it and not finished at
    /// its end (a client a server's fixed workers never served, or an op longer than the
    /// window). They are in `latency_us` at the latency reached at the window's end, a
    /// lower bound, and not in `ops`.
    #[serde(default)]
    pub unfinished_ops: Option<u64>,
    /// Database workloads: the connections the trial had open to the server during the
    /// window (the larger of two counts, at its middle and near its end), counted on the
    /// server (`pg_stat_activity`, Redis `CLIENT LIST`) by
    /// the trial's connection name; null for other workloads, or where it could not be
    /// counted.
    #[serde(default)]
    pub db_connections: Option<u64>,
}

/// One line of `results.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrialRecord {
    pub schema: u32,
    pub cell: RunCell,
    /// Index of this trial within its cell, from 0.
    pub trial: u32,
    pub status: TrialStatus,
    /// Why the trial failed or was skipped.
    pub reason: Option<String>,
    /// Wall-clock start, RFC 3339 UTC.
    pub started_at: String,
    #[serde(flatten)]
    pub figures: Figures,
}

/// The highest throughput a record may hold, in ops per second: far above any machine's.
pub const MAX_OPS_PER_SEC: f64 = 1e12;
/// The highest efficiency a record may hold: slightly above 1 happens (an open loop
/// catching up, a latency shorter than its nominal one), far above is not measured.
pub const MAX_EFFICIENCY: f64 = 100.0;
/// The highest count (ops, bytes, threads) a figure may hold: a week at
/// `MAX_OPS_PER_SEC` is below it.
const MAX_COUNT: f64 = 1e18;
/// The longest latency a figure may hold, in microseconds (about 11 days; no trial's
/// window is longer than a week).
const MAX_LATENCY_US: f64 = 1e12;
/// The most seconds (of window, setup or CPU) a figure may hold: a week on 1,000 cores.
const MAX_SECS: f64 = 1e9;

/// The range a figure's value can take, by its path in the record (`latency_us.p99`),
/// which is also its key in summary.json: a value outside it was not measured, so the
/// record or summary holding it is not trusted.
pub fn figure_range(path: &str) -> (f64, f64) {
    let leaf = path.rsplit('.').next().unwrap_or(path);
    let head = path.split('.').next().unwrap_or(path);
    match path {
        "efficiency" => (0.0, MAX_EFFICIENCY),
        "error_rate" => (0.0, 1.0),
        "throughput_ops_per_sec" | "target_rate_ops_per_sec" | "wrk.requests_per_sec" => {
            (0.0, MAX_OPS_PER_SEC)
        }
        // Peak PSS below the idle one gives a negative share.
        "mem_per_op_bytes" => (-MAX_COUNT, MAX_COUNT),
        "cpu_secs_per_1k_ops" | "wrk.secs" => (0.0, MAX_SECS),
        _ if head.ends_with("_us") || leaf.ends_with("_us") => (0.0, MAX_LATENCY_US),
        _ if leaf.ends_with("_secs") => (0.0, MAX_SECS),
        _ => (0.0, MAX_COUNT),
    }
}

/// Why `value` cannot be one of the figure at `path` (`figure_range`), if it cannot: e.g.
/// "is -5, below 0".
pub fn out_of_range(path: &str, value: f64) -> Option<String> {
    let (lo, hi) = figure_range(path);
    let show = |x: f64| match x.abs() {
        a if a != 0.0 && !(1e-3..1e6).contains(&a) => format!("{x:e}"),
        _ => x.to_string(),
    };
    if !value.is_finite() {
        Some(format!("is {value}, not a number"))
    } else if value < lo {
        Some(format!("is {}, below {}", show(value), show(lo)))
    } else if value > hi {
        Some(format!("is {}, above {}", show(value), show(hi)))
    } else {
        None
    }
}

/// Numeric leaves of `v` as (path, value), nested objects' paths joined with a dot.
pub fn numeric_leaves(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, f64)>) {
    use serde_json::Value;
    match v {
        Value::Number(n) => {
            if let Some(x) = n.as_f64() {
                out.push((prefix.to_string(), x));
            }
        }
        Value::Object(m) => {
            for (k, v) in m {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                numeric_leaves(&path, v, out);
            }
        }
        _ => {}
    }
}

impl TrialRecord {
    /// Whether a record read back from a file can be trusted: of this binary's schema,
    /// every figure in its range (`figure_range`; a null one is not measured and stays
    /// null), its latency histogram readable. Every reader of results.jsonl calls it.
    pub fn check(&self) -> Result<(), String> {
        if self.schema != SCHEMA_VERSION {
            return Err(schema_mismatch(u64::from(self.schema)));
        }
        let v = serde_json::to_value(&self.figures).map_err(|e| e.to_string())?;
        let mut leaves = Vec::new();
        numeric_leaves("", &v, &mut leaves);
        for (path, x) in leaves {
            if let Some(why) = out_of_range(&path, x) {
                return Err(format!("{path} {why}"));
            }
        }
        if let Some(h) = &self.figures.latency_histogram {
            crate::measure::histogram::decode(h)?;
        }
        Ok(())
    }

    pub fn failed(
        cell: &RunCell,
        trial: u32,
        started_at: String,
        reason: impl Into<String>,
    ) -> Self {
        TrialRecord {
            schema: SCHEMA_VERSION,
            cell: cell.clone(),
            trial,
            status: TrialStatus::Failed,
            reason: Some(reason.into()),
            started_at,
            figures: Figures::default(),
        }
    }
}

fn schema_mismatch(found: u64) -> String {
    format!(
        "a record of schema {found}, this iobench reads schema {SCHEMA_VERSION} (another iobench version wrote it)"
    )
}

/// Why a line of results.jsonl is left out.
#[derive(Clone, Debug, PartialEq)]
pub enum Unreadable {
    /// A record of another layout (its `schema`): another iobench version wrote it.
    Schema(u64),
    /// Not a record (cut short, not JSON, a figure of the wrong type), or one whose
    /// figures cannot have been measured.
    Bad(String),
}

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unreadable::Schema(s) => f.write_str(&schema_mismatch(*s)),
            Unreadable::Bad(why) => f.write_str(why),
        }
    }
}

/// One line of results.jsonl as a record, checked (`TrialRecord::check`).
pub fn read_line(line: &str) -> Result<TrialRecord, Unreadable> {
    /// Its schema alone: a record of another version need not read as one of this.
    #[derive(Deserialize)]
    struct Schema {
        schema: Option<serde_json::Value>,
    }
    let bad = |what: &str, e: serde_json::Error| Unreadable::Bad(format!("{what}: {e}"));
    let peek: Schema =
        serde_json::from_str(line).map_err(|e| bad("could not be read (not JSON)", e))?;
    match peek.schema.as_ref().and_then(serde_json::Value::as_u64) {
        Some(s) if s != u64::from(SCHEMA_VERSION) => return Err(Unreadable::Schema(s)),
        _ => {}
    }
    let r: TrialRecord =
        serde_json::from_str(line).map_err(|e| bad("could not be read as a trial record", e))?;
    r.check()
        .map_err(|why| Unreadable::Bad(format!("cannot be trusted: {why}")))?;
    Ok(r)
}

/// A line of a results file left out, for a warning: `FILE:LINE: why`.
#[derive(Clone, Debug)]
pub struct Skipped {
    pub file: PathBuf,
    /// From 1.
    pub line: usize,
    pub why: Unreadable,
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.why)
    }
}

/// A results.jsonl read back: the records that can be trusted, each with its line's text,
/// and the lines left out.
#[derive(Debug, Default)]
pub struct Results {
    pub records: Vec<(String, TrialRecord)>,
    pub skipped: Vec<Skipped>,
}

impl Results {
    /// Reads `path` line by line (none there: no records), each line read and checked;
    /// a line that is not UTF-8 is left out, not the whole file.
    pub fn read(path: &Path) -> std::io::Result<Results> {
        let bytes = match std::fs::read(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Results::default()),
            r => r?,
        };
        let mut out = Results::default();
        for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
            let record = match std::str::from_utf8(line) {
                Ok(text) if text.trim().is_empty() => continue,
                Ok(text) => read_line(text).map(|r| (text.trim_end().to_string(), r)),
                Err(e) => Err(Unreadable::Bad(format!(
                    "could not be read (not UTF-8): {e}"
                ))),
            };
            match record {
                Ok(r) => out.records.push(r),
                Err(why) => out.skipped.push(Skipped {
                    file: path.to_path_buf(),
                    line: i + 1,
                    why,
                }),
            }
        }
        Ok(out)
    }
}

/// Now as an RFC 3339 UTC timestamp with seconds, e.g. `2026-11-25T00:31:07Z`.
pub fn utc_now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (y, mo, d, h, mi, s) = civil_from_unix(secs);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// Unix seconds to (year, month, day, hour, minute, second) in UTC.
pub fn civil_from_unix(secs: u64) -> (i64, u32, u32, u32, u32, u32) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        m,
        d,
        (rem / 3600) as u32,
        (rem % 3600 / 60) as u32,
        (rem % 60) as u32,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real run's records (the report's fixture), as JSON.
    fn fixture() -> Vec<serde_json::Value> {
        include_str!("../tests/fixtures/report/results.jsonl")
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn read(v: &serde_json::Value) -> Result<TrialRecord, Unreadable> {
        read_line(&v.to_string())
    }

    #[test]
    fn real_records_and_possible_figures_are_trusted() {
        let recs = fixture();
        for r in &recs {
            read(r).unwrap_or_else(|e| panic!("{e}: {r}"));
        }
        let ok = recs.iter().find(|r| r["status"] == "ok").unwrap().clone();
        for (key, value) in [
            ("efficiency", 1.04),
            ("mem_per_op_bytes", -4096.0),
            ("error_rate", 1.0),
            ("throughput_ops_per_sec", 2e9),
        ] {
            let mut r = ok.clone();
            r[key] = value.into();
            read(&r).unwrap_or_else(|e| panic!("{key} = {value}: {e}"));
        }
        let mut r = ok.clone();
        r["efficiency"] = serde_json::Value::Null;
        assert_eq!(
            read(&r).unwrap().figures.efficiency,
            None,
            "null stays null"
        );
    }

    #[test]
    fn figures_that_cannot_have_been_measured_are_not_trusted() {
        let ok = fixture().into_iter().find(|r| r["status"] == "ok").unwrap();
        for (path, value, says) in [
            (
                "throughput_ops_per_sec",
                1e300,
                "throughput_ops_per_sec is 1e300, above 1e12",
            ),
            ("efficiency", 250.0, "efficiency is 250, above 100"),
            ("error_rate", 1.5, "error_rate is 1.5, above 1"),
            ("window_secs", -0.5, "window_secs is -0.5, below 0"),
            ("latency_us.p99", -3.0, "latency_us.p99 is -3, below 0"),
            ("cpu_user_secs", -1.0, "cpu_user_secs is -1, below 0"),
            (
                "mem_per_op_bytes",
                -1e20,
                "mem_per_op_bytes is -1e20, below -1e18",
            ),
        ] {
            let mut r = ok.clone();
            let (head, leaf) = path
                .split_once('.')
                .map_or((path, None), |(h, l)| (h, Some(l)));
            match leaf {
                Some(l) => r[head][l] = value.into(),
                None => r[head] = value.into(),
            }
            match read(&r) {
                Err(Unreadable::Bad(why)) => assert!(why.contains(says), "{path}: {why}"),
                other => panic!("{path} = {value}: {other:?}"),
            }
        }
        let mut r = ok.clone();
        r["latency_histogram"] = "HISTFAAAnope".into();
        assert!(matches!(read(&r), Err(Unreadable::Bad(w)) if w.contains("histogram")));
        let mut r = ok.clone();
        r["schema"] = 2.into();
        r["a_field_of_schema_2"] = 0.into();
        assert_eq!(read(&r).unwrap_err(), Unreadable::Schema(2));
        let line = ok.to_string();
        for bad in [&line[..line.len() / 2], "", "[1, 2]", "NaN"] {
            assert!(matches!(read_line(bad), Err(Unreadable::Bad(_))), "{bad}");
        }
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_unix(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(civil_from_unix(1_795_567_867), (2026, 11, 25, 0, 51, 7));
        assert_eq!(civil_from_unix(951_782_400), (2000, 2, 29, 0, 0, 0));
    }
}
