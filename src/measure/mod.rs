//! Measurement: the monotonic clock, the latency recorder, resource usage, memory of the
//! process tree and the machine stamp.
//!
//! Not here: deciding what to run (`orchestrator`) or summarising trials (`stats`, `report`).

pub mod clock;
pub mod counters;
pub mod histogram;
pub mod limits;
pub mod machine;
pub mod memory;
pub mod recorder;
pub mod room;
pub mod rusage;
pub mod served;

pub use clock::{Mono, Window};
pub use recorder::{OpCounts, Recorder, Tally};
