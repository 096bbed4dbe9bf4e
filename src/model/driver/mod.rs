//! The shared drivers: one for blocking waits, one for async waits, and the pieces every
//! model uses to start its workers together.
//!
//! # How it works
//! 1. A worker runs ops one after another. In closed mode the next op starts when the
//!    previous one ends. In open mode ([`Pace::Open`]) op `i` is due at a fixed time; the
//!    worker waits for it (or starts at once when it is behind), and latency runs from the
//!    due time, so queueing is counted (coordinated omission, as wrk2 defines it); the
//!    latency from the actual start is kept beside it. Around each op the worker reads the
//!    monotonic clock twice.
//! 2. An op that completes inside the measured window goes to the worker's [`Sink`]: its
//!    latency if it was verified, its error kind if not. Ops completing during warm-up are
//!    not recorded. In-process models share the trial's sharded recorder; a worker process
//!    streams its latencies to the trial in small batches.
//! 3. A worker stops after the first op that completes at or past the window's end, so no
//!    op is abandoned mid-flight and no stop flag is polled on the hot path. In a counted
//!    window ([`Pace::Count`], `cargo bench`) it stops once it has run its share of the
//!    window's ops instead. (A worker waits for the window's start before its first op:
//!    a counted window starts a little after it is handed out.)
//!
//! Models differ only in how they run workers (a loop, threads, pool jobs, processes,
//! tasks); the loop body, the clock reads and the recording are here, once.

mod blocking;
mod pace;
mod sink;
mod tasks;
mod usage;

pub use blocking::{Gate, OwnUsage, blocking_loop, trial_worker};
pub use pace::{LATE, Pace, Schedule};
pub use sink::{OwnedShard, Shard, Sink, observe, stop};
pub(crate) use tasks::async_ops;
pub use tasks::{Tasks, async_loop, open_sessions, run_tasks, trial_tasks};
pub use usage::Usage;
