//! The figures iobench reads back: for each, its key in `summary.json`, its unit, which
//! way is better, its label, which of a cell's values is the cell's own, how to read it
//! from a trial's record, and what `compare` does with it.
//!
//! `summary.json` holds every numeric figure of the records, found generically
//! (`report::summary`); this list names the ones that the gate, the exports, the report and
//! the console read, so that none of them spells a key of its own. The keys are the
//! summary's (and so the records') field names, nested ones with a dot: they never change,
//! so that summaries and baselines of older runs still read.
//!
//! A cell's figures are read with `CellSummary::value`, `stat` and `values`, which take a
//! [`Figure`].

use crate::record::Figures;

/// Which way a figure is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
    /// A count or a measurement's own quality: neither way is better.
    Neither,
}

/// Which of a cell's values is the cell's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Read {
    /// The median of its ok trials.
    Median,
    /// A latency percentile: of the ok trials' histograms merged (`merged`), else the
    /// median of the trials.
    Merged,
}

/// What `compare` (and `ab`) does with a figure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    /// Compared, in the gated family.
    Primary,
    /// Compared and reported; gated only with `--gate-all`.
    Secondary,
    /// Not compared.
    No,
}

/// One figure's row of the list.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    /// Its key in summary.json (the record's field, nested ones with a dot).
    pub key: &'static str,
    /// Its name in the gate's rows, the exports and the CSV.
    pub label: &'static str,
    pub unit: &'static str,
    pub better: Better,
    pub read: Read,
    pub gate: Gate,
    /// Its value in one trial's figures (`None` where not measured).
    pub trial: fn(&Figures) -> Option<f64>,
}

fn count(n: Option<u64>) -> Option<f64> {
    n.map(|n| n as f64)
}

/// The list: one row per figure, read by [`Figure::spec`]. Columns: the variant, its key,
/// its label, its unit, which way is better, which value is the cell's own, its gate, and
/// its value in one trial's figures.
macro_rules! figures {
    ($($name:ident: $key:literal, $label:literal, $unit:literal, $better:ident, $read:ident,
       $gate:ident, |$f:ident| $trial:expr;)*) => {
        /// A figure that iobench reads from summaries and records.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Figure {
            $($name,)*
        }

        impl Figure {
            /// Every figure, in declaration order: the compared ones in the order of the
            /// gate's rows and the exports.
            pub const ALL: [Figure; [$(stringify!($name)),*].len()] = [$(Figure::$name),*];

            pub fn spec(self) -> Spec {
                match self {
                    $(Figure::$name => Spec {
                        key: $key,
                        label: $label,
                        unit: $unit,
                        better: Better::$better,
                        read: Read::$read,
                        gate: Gate::$gate,
                        trial: |$f: &Figures| $trial,
                    },)*
                }
            }
        }
    };
}

#[rustfmt::skip]
figures! {
    Throughput: "throughput_ops_per_sec", "throughput", "ops/s", Higher, Median, Primary, |f| f.throughput_ops_per_sec;
    P99: "latency_us.p99", "p99 latency", "µs", Lower, Merged, Primary, |f| f.latency_us.map(|l| l.p99);
    PeakPss: "peak_pss_bytes", "peak memory", "bytes", Lower, Median, Secondary, |f| count(f.peak_pss_bytes);
    CpuPer1kOps: "cpu_secs_per_1k_ops", "CPU per 1k ops", "s", Lower, Median, Secondary, |f| f.cpu_secs_per_1k_ops;
    Efficiency: "efficiency", "efficiency", "ratio", Higher, Median, No, |f| f.efficiency;
    P50: "latency_us.p50", "p50 latency", "µs", Lower, Merged, No, |f| f.latency_us.map(|l| l.p50);
    P90: "latency_us.p90", "p90 latency", "µs", Lower, Merged, No, |f| f.latency_us.map(|l| l.p90);
    P99_9: "latency_us.p99_9", "p99.9 latency", "µs", Lower, Merged, No, |f| f.latency_us.map(|l| l.p99_9);
    LatencyMax: "latency_us.max", "max latency", "µs", Lower, Merged, No, |f| f.latency_us.map(|l| l.max);
    MemPerOp: "mem_per_op_bytes", "memory per op", "bytes", Lower, Median, No, |f| f.mem_per_op_bytes;
    PeakThreads: "peak_threads", "threads", "threads", Neither, Median, No, |f| count(f.peak_threads);
    HarnessThreads: "harness_threads", "harness threads", "threads", Neither, Median, No, |f| count(f.harness_threads);
    AchievedConcurrency: "achieved_concurrency", "ops in flight", "ops", Neither, Median, No, |f| f.achieved_concurrency;
    Ops: "ops", "verified ops", "ops", Neither, Median, No, |f| count(f.ops);
    FailedOps: "failed_ops", "failed ops", "ops", Lower, Median, No, |f| count(f.failed_ops);
    DroppedOps: "dropped_ops", "dropped ops", "ops", Lower, Median, No, |f| count(f.dropped_ops);
    UnfinishedOps: "unfinished_ops", "unfinished ops", "ops", Lower, Median, No, |f| count(f.unfinished_ops);
    RetriedOps: "retried_ops", "retried ops", "ops", Lower, Median, No, |f| count(f.retried_ops);
    MemorySamples: "memory_samples", "memory samples", "samples", Neither, Median, No, |f| count(f.memory_samples);
    IdlePss: "idle_pss_bytes", "idle memory", "bytes", Lower, Median, No, |f| count(f.idle_pss_bytes);
}

impl Figure {
    /// The latency percentiles, lowest first.
    pub const PERCENTILES: [Figure; 5] = [
        Figure::P50,
        Figure::P90,
        Figure::P99,
        Figure::P99_9,
        Figure::LatencyMax,
    ];

    /// Its key in summary.json, e.g. `latency_us.p99`.
    pub fn key(self) -> &'static str {
        self.spec().key
    }

    pub fn label(self) -> &'static str {
        self.spec().label
    }

    pub fn unit(self) -> &'static str {
        self.spec().unit
    }

    pub fn better(self) -> Better {
        self.spec().better
    }

    pub fn gate(self) -> Gate {
        self.spec().gate
    }

    /// Its value in one trial's figures; `None` where not measured (or not a number).
    pub fn of_trial(self, f: &Figures) -> Option<f64> {
        (self.spec().trial)(f).filter(|x| x.is_finite())
    }

    /// The figures `compare` and `ab` judge and the exports carry, in their rows' order.
    pub fn compared() -> impl Iterator<Item = Figure> {
        Figure::ALL.into_iter().filter(|f| f.gate() != Gate::No)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::histogram::LatencyUs;

    #[test]
    fn the_list_is_every_figure_once_in_order() {
        for (i, f) in Figure::ALL.iter().enumerate() {
            assert_eq!(*f as usize, i, "{f:?} out of place");
        }
        let mut keys: Vec<&str> = Figure::ALL.iter().map(|f| f.key()).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), Figure::ALL.len(), "a key twice");
        let mut labels: Vec<&str> = Figure::ALL.iter().map(|f| f.label()).collect();
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), Figure::ALL.len(), "a label twice");
    }

    #[test]
    fn the_gate_judges_throughput_and_p99_and_reports_memory_and_cpu() {
        let compared: Vec<(Figure, Gate, Better)> = Figure::compared()
            .map(|f| (f, f.gate(), f.better()))
            .collect();
        assert_eq!(
            compared,
            [
                (Figure::Throughput, Gate::Primary, Better::Higher),
                (Figure::P99, Gate::Primary, Better::Lower),
                (Figure::PeakPss, Gate::Secondary, Better::Lower),
                (Figure::CpuPer1kOps, Gate::Secondary, Better::Lower),
            ]
        );
        // The names the verdicts and the exports have always carried.
        let labels: Vec<(&str, &str)> = Figure::compared().map(|f| (f.label(), f.unit())).collect();
        assert_eq!(
            labels,
            [
                ("throughput", "ops/s"),
                ("p99 latency", "µs"),
                ("peak memory", "bytes"),
                ("CPU per 1k ops", "s"),
            ]
        );
    }

    #[test]
    fn percentiles_are_read_merged_and_the_rest_as_medians() {
        for f in Figure::ALL {
            let merged = Figure::PERCENTILES.contains(&f);
            assert_eq!(f.spec().read == Read::Merged, merged, "{f:?}");
            assert_eq!(f.key().starts_with("latency_us."), merged, "{f:?}");
        }
    }

    #[test]
    fn trial_values() {
        let l = LatencyUs {
            p50: 1.0,
            p90: 2.0,
            p99: 3.0,
            p99_9: 4.0,
            max: 5.0,
            mean: 6.0,
        };
        let f = Figures {
            latency_us: Some(l),
            peak_pss_bytes: Some(7),
            throughput_ops_per_sec: Some(f64::NAN),
            ..Figures::default()
        };
        let got: Vec<Option<f64>> = Figure::PERCENTILES.map(|p| p.of_trial(&f)).to_vec();
        assert_eq!(got, [1.0, 2.0, 3.0, 4.0, 5.0].map(Some));
        assert_eq!(Figure::PeakPss.of_trial(&f), Some(7.0));
        assert_eq!(Figure::Throughput.of_trial(&f), None, "NaN is not a value");
        assert_eq!(Figure::Ops.of_trial(&f), None);
    }
}
