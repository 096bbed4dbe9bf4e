//! The trial record: one JSON line per trial in `results.jsonl`.
//!
//! Every figure carries its unit in its name. A figure that could not be measured is
//! `null`, never zero or NaN. Raw data (`Tally`, `SamplerReport`) becomes a record here.

use std::collections::BTreeMap;

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

impl TrialRecord {
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

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_unix(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(civil_from_unix(1_795_567_867), (2026, 11, 25, 0, 51, 7));
        assert_eq!(civil_from_unix(951_782_400), (2000, 2, 29, 0, 0, 0));
    }
}
