//! Findings: each claim of the talk (DESIGN.md) with a verdict computed from this run's
//! cells, and the numbers behind it. A claim this run has no cells for is "not measured",
//! never guessed.
//!
//! # How a verdict is reached
//! 1. A claim is checked on every comparison of cells it applies to (every single-loop
//!    model against processes at every workload and concurrency both ran, and so on), not
//!    on the most favourable one.
//! 2. A difference between two cells counts only where it exceeds the trials' spread: the
//!    ranges (min–max over the ok trials) of the two cells do not overlap. A comparison
//!    whose ranges overlap, or whose cells have fewer than two ok trials (no spread to
//!    judge by), is "within the trials' range": it neither holds nor fails. (The trials'
//!    range, not `compare`'s interval: three trials are the default, and a t interval from
//!    three is wide and assumes a shape the range does not.)
//! 3. The claim holds where no comparison fails and more hold than lie within the range;
//!    it does not hold the other way round; where some hold and some fail it is "mixed",
//!    and otherwise "undecided". The evidence says how many agree and names each
//!    comparison's cells (workload label, model, C), with their ranges.

mod claims;
mod evidence;
#[cfg(test)]
mod tests;

pub use evidence::{Finding, Verdict, label};

use crate::report::summary::Summary;
use claims::*;

/// Every claim, in the talk's order.
pub fn findings(s: &Summary) -> Vec<Finding> {
    vec![
        one_thread(s),
        cheaper_than_processes(s),
        hundreds_in_one_program(s),
        waiting_outweighs_computing(s),
        cpu_heavy_stalls(s),
    ]
}
