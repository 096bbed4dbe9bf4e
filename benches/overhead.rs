//! `cargo bench --bench overhead`: the harness's own cost per operation, by criterion.
//! The target for the recording path is 50 ns per op or less; each op also reads the
//! clock twice, which costs what the machine's clock costs (`clock/mono-now`).
//!
//! - `clock/mono-now`: one read of the monotonic clock (every op reads it twice).
//! - `recording-path/*`: what a finished op costs to record, the clock reads aside:
//!   `observe` (the window check, the timing, the sink). The sinks: `recorder-shard`, the
//!   trial's sharded recorder (a lock and a histogram increment; in-process models) and
//!   `worker-stream`, a worker process's sink (latencies buffered and written as a frame,
//!   here to /dev/null, so the write system call is in the figure).
//! - `driver/*`: a driver's whole loop around a no-op workload, in a counted window: the
//!   blocking loop (threads, sequential and the workers of `processes`) and the async loop
//!   on each runtime. The figure per op is everything the harness spends per op when the
//!   op itself costs nothing.
//!
//! `benches/bare_loops/` measures the same cost from the other side: whole trials beside
//! bare loops that measure nothing.

use std::future::Future;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use iobench::measure::{Mono, Recorder, Window};
use iobench::model::driver::{
    OwnUsage::Unmeasured, OwnedShard, Pace, Schedule, Shard, Sink, Tasks, async_loop,
    blocking_loop, observe,
};
use iobench::model::processes::StreamSink;
use iobench::op::OpError;
use iobench::rt::{AsyncRt, AsyncStd, Smol, Tokio};
use iobench::workload::Workload;

/// An op that does nothing and always succeeds: what is left to time is the harness.
struct Noop;

impl Workload for Noop {
    type Session = u64;
    type AsyncSession<R: AsyncRt> = u64;

    fn open(&self) -> Result<u64, OpError> {
        Ok(0)
    }
    fn op(&self, session: &mut u64) -> Result<(), OpError> {
        *session = black_box(*session + 1);
        Ok(())
    }
    fn open_async<R: AsyncRt>(&self) -> impl Future<Output = Result<u64, OpError>> + Send {
        std::future::ready(Ok(0))
    }
    fn op_async<R: AsyncRt>(
        &self,
        session: &mut u64,
    ) -> impl Future<Output = Result<(), OpError>> + Send {
        *session = black_box(*session + 1);
        std::future::ready(Ok(()))
    }
}

/// A window no op of a benchmark reaches the end of.
fn long_window(ops: u64) -> Window {
    Window::counted(ops, Duration::ZERO, Duration::from_secs(3600))
}

fn recorder() -> Recorder {
    // As a trial builds it: 16 shards, closed mode.
    Recorder::new(16, false)
}

fn dev_null() -> std::fs::File {
    std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .expect("open /dev/null")
}

/// `observe` of `iters` finished ops into `sink`: the recording path without the clock
/// reads (the timestamps are made up, a spread of latencies from 1 to 1,000 µs).
fn recording_path(iters: u64, sink: &mut impl Sink) -> Duration {
    let window = long_window(iters);
    let base = window.start.0;
    let t0 = Instant::now();
    for i in 0..iters {
        let start = Mono(base + (i & 1023) * 1_000);
        let end = Mono(start.0 + 1_000 + (i * 7_919) % 1_000_000);
        black_box(observe(
            &window,
            sink,
            (None, false),
            black_box(start),
            black_box(end),
            Ok(()),
        ));
    }
    t0.elapsed()
}

fn recording(c: &mut Criterion) {
    let mut g = c.benchmark_group("clock");
    g.throughput(Throughput::Elements(1));
    g.bench_function("mono-now", |b| b.iter(Mono::now));
    g.finish();

    let mut g = c.benchmark_group("recording-path");
    g.throughput(Throughput::Elements(1));
    let rec = recorder();
    g.bench_function("recorder-shard", |b| {
        b.iter_custom(|iters| {
            let mut sink = Shard {
                recorder: &rec,
                index: 3,
            };
            let before = rec.shard(3).ok_ops();
            let t = recording_path(iters, &mut sink);
            // Every op was recorded: the figure is not of a path that skipped the work.
            assert_eq!(rec.shard(3).ok_ops() - before, iters);
            t
        })
    });
    g.bench_function("worker-stream", |b| {
        b.iter_custom(|iters| recording_path(iters, &mut StreamSink::new(dev_null())))
    });
    g.finish();
}

/// The blocking loop of `iters` no-op ops into `sink`.
fn blocking(iters: u64, sink: &mut impl Sink) -> Duration {
    let (mut session, window) = (0, long_window(iters));
    let t0 = Instant::now();
    blocking_loop(
        &Noop,
        &mut session,
        &window,
        Pace::Count(iters),
        sink,
        Unmeasured,
    );
    t0.elapsed()
}

fn drivers(c: &mut Criterion) {
    let mut g = c.benchmark_group("driver");
    g.throughput(Throughput::Elements(1));
    let rec = Arc::new(recorder());
    g.bench_function("blocking", |b| {
        b.iter_custom(|iters| {
            let mut sink = Shard {
                recorder: &*rec,
                index: 0,
            };
            blocking(iters, &mut sink)
        })
    });
    g.bench_function("blocking-worker-stream", |b| {
        b.iter_custom(|iters| blocking(iters, &mut StreamSink::new(dev_null())))
    });
    let workload = Arc::new(Noop);
    let task = |iters: u64| {
        let sink = OwnedShard {
            recorder: rec.clone(),
            index: 0,
        };
        (
            workload.clone(),
            long_window(iters),
            Pace::Count(iters),
            sink,
        )
    };
    // Each runtime is built once, outside the timed code.
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    bench_async_loop::<Tokio>(
        &mut g,
        "async-tokio-current-thread",
        &task,
        |t, pace, sink| tokio.block_on(async_loop(t, 0, Schedule::new(pace), sink)),
    );
    bench_async_loop::<AsyncStd>(&mut g, "async-async-std", &task, |t, pace, sink| {
        async_std::task::block_on(async_loop(t, 0, Schedule::new(pace), sink))
    });
    bench_async_loop::<Smol>(&mut g, "async-smol", &task, |t, pace, sink| {
        smol::block_on(async_loop(t, 0, Schedule::new(pace), sink))
    });
    g.finish();
}

/// The async loop on runtime `R` around `task(iters)`'s no-op workload, `run` driving it to
/// its end (the runtime's `block_on`). The timing starts before `Tasks::new`.
fn bench_async_loop<R: AsyncRt>(
    g: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    task: &impl Fn(u64) -> (Arc<Noop>, Window, Pace, OwnedShard),
    run: impl Fn(Arc<Tasks<Noop, R>>, Pace, OwnedShard),
) {
    g.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let (w, window, pace, sink) = task(iters);
            let t0 = Instant::now();
            run(Tasks::new(w, window), pace, sink);
            t0.elapsed()
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = recording, drivers
}
criterion_main!(benches);
