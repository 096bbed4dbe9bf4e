//! One trial, run inside a fresh child process (`iobench trial`): build the model and the
//! workload, take the idle footprint, warm up, measure the window, and turn what was seen
//! into one [`TrialRecord`].
//!
//! Not here: spawning, timeouts and persistence (that is `orchestrator`).

use std::sync::Arc;
use std::time::Duration;

use crate::measure::memory::{Sampler, SamplerReport, TreeSample, sample_tree};
use crate::measure::record::{Figures, LatencyUs, SCHEMA_VERSION, TrialStatus, utc_now_rfc3339};
use crate::measure::rusage::{Rusage, raise_nofile_limit};
use crate::measure::{Mono, Recorder, Tally, TrialRecord, Window};
use crate::model;
use crate::scenario::Cell;
use crate::workload::{Workload, WorkloadVisitor};

/// How often the sampler reads memory during the window.
pub const SAMPLE_INTERVAL: Duration = Duration::from_millis(100);
/// Recorder shards: enough that thousands of threads rarely share a lock.
const RECORDER_SHARDS: usize = 16;
/// Threads the harness adds to a trial process (the sampler).
const HARNESS_THREADS: u64 = 1;

/// What a model may touch while it runs a trial.
pub struct TrialCtx {
    pub cell: Cell,
    pub recorder: Arc<Recorder>,
    sampler: Option<Sampler>,
    started: Mono,
    idle: Option<TreeSample>,
    window: Option<Window>,
    /// CPU used by worker processes during the window, which they measure themselves.
    pub worker_rusage: Rusage,
}

impl TrialCtx {
    fn new(cell: &Cell) -> anyhow::Result<TrialCtx> {
        Ok(TrialCtx {
            cell: cell.clone(),
            recorder: Arc::new(Recorder::new(RECORDER_SHARDS, cell.rate.is_some())),
            sampler: Some(Sampler::spawn(SAMPLE_INTERVAL, cell.target_pid)?),
            started: Mono::now(),
            idle: None,
            window: None,
            worker_rusage: Rusage::default(),
        })
    }

    /// Takes the idle footprint. Models call it once their fixed infrastructure (a runtime)
    /// exists and before any worker, task, process or connection does.
    pub fn mark_idle(&mut self) {
        self.idle = Some(sample_tree(std::process::id()));
    }

    /// Starts warm-up now and hands the window to the sampler.
    pub fn open_window(&mut self) -> Window {
        let w = Window::starting_now(self.cell.warmup.0, self.cell.duration.0);
        if let Some(s) = &self.sampler {
            s.begin(w);
        }
        self.window = Some(w);
        w
    }
}

struct RunModel<'a>(&'a mut TrialCtx);

impl WorkloadVisitor for RunModel<'_> {
    type Output = anyhow::Result<u64>;
    fn visit<W: Workload>(self, workload: W) -> anyhow::Result<u64> {
        model::run(self.0.cell.model, Arc::new(workload), self.0)
    }
}

/// Runs one trial of `cell` in this process and returns its record.
pub fn run_trial(cell: &Cell, trial: u32) -> TrialRecord {
    raise_nofile_limit();
    let started_at = utc_now_rfc3339();
    let mut ctx = match TrialCtx::new(cell) {
        Ok(c) => c,
        Err(e) => {
            return TrialRecord::failed(cell, trial, started_at, format!("setup failed: {e:#}"));
        }
    };
    let outcome = cell.workload.visit(RunModel(&mut ctx));
    let report = ctx.sampler.take().map(Sampler::finish).unwrap_or_default();
    let workers = match outcome {
        Ok(w) => w,
        Err(e) => return TrialRecord::failed(cell, trial, started_at, format!("{e:#}")),
    };
    let Some(window) = ctx.window else {
        return TrialRecord::failed(cell, trial, started_at, "the model never opened its window");
    };
    let tally = ctx.recorder.merged();
    let figures = figures(&ctx, &window, &tally, &report, workers);
    let (status, reason) = if tally.ok_ops() == 0 {
        let why = match tally.first_error.iter().next() {
            Some((kind, msg)) => {
                format!("no operation succeeded in the window; first {kind:?} error: {msg}")
            }
            None => "no operation completed in the window".to_string(),
        };
        (TrialStatus::Failed, Some(why))
    } else {
        (TrialStatus::Ok, None)
    };
    TrialRecord {
        schema: SCHEMA_VERSION,
        cell: cell.clone(),
        trial,
        status,
        reason,
        started_at,
        figures,
    }
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

/// Percentiles of a histogram of nanoseconds, in microseconds; `None` when it is empty.
fn percentiles(h: &hdrhistogram::Histogram<u64>) -> Option<LatencyUs> {
    (!h.is_empty()).then(|| LatencyUs {
        p50: us(h.value_at_quantile(0.50)),
        p90: us(h.value_at_quantile(0.90)),
        p99: us(h.value_at_quantile(0.99)),
        p99_9: us(h.value_at_quantile(0.999)),
        max: us(h.max()),
        mean: h.mean() / 1000.0,
    })
}

fn figures(
    ctx: &TrialCtx,
    window: &Window,
    tally: &Tally,
    report: &SamplerReport,
    workers: u64,
) -> Figures {
    let c = ctx.cell.concurrency;
    let secs = window.duration().as_secs_f64();
    let ops = tally.ok_ops();
    let latency = percentiles(&tally.latency_ns);
    let throughput = ops as f64 / secs;
    let rate = ctx.cell.rate;
    // An open loop can do no better than the rate it is offered.
    let ideal = match (ctx.cell.workload.ideal_ops_per_sec(c), rate) {
        (Some(i), Some(r)) => Some(i.min(r)),
        (i, r) => i.or(r),
    };
    let mut cpu = report.rusage;
    cpu.add(&ctx.worker_rusage);
    let measured = report.samples > 0;
    let idle = ctx.idle;
    let peak_pss = report.peak_pss_bytes.filter(|_| measured);
    let idle_pss = idle.and_then(|i| i.pss_bytes);
    Figures {
        ops: Some(ops),
        window_secs: Some(secs),
        throughput_ops_per_sec: Some(throughput),
        ideal_ops_per_sec: ideal,
        efficiency: ideal.map(|i| throughput / i),
        latency_us: latency,
        latency_uncorrected_us: tally.uncorrected_ns.as_ref().and_then(percentiles),
        target_rate_ops_per_sec: rate,
        late_start_ops: rate.map(|_| tally.late_starts),
        cpu_user_secs: Some(cpu.user_secs),
        cpu_sys_secs: Some(cpu.sys_secs),
        cpu_secs_per_1k_ops: (ops > 0)
            .then(|| (cpu.user_secs + cpu.sys_secs) * 1000.0 / ops as f64),
        ctx_switches_voluntary: Some(cpu.ctx_voluntary),
        ctx_switches_involuntary: Some(cpu.ctx_involuntary),
        peak_rss_bytes: measured.then_some(report.peak.rss_bytes),
        peak_pss_bytes: peak_pss,
        idle_rss_bytes: idle.map(|i| i.rss_bytes),
        idle_pss_bytes: idle_pss,
        mem_per_op_bytes: peak_pss
            .zip(idle_pss)
            .map(|(p, i)| (p as f64 - i as f64) / f64::from(c)),
        peak_threads: measured.then_some(report.peak.threads),
        peak_processes: measured.then_some(report.peak.processes),
        harness_threads: Some(HARNESS_THREADS),
        errors: tally.errors_by_kind(),
        error_samples: tally.first_error.clone(),
        achieved_concurrency: latency.map(|l| ops as f64 * l.mean / 1e6 / secs),
        workers: Some(workers),
        setup_secs: Some(window.start.since(ctx.started).as_secs_f64()),
        sampler_cpu_secs: measured.then_some(report.sampler_cpu_secs),
        target_cpu_secs: report.target_cpu_secs,
        memory_samples: Some(report.samples),
    }
}
