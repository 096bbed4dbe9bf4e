//! Turning trial records into what people read: `summary.json`, the console output, and
//! the report (charts, report.html, report.md, findings).
//!
//! Not here: running trials (`orchestrator`) or the statistics themselves (`stats`).

pub mod baseline;
pub mod charts;
pub mod console;
pub mod decision;
pub mod findings;
pub mod html;
pub mod markdown;
pub mod page;
pub mod summary;
pub mod sweeps;
pub mod write;
