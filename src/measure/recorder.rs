//! Where workers record each op: a latency histogram and error counts.
//!
//! # How it works
//! 1. The recorder is allocated before the idle memory sample, and every page of its
//!    histograms is written then (a histogram's counts are zeroed memory that the kernel
//!    maps only when first written), so its size is a fixed cost of the trial and never
//!    shows up as memory per in-flight op, whichever shards and buckets a model's ops touch.
//! 2. It holds a few shards, each a `Mutex<Tally>`. A worker records into the shard its
//!    index selects, so thousands of threads do not contend on one lock and an async loop
//!    pays for an uncontended lock only.
//! 3. After the window the shards are merged into one [`Tally`]. (Worker processes stream
//!    their latencies to the trial, which records them here.)

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::op::{ErrorKind, OpError, Timing};
use crate::sync::lock;

/// Highest latency the histogram resolves, in nanoseconds (one hour); longer ops saturate.
const MAX_NS: u64 = 3_600_000_000_000;

/// Ops recorded in one place: latencies of verified ops and counts of failed ones.
#[derive(Clone, Debug)]
pub struct Tally {
    /// Latency of every verified op, in nanoseconds.
    pub latency_ns: Histogram<u64>,
    /// Failed ops by kind, late starts and pacing lag.
    pub counts: OpCounts,
    /// Open mode: latency of verified ops from their actual start, in nanoseconds.
    pub uncorrected_ns: Option<Histogram<u64>>,
    /// Latency of every failed op, in nanoseconds (two significant digits: a tenth of the
    /// verified ops' histogram's size, and a timeout's tail needs no finer grain).
    pub error_ns: Histogram<u64>,
    /// Open mode: ops due inside the measured window that had not started when it ended.
    /// Each is in `latency_ns` with the latency it had reached by the window's end (a lower
    /// bound), so a saturated model's tail is not cut off; none is a verified op.
    pub dropped: u64,
    /// Ops in flight for the whole measured window (started before it, not finished at its
    /// end): in `latency_ns` at the latency reached at the end, a lower bound; none is a
    /// verified op.
    pub unfinished: u64,
    /// The latencies of the dropped and unfinished ops, summed (ns): what `latency_ns`
    /// holds beyond the verified ops.
    pub excluded_ns: u64,
}

/// What is counted of ops besides their latencies: failed ops by kind (with the first
/// message of each kind) and open mode's pacing. Every [`Tally`] keeps one; so does a worker
/// process's sink, which keeps no histogram and sends this to the trial whole at the end.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OpCounts {
    /// Failed ops by kind ([`ErrorKind::index`]); written as a map by kind's name
    /// (`{"timeout": 2}`), a kind left out being 0 (`docs/worker-protocol.md`).
    #[serde(with = "by_kind", default)]
    pub errors: [u64; ErrorKind::ALL.len()],
    /// The first message seen for each error kind, to explain a failure.
    #[serde(default)]
    pub first_error: BTreeMap<ErrorKind, String>,
    /// Open mode: ops started more than 1 ms after they were due.
    #[serde(default)]
    pub late_starts: u64,
    /// Open mode: how late ops that waited for their due time woke, summed (ns), and how
    /// many waited: each model's pacing error (its timer's precision), charged to the
    /// corrected latency.
    #[serde(default)]
    pub pace_lag_ns: u64,
    #[serde(default)]
    pub paced: u64,
}

/// [`OpCounts::errors`] as a map from kind to count.
mod by_kind {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::op::ErrorKind;

    const N: usize = ErrorKind::ALL.len();

    pub fn serialize<S: Serializer>(errors: &[u64; N], s: S) -> Result<S::Ok, S::Error> {
        let map: BTreeMap<ErrorKind, u64> = ErrorKind::ALL
            .iter()
            .filter(|k| errors[k.index()] > 0)
            .map(|&k| (k, errors[k.index()]))
            .collect();
        map.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u64; N], D::Error> {
        let map = BTreeMap::<ErrorKind, u64>::deserialize(d)?;
        let mut errors = [0; N];
        for (k, n) in map {
            errors[k.index()] = n;
        }
        Ok(errors)
    }
}

impl OpCounts {
    /// Counts what a finished op's timing says of its pacing.
    #[inline]
    pub fn timing(&mut self, timing: &Timing) {
        self.late_starts += u64::from(timing.late);
        if let Some(lag) = timing.pace_lag {
            self.pace_lag_ns += lag.as_nanos() as u64;
            self.paced += 1;
        }
    }

    /// Counts a failed op (its latency is recorded apart).
    #[inline]
    pub fn error(&mut self, e: OpError) {
        self.errors[e.kind.index()] += 1;
        self.first_error
            .entry(e.kind)
            .or_insert_with(|| e.message.into_owned());
    }

    /// Adds counts made elsewhere (another shard, a worker process).
    pub fn merge(&mut self, other: &OpCounts) {
        for (a, b) in self.errors.iter_mut().zip(other.errors) {
            *a += b;
        }
        for (k, m) in &other.first_error {
            self.first_error.entry(*k).or_insert_with(|| m.clone());
        }
        self.late_starts += other.late_starts;
        self.pace_lag_ns += other.pace_lag_ns;
        self.paced += other.paced;
    }

    pub fn error_ops(&self) -> u64 {
        self.errors.iter().sum()
    }

    /// Errors by kind, only the kinds that occurred.
    pub fn errors_by_kind(&self) -> BTreeMap<ErrorKind, u64> {
        ErrorKind::ALL
            .iter()
            .filter(|k| self.errors[k.index()] > 0)
            .map(|k| (*k, self.errors[k.index()]))
            .collect()
    }
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_NS, 3).expect("valid histogram bounds")
}

fn error_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_NS, 2).expect("valid histogram bounds")
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            latency_ns: histogram(),
            counts: OpCounts::default(),
            uncorrected_ns: None,
            error_ns: error_histogram(),
            dropped: 0,
            unfinished: 0,
            excluded_ns: 0,
        }
    }
}

impl Tally {
    #[inline]
    pub fn record(&mut self, timing: Timing, result: Result<(), OpError>) {
        self.counts.timing(&timing);
        let ns = timing.latency.as_nanos() as u64;
        match result {
            Ok(()) => self.record_ok_ns(ns, timing.service.map(|s| s.as_nanos() as u64)),
            Err(e) => {
                self.record_error_ns(ns);
                self.counts.error(e);
            }
        }
    }

    /// A failed op's latency (its error is counted in [`Tally::counts`]).
    #[inline]
    pub fn record_error_ns(&mut self, ns: u64) {
        self.error_ns.saturating_record(ns.max(1));
    }

    /// Open mode: an op due at `lag_ns` before the window's end that never started.
    #[inline]
    pub fn record_dropped_ns(&mut self, lag_ns: u64) {
        self.latency_ns.saturating_record(lag_ns.max(1));
        self.dropped += 1;
        self.excluded_ns += lag_ns;
    }

    /// An op in flight for the whole window, `lag_ns` old at its end.
    #[inline]
    pub fn record_unfinished_ns(&mut self, lag_ns: u64) {
        self.latency_ns.saturating_record(lag_ns.max(1));
        self.unfinished += 1;
        self.excluded_ns += lag_ns;
    }

    /// Records a verified op's latency and, in open mode, its uncorrected latency, in
    /// nanoseconds.
    #[inline]
    pub fn record_ok_ns(&mut self, ns: u64, uncorrected: Option<u64>) {
        self.latency_ns.saturating_record(ns.max(1));
        if let Some(u) = uncorrected {
            self.uncorrected_ns
                .get_or_insert_with(histogram)
                .saturating_record(u.max(1));
        }
    }

    /// Writes every page of the tally's histograms, so that they are resident from now on.
    /// (hdrhistogram 7 already writes its counts as it sizes them; this keeps it so should
    /// it take zeroed pages from the allocator, which the kernel maps only when written.)
    pub fn touch(&mut self) {
        // Seen as escaped, the counts are no longer known to be zero, so the compiler
        // cannot drop the zeroing below as redundant after a zeroed allocation.
        std::hint::black_box(&mut *self);
        self.latency_ns.clear();
        if let Some(u) = &mut self.uncorrected_ns {
            u.clear();
        }
    }

    pub fn merge(&mut self, other: &Tally) {
        self.latency_ns
            .add(&other.latency_ns)
            .expect("histograms share bounds");
        self.counts.merge(&other.counts);
        if let Some(u) = &other.uncorrected_ns {
            self.uncorrected_ns
                .get_or_insert_with(histogram)
                .add(u)
                .expect("histograms share bounds");
        }
        self.error_ns
            .add(&other.error_ns)
            .expect("histograms share bounds");
        self.dropped += other.dropped;
        self.unfinished += other.unfinished;
        self.excluded_ns += other.excluded_ns;
    }

    /// Verified ops (the latency histogram less the dropped and unfinished ops it also
    /// holds).
    pub fn ok_ops(&self) -> u64 {
        self.latency_ns.len() - self.dropped - self.unfinished
    }

    /// Mean latency of the verified ops alone, in nanoseconds.
    pub fn ok_mean_ns(&self) -> Option<f64> {
        let n = self.ok_ops();
        let all = self.latency_ns.mean() * self.latency_ns.len() as f64;
        (n > 0).then(|| ((all - self.excluded_ns as f64) / n as f64).max(0.0))
    }
}

/// Sharded tallies shared by the workers of one trial.
pub struct Recorder {
    shards: Box<[Mutex<Tally>]>,
    /// When the last worker's last op ended (CLOCK_MONOTONIC ns; 0: none yet).
    last_end: std::sync::atomic::AtomicU64,
}

impl Recorder {
    /// `open`: also keep uncorrected latencies (open mode). Every histogram is allocated
    /// and paged in here, before the idle footprint, never while ops run.
    pub fn new(shards: usize, open: bool) -> Recorder {
        let tally = || {
            let mut t = Tally {
                uncorrected_ns: open.then(histogram),
                ..Tally::default()
            };
            t.touch();
            t
        };
        Recorder {
            shards: (0..shards.max(1)).map(|_| Mutex::new(tally())).collect(),
            last_end: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// A worker's last op ended at `end` (once per worker, as it stops).
    pub fn note_end(&self, end: crate::measure::Mono) {
        self.last_end
            .fetch_max(end.0, std::sync::atomic::Ordering::Relaxed);
    }

    /// When the last op of any worker ended, if one has said so.
    pub fn last_end(&self) -> Option<crate::measure::Mono> {
        match self.last_end.load(std::sync::atomic::Ordering::Relaxed) {
            0 => None,
            ns => Some(crate::measure::Mono(ns)),
        }
    }

    /// The shard for worker `i`.
    #[inline]
    pub fn shard(&self, i: usize) -> MutexGuard<'_, Tally> {
        lock(&self.shards[i % self.shards.len()])
    }

    /// All shards merged.
    pub fn merged(&self) -> Tally {
        let mut all = Tally::default();
        for s in self.shards.iter() {
            all.merge(&lock(s));
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn closed(latency: Duration) -> Timing {
        Timing {
            latency,
            service: None,
            late: false,
            pace_lag: None,
        }
    }

    #[test]
    fn records_and_merges() {
        let r = Recorder::new(4, false);
        for i in 0..100u64 {
            r.shard(i as usize)
                .record(closed(Duration::from_micros(10 + i)), Ok(()));
        }
        r.shard(1).record(
            closed(Duration::from_micros(5)),
            Err(OpError::new(ErrorKind::Timeout, "slow")),
        );
        let t = r.merged();
        assert_eq!(t.ok_ops(), 100);
        assert_eq!(t.counts.errors_by_kind().get(&ErrorKind::Timeout), Some(&1));
        assert_eq!(t.counts.first_error[&ErrorKind::Timeout], "slow");
    }

    fn rss_bytes() -> u64 {
        let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
        let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
        pages * 4096
    }

    /// A new recorder's histograms are resident, so that the window does not page them
    /// in. Measured in a child of this test binary that runs only this test: other tests
    /// allocating and freeing beside it would move the resident set.
    #[test]
    fn a_new_recorder_is_resident() {
        if std::env::var_os("IOBENCH_RESIDENT_PROBE").is_some() {
            let before = rss_bytes();
            let r = Recorder::new(16, false);
            let grown = rss_bytes() - before;
            let bytes = 16 * 8 * histogram().distinct_values() as u64;
            assert!(
                grown >= bytes * 9 / 10,
                "16 histograms of {} KiB grew the resident set by {} KiB",
                bytes / 16 / 1024,
                grown / 1024
            );
            drop(r);
            return;
        }
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "measure::recorder::tests::a_new_recorder_is_resident",
                "--exact",
                "--test-threads=1",
            ])
            .env("IOBENCH_RESIDENT_PROBE", "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}");
        assert!(
            stdout.contains("1 passed"),
            "the probe did not run: {stdout}"
        );
    }
}
