//! One trial, run inside a fresh child process (`iobench trial`): build the model and the
//! workload, take the idle footprint, warm up, measure the window, and turn what was seen
//! into one [`TrialRecord`].
//!
//! Not here: spawning, timeouts and persistence (that is `orchestrator`).

use std::sync::Arc;

use crate::measure::histogram::{self, percentiles};
use crate::measure::memory::{Sampler, SamplerReport};
use crate::measure::rusage::raise_nofile_limit;
use crate::measure::{Mono, Tally, Window};
use crate::model;
use crate::model::ctx::TrialCtx;
use crate::plan::RunCell;
use crate::record::TrialRecord;
use crate::record::{Figures, SCHEMA_VERSION, TrialStatus, utc_now_rfc3339};
use crate::server::{Sut, wrk};
use crate::workload::db::ConnCounter;
use crate::workload::{Workload, WorkloadVisitor};

/// Threads the harness adds to a trial process (the sampler; a database workload's
/// connection counter is one more).
const HARNESS_THREADS: u64 = 1;

struct RunModel<'a>(&'a mut TrialCtx);

impl WorkloadVisitor for RunModel<'_> {
    type Output = anyhow::Result<u64>;
    fn visit<W: Workload>(self, workload: W) -> anyhow::Result<u64> {
        model::run(self.0.cell.model, Arc::new(workload), self.0)
    }
}

/// The load generator of a server workload: the client op on a tokio runtime of
/// `client_threads` threads in this process.
struct RunClient<'a>(&'a mut TrialCtx);

impl WorkloadVisitor for RunClient<'_> {
    type Output = anyhow::Result<u64>;
    fn visit<W: Workload>(self, workload: W) -> anyhow::Result<u64> {
        let rt = match self.0.cell.workload.client_threads() {
            1 => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?,
            n => tokio::runtime::Builder::new_multi_thread()
                .worker_threads(n as usize)
                .enable_all()
                .build()?,
        };
        model::tokio::run_on(rt, Arc::new(workload), self.0)
    }
}

/// Runs one trial of `cell` in this process and returns its record.
pub fn run_trial(cell: &RunCell, trial: u32) -> TrialRecord {
    raise_nofile_limit();
    let started_at = utc_now_rfc3339();
    let failed = |why: String| {
        TrialRecord::failed(
            cell,
            trial,
            utc_now_rfc3339(),
            crate::measure::limits::explain(why),
        )
    };
    // An op in flight holds a socket: past the limit on open files, fail at once rather
    // than when the first of C sessions cannot open.
    if cell.workload.socket_per_op() {
        let sockets = u64::from(crate::model::ops_per_process(cell));
        if let Some(why) = crate::measure::limits::short_of_files(sockets) {
            return failed(why);
        }
    }
    if let Some(why) = crate::model::past_os_limit(cell) {
        return failed(why);
    }
    // A server workload: the model serves in its own process, this one is the client.
    let mut sut = match crate::server::ServerSpec::of(cell) {
        None => None,
        Some(spec) => match cell.external.as_ref().map_or_else(
            || Sut::start(cell.model, &spec),
            |e| Sut::start_external(e, &spec),
        ) {
            Ok(s) => Some(s),
            Err(e) => return failed(format!("setup failed: {e:#}")),
        },
    };
    let root = sut.as_ref().map_or(std::process::id(), Sut::pid);
    let mut ctx = match TrialCtx::new(cell, root) {
        Ok(c) => c,
        Err(e) => return failed(format!("setup failed: {e:#}")),
    };
    let outcome = match &sut {
        None => cell.workload.visit(&cell.resolved, RunModel(&mut ctx)),
        Some(s) => {
            // The client talks to the server under test.
            let mut at = cell.resolved.clone();
            at.target = Some(s.addr.to_string());
            cell.workload.visit(&at, RunClient(&mut ctx))
        }
    };
    // A counted window ends by then at the latest: the model has returned.
    let end = Mono::now();
    let report = ctx.sampler.take().map(Sampler::finish).unwrap_or_default();
    let counter = ctx.db_counter.take();
    let counter_threads = u64::from(counter.is_some());
    let db_connections = counter.and_then(ConnCounter::finish);
    let workers = match outcome {
        Ok(w) => w,
        Err(e) => return failed(format!("{e:#}")),
    };
    let Some(mut window) = ctx.window else {
        return failed("the model never opened its window".into());
    };
    if window.count.is_some() {
        // The window ends with the last op, not with the model's teardown (threads joined,
        // sessions closed, runtimes dropped), which differs from model to model.
        window.measure_until = ctx.recorder.last_end().unwrap_or(end).min(end);
    }
    let tally = ctx.recorder.merged();
    if let Err(why) = claims_hold(&ctx, &window, tally.ok_ops(), workers) {
        return failed(why);
    }
    // After the window and outside it: what disk-write wrote is read back.
    if let Err(why) =
        crate::workload::disk::verify_written(&cell.workload, &cell.resolved, tally.ok_ops())
    {
        return failed(why);
    }
    let mut figures = figures(&ctx, &window, &tally, &report, workers);
    figures.db_connections = db_connections;
    figures.harness_threads = Some(HARNESS_THREADS + counter_threads);
    if let Some(s) = &mut sut {
        if let Some(status) = s.exited() {
            return failed(format!(
                "the {} server exited during the trial ({status}); {} ops had succeeded",
                cell.model_name(),
                tally.ok_ops()
            ));
        }
        server_figures(&mut figures, &report);
        if cell.external.as_ref().is_some_and(|e| e.host.is_some()) {
            not_ours(&mut figures);
        }
        if cell.workload.uses_wrk() {
            let path = match &cell.workload {
                crate::workload::WorkloadSpec::HttpServe(h) => h.path.clone(),
                _ => "/".into(),
            };
            let c = cell.concurrency;
            let threads = cell.workload.client_threads();
            match wrk::run(s.addr, &path, c, threads, cell.warmup.0, cell.duration.0) {
                Ok(w) => {
                    figures.iobench_to_wrk_ratio = figures
                        .throughput_ops_per_sec
                        .filter(|_| w.requests_per_sec > 0.0)
                        .map(|t| t / w.requests_per_sec);
                    figures.wrk = Some(w);
                }
                Err(e) => return failed(format!("{e:#}")),
            }
        }
    }
    drop(sut);
    let first_error = || match tally.counts.first_error.iter().next() {
        Some((kind, msg)) => format!("first {kind:?} error: {msg}"),
        None => "no error".to_string(),
    };
    let error_rate = figures.error_rate.unwrap_or(0.0);
    let (status, reason) = if tally.ok_ops() == 0 {
        let why = match tally.counts.error_ops() {
            0 => "no operation completed in the window".to_string(),
            _ => format!("no operation succeeded in the window; {}", first_error()),
        };
        (TrialStatus::Failed, Some(why))
    } else if error_rate > cell.max_error_rate {
        let why = format!(
            "{} of {} ops failed ({:.2}%, above max_error_rate {}%); {}",
            tally.counts.error_ops(),
            tally.counts.error_ops() + tally.ok_ops(),
            error_rate * 100.0,
            cell.max_error_rate * 100.0,
            first_error()
        );
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

/// What the trial can check of the verified ops its model claims, whoever ran them (an
/// external worker's code cannot be read): no more than the embedded target answered
/// while the window was open, and, for sleep, no more than each op in flight could finish
/// in the window, one `latency` at a time.
fn claims_hold(ctx: &TrialCtx, window: &Window, ok: u64, workers: u64) -> Result<(), String> {
    let cell = &ctx.cell;
    let answered = cell
        .served
        .as_deref()
        .and_then(crate::measure::served::read);
    if let (Some(open), Some(now)) = (ctx.served_at_open, answered) {
        let m = now.saturating_sub(open);
        if ok > m {
            return Err(format!(
                "the {} model reported {ok} verified ops, the target answered {m} requests while the window was open",
                cell.model_name()
            ));
        }
    }
    if let crate::workload::WorkloadSpec::Sleep(s) = &cell.workload {
        let (d, l) = (window.duration().as_secs_f64(), s.latency.0.as_secs_f64());
        let most = workers as f64 * ((d / l).floor() + 2.0);
        if window.count.is_none() && ok as f64 > most {
            return Err(format!(
                "the {} model reported {ok} verified ops; {workers} ops in flight sleeping {} each can finish at most {most} in a window of {d:.3} s",
                cell.model_name(),
                s.latency
            ));
        }
    }
    Ok(())
}

/// A server under test on another host: its memory, threads, processes and CPU are not
/// this machine's to read (the process tree here is only what started it).
fn not_ours(f: &mut Figures) {
    f.cpu_secs = None;
    f.cpu_secs_per_1k_ops = None;
    f.peak_rss_bytes = None;
    f.peak_pss_bytes = None;
    f.idle_rss_bytes = None;
    f.idle_pss_bytes = None;
    f.mem_per_op_bytes = None;
    f.peak_threads = None;
    f.peak_processes = None;
}

/// For a server workload, the CPU figures are the server tree's, and the trial process's
/// own CPU is the client's.
fn server_figures(f: &mut Figures, report: &SamplerReport) {
    let client = report.rusage;
    f.client_cpu_secs = Some(client.user_secs + client.sys_secs);
    f.harness_threads = Some(0);
    f.workers = None;
    f.ctx_switches_voluntary = None;
    f.ctx_switches_involuntary = None;
    // /proc gives the server's CPU to the nanosecond per thread, but no user/system split.
    f.cpu_user_secs = None;
    f.cpu_sys_secs = None;
    f.cpu_secs = report.tree_cpu_secs;
    f.cpu_secs_per_1k_ops = report
        .tree_cpu_secs
        .zip(f.ops.filter(|&n| n > 0))
        .map(|(cpu, n)| cpu * 1000.0 / n as f64);
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
    let uncorrected = tally.uncorrected_ns.as_ref().and_then(percentiles);
    let failed = tally.counts.error_ops();
    let throughput = ops as f64 / secs;
    let rate = ctx.cell.rate;
    // An open loop can do no better than the rate it is offered.
    let ideal = match (ctx.cell.workload.ideal_ops_per_sec(c), rate) {
        (Some(i), Some(r)) => Some(i.min(r)),
        (i, r) => i.or(r),
    };
    let mut cpu = report.rusage;
    cpu.add(&ctx.worker_rusage);
    let mut counts = report.counts;
    counts.add(&ctx.worker_counts);
    // Memory per op is per op really in flight: the model's workers (min(C, cap) for the
    // models that cap them), or, for a server, the client's C tasks, one connection each.
    let in_flight = workers;
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
        latency_histogram: histogram::encode(&tally.latency_ns),
        latency_uncorrected_us: uncorrected,
        target_rate_ops_per_sec: rate,
        late_start_ops: rate.map(|_| tally.counts.late_starts),
        cpu_user_secs: Some(cpu.user_secs),
        cpu_sys_secs: Some(cpu.sys_secs),
        cpu_secs: Some(cpu.user_secs + cpu.sys_secs),
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
            .filter(|_| in_flight > 0)
            .map(|(p, i)| (p as f64 - i as f64) / in_flight as f64),
        peak_threads: measured.then_some(report.peak.threads),
        peak_processes: measured.then_some(report.peak.processes),
        harness_threads: Some(HARNESS_THREADS),
        failed_ops: Some(failed),
        error_rate: (ops + failed > 0).then(|| failed as f64 / (ops + failed) as f64),
        errors: tally.counts.errors_by_kind(),
        error_samples: tally.counts.first_error.clone(),
        // Verified ops in the model, not waiting for it: in open mode from each op's actual
        // start (the corrected latency adds queueing); dropped and unfinished ops left out.
        achieved_concurrency: uncorrected
            .map(|l| l.mean * 1e3)
            .or(tally.ok_mean_ns())
            .map(|mean_ns| ops as f64 * mean_ns / 1e9 / secs),
        workers: Some(workers),
        setup_secs: Some(window.start.since(ctx.started).as_secs_f64()),
        sampler_cpu_secs: measured.then_some(report.sampler_cpu_secs),
        target_cpu_secs: report.target_cpu_secs,
        memory_samples: Some(report.samples),
        client_cpu_secs: None,
        wrk: None,
        iobench_to_wrk_ratio: None,
        error_latency_us: percentiles(&tally.error_ns),
        retried_ops: Some(counts.retries),
        connects: Some(counts.connects),
        dropped_ops: rate.map(|_| tally.dropped),
        unfinished_ops: ctx.cell.ops.is_none().then_some(tally.unfinished),
        pace_lag_us: rate
            .filter(|_| tally.counts.paced > 0)
            .map(|_| tally.counts.pace_lag_ns as f64 / tally.counts.paced as f64 / 1e3),
        db_connections: None,
    }
}
