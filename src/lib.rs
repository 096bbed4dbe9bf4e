//! iobench: the same I/O-bound operations under sequential, thread-per-op, thread-pool,
//! multiprocess and single-thread async execution models, measured on your machine.
//!
//! The data flow, from scenario file to summary (see `docs/ARCHITECTURE.md`):
//!
//! ```text
//! scenario.toml ─► scenario::Scenario ─► cells ─► orchestrator ─spawn─► iobench trial
//!                                                     │                 (trial::run_trial:
//!                                                     │                  model × workload,
//!                                                     │                  driver, measure)
//!                                                     ◄── one JSON TrialRecord per trial
//!                      results.jsonl ◄────────────────┤
//!                      summary.json  ◄── report::summary (stats medians)
//! ```

pub mod ab;
pub mod check;
pub mod cli;
pub mod compare;
pub mod error;
pub mod export;
pub mod figure;
pub mod files;
pub mod guard;
pub mod list;
pub mod measure;
pub mod merge;
pub mod model;
pub mod op;
pub mod orchestrator;
pub mod plan;
pub mod record;
pub mod report;
pub mod rt;
pub mod run;
// Its errors carry the source line they point at; they are built once, before a run.
#[allow(clippy::result_large_err)]
pub mod scenario;
pub mod server;
pub mod stats;
pub mod sync;
pub mod target;
pub mod trial;
pub mod units;
pub mod workload;

pub use error::Error;
pub use plan::{Cell, ModelKind};
pub use scenario::Scenario;
pub use workload::{WorkloadKind, WorkloadSpec};
