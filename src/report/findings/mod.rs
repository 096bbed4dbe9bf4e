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

//!
//! # Languages
//! A claim is decided once for iobench's own models (Rust), and once more for each
//! language of the run's external models ([`Language`]), each time from that language's
//! cells alone: a comparison never mixes languages. An external cell counts as the
//! iobench model its `like` names (Python's asyncio as `tokio-current-thread`, its
//! threading as `threads`), and the evidence names its own model; an external cell
//! without `like` is in no claim.

mod claims;
mod evidence;
mod language;
#[cfg(test)]
mod tests;

pub use evidence::{Finding, Verdict, label};
pub use language::Language;

use crate::report::summary::Summary;
use claims::*;

/// A claim's function: its finding from one language's cells.
type Judge = fn(&Summary, &Language) -> Finding;

/// The claims, in the talk's order.
const CLAIMS: [Judge; 5] = [
    one_thread,
    cheaper_than_processes,
    hundreds_in_one_program,
    waiting_outweighs_computing,
    cpu_heavy_stalls,
];

/// Every claim, in the talk's order, each once per language of the run (Rust first):
/// a claim's findings are next to each other.
pub fn findings(s: &Summary) -> Vec<Finding> {
    let languages = Language::present(s);
    CLAIMS
        .iter()
        .flat_map(|judge| languages.iter().map(move |l| judge(s, l)))
        .collect()
}
