//! Turning trial records into what people read: `summary.json` and the console output.
//!
//! Not here: running trials (`orchestrator`) or the statistics themselves (`stats`).

pub mod console;
pub mod summary;
