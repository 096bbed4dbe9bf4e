//! `iobench compare BASE NEW`: for each cell in both runs and each compared figure, a
//! verdict from the trials' distributions (improved, regressed, no change, inconclusive),
//! as a Markdown table and a JSON verdict file; and the same judgement for the pairs of
//! `iobench ab`.
//!
//! # How a verdict is reached
//! 1. **On logarithms.** Trial figures are positive and their noise is multiplicative (a
//!    slower machine scales every op), so each figure is compared as the difference of the
//!    mean logarithms, and reported as the ratio NEW / BASE of geometric means.
//! 2. **A t test whose level holds at small samples.** Two runs (`compare`): Welch's t test
//!    (unequal variances, Welch–Satterthwaite degrees of freedom). Paired trials (`ab`):
//!    the paired t test on the log ratios B / A. The p-value is exact for normal logs at any
//!    sample size from 2 a side, and heavy tails make the test conservative (an outlier
//!    widens the variance). The alternatives fail at the sizes users have (3–10 trials a
//!    side): a percentile bootstrap at α / m takes its interval from the extreme
//!    resamples, so with 3 trials it calls every pair of non-overlapping ranges significant
//!    (11 false alarms in 16 A/A comparisons, measured); an exact permutation test cannot
//!    give a p-value below 2 / C(n₁ + n₂, n₁), which is 0.1 at 3 a side, so it could never
//!    decide at a table-wide level below 9 trials a side.
//! 3. **A table-wide level (Holm).** The gated figures of every cell form one family and
//!    `significance` bounds the chance of any false significant verdict in it: Holm's
//!    step-down (the smallest p-value against α / m, the next against α / (m − 1), …,
//!    stopping at the first that fails), which is never less powerful than Bonferroni.
//!    The figures not gated (by default memory and CPU: noisy, and secondary to the
//!    question a gate asks) form a family of their own and are reported, not gated
//!    (`--gate-all` puts them in the gated family).
//! 4. **Significant and large.** Improved or regressed needs a significant change (Holm)
//!    whose point ratio is more than `threshold` from 1, in the figure's better or worse
//!    direction. No change: the interval at the Bonferroni level α / m lies within
//!    ±threshold. Anything else is inconclusive.
//! 5. **What the table could see.** Each row gives its smallest detectable change: the
//!    half-width of its α / m interval at its own noise (or the threshold, when that is
//!    larger), and an inconclusive row the trials a side that would bring it within the
//!    threshold at the same noise.
//!
//! # Nothing broken passes
//! A cell ok in BASE whose NEW trials fail (all, or more than BASE's) is a regression,
//! with the failure's reason. A cell of BASE absent or skipped in NEW is missing, which
//! fails the gate unless `allow_missing`. The error rate (failed / all ops, pooled over
//! the trials) is compared too: a rise of more than `max_error_rate` is a regression.

pub mod html;
pub mod markdown;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::Error;
use crate::figure::{Better, Figure, Gate};
use crate::report::summary::{CellStatus, CellSummary, SUMMARY_SCHEMA, Summary};
use crate::stats::{LogTest, RatioInterval, median};

/// The name of the rows that say a cell's trials failed, and of the error-rate rows.
pub const TRIALS: &str = "trials";
pub const ERROR_RATE: &str = "error rate";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Improved,
    Regressed,
    NoChange,
    Inconclusive,
}

impl Verdict {
    pub fn text(self) -> &'static str {
        match self {
            Verdict::Improved => "improved",
            Verdict::Regressed => "REGRESSED",
            Verdict::NoChange => "no change",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Noise threshold: a change smaller than this share is no change.
    pub threshold: f64,
    /// The table-wide significance level of the gated family (and, apart, of the rest).
    pub significance: f64,
    /// The error rate (failed / all ops) may rise by this much before it is a regression.
    pub max_error_rate: f64,
    /// Gate on every figure, not only the primary ones.
    pub gate_all: bool,
    /// An inconclusive gated comparison fails the gate.
    pub fail_on_inconclusive: bool,
    /// A cell of BASE missing from NEW does not fail the gate.
    pub allow_missing: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            threshold: 0.05,
            significance: 0.01,
            max_error_rate: 0.001,
            gate_all: false,
            fail_on_inconclusive: false,
            allow_missing: false,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Comparison {
    pub cell: String,
    pub figure: &'static str,
    pub unit: &'static str,
    pub higher_is_better: bool,
    /// In the gated family: its verdict decides the exit code.
    pub gated: bool,
    pub base_median: Option<f64>,
    pub new_median: Option<f64>,
    /// NEW / BASE of the geometric means (of the pairs' ratios for `ab`).
    pub ratio: Option<f64>,
    /// The interval of the ratio at the family's Bonferroni level α / m.
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    /// The test's two-sided p-value (before Holm's correction).
    pub p_value: Option<f64>,
    /// The smallest change this comparison could flag, as a fraction (its interval's
    /// half-width at α / m, or the threshold when that is larger).
    pub detectable_change: Option<f64>,
    /// Inconclusive rows: the trials a side that would bring the detectable change within
    /// the threshold at this noise.
    pub trials_needed: Option<usize>,
    pub base_trials: usize,
    pub new_trials: usize,
    /// The trials' values a side, as tested (in trial order; `ab`: pairs side by side);
    /// empty for the trials and error-rate rows.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub base_values: Vec<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub new_values: Vec<f64>,
    pub verdict: Verdict,
    /// Why: a failure's reason, or what kept the test from deciding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The layout version of compare.json (docs/schema/compare.schema.json).
pub const COMPARE_SCHEMA: u32 = 1;

#[derive(Debug, Serialize)]
pub struct Report {
    /// [`COMPARE_SCHEMA`].
    pub schema: u32,
    pub base: String,
    pub new: String,
    pub threshold: f64,
    pub significance: f64,
    pub max_error_rate: f64,
    pub fail_on_inconclusive: bool,
    pub allow_missing: bool,
    pub comparisons: Vec<Comparison>,
    /// Cells of BASE that NEW lacks or skipped (with the reason).
    pub missing: Vec<String>,
    /// Cells of NEW that BASE lacks (not compared).
    pub only_in_new: Vec<String>,
    /// Gated comparisons that regressed (failed cells and error rates included).
    pub regressed: usize,
    /// Gated comparisons that improved.
    pub improved: usize,
    /// Gated comparisons of tested figures (the trials and error-rate rows left out), and
    /// how many of them had a verdict other than inconclusive.
    pub gated: usize,
    pub judged: usize,
    pub inconclusive: usize,
    /// Whether the gate passes (exit 0) or fails (exit 3).
    pub passed: bool,
}

/// A comparison whose figure is tested, before its family is judged.
pub struct Pending {
    pub row: Comparison,
    pub test: Result<LogTest, String>,
}

impl Pending {
    /// A row of figure `f` for `cell`, to be judged with `test`.
    pub fn new(
        cell: &str,
        f: Figure,
        o: &Options,
        (base, new): (&[f64], &[f64]),
        test: Result<LogTest, String>,
    ) -> Pending {
        let row = row(
            cell,
            f.label(),
            f.unit(),
            (median(base), median(new)),
            (base.len(), new.len()),
            Verdict::Inconclusive,
            None,
        );
        Pending {
            row: Comparison {
                higher_is_better: f.better() == Better::Higher,
                gated: f.gate() == Gate::Primary || o.gate_all,
                base_values: base.to_vec(),
                new_values: new.to_vec(),
                ..row
            },
            test,
        }
    }
}

/// Judges each family (gated, not gated) of tested rows at the table-wide level: Holm for
/// significance, Bonferroni intervals, the detectable change and the trials needed.
pub fn judge(pending: Vec<Pending>, o: &Options) -> Vec<Comparison> {
    let mut rows: Vec<Option<Comparison>> = Vec::new();
    let mut tests = Vec::new();
    for p in pending {
        tests.push(p.test);
        rows.push(Some(p.row));
    }
    let mut out: Vec<Option<Comparison>> = (0..rows.len()).map(|_| None).collect();
    for gated in [true, false] {
        let family: Vec<usize> = (0..rows.len())
            .filter(|&i| rows[i].as_ref().is_some_and(|r| r.gated == gated))
            .collect();
        let m = family.iter().filter(|&&i| tests[i].is_ok()).count().max(1);
        let alpha = o.significance / m as f64;
        // Holm's step-down: significant while the k-th smallest p-value is ≤ α / (m − k).
        let mut by_p: Vec<(usize, f64)> = family
            .iter()
            .filter_map(|&i| tests[i].as_ref().ok().map(|t| (i, t.p_value())))
            .collect();
        by_p.sort_by(|a, b| a.1.total_cmp(&b.1));
        let mut significant = vec![false; rows.len()];
        for (k, (i, p)) in by_p.iter().enumerate() {
            if *p > o.significance / (m - k) as f64 {
                break;
            }
            significant[*i] = true;
        }
        for &i in &family {
            let mut row = rows[i].take().expect("each row once");
            match &tests[i] {
                Err(why) => row.note = Some(why.clone()),
                Ok(t) => {
                    let ci = t.interval(alpha);
                    // Trials spread over many orders of magnitude overflow the interval:
                    // what is not a number is left out of the row, not written as inf.
                    let finite = |x: f64| Some(x).filter(|x| x.is_finite());
                    row.ratio = finite(ci.ratio);
                    row.ci_low = finite(ci.low);
                    row.ci_high = finite(ci.high);
                    row.p_value = finite(t.p_value());
                    row.detectable_change = finite((ci.half_width.exp() - 1.0).max(o.threshold));
                    if row.ci_low.is_none() || row.ci_high.is_none() {
                        row.note = Some("the trials spread too far for an interval".into());
                    }
                    row.verdict = verdict(&ci, significant[i], row.higher_is_better, o);
                    if row.verdict == Verdict::Inconclusive {
                        row.trials_needed = t.trials_needed(alpha, o.threshold);
                    }
                }
            }
            out[i] = Some(row);
        }
    }
    out.into_iter().flatten().collect()
}

fn verdict(ci: &RatioInterval, significant: bool, higher_is_better: bool, o: &Options) -> Verdict {
    let RatioInterval {
        ratio,
        low: lo,
        high: hi,
        ..
    } = *ci;
    let (low_band, high_band) = (1.0 - o.threshold, 1.0 + o.threshold);
    if !(ratio.is_finite() && lo.is_finite() && hi.is_finite()) {
        Verdict::Inconclusive
    } else if significant && (ratio < low_band || ratio > high_band) {
        match (ratio > 1.0) == higher_is_better {
            true => Verdict::Improved,
            false => Verdict::Regressed,
        }
    } else if lo >= low_band && hi <= high_band {
        Verdict::NoChange
    } else {
        Verdict::Inconclusive
    }
}

/// A row without a test's figures (gated, lower is better): a cell's trials failing or its
/// error rate.
pub fn fixed_row(
    cell: &str,
    figure: &'static str,
    unit: &'static str,
    (base, new): (f64, f64),
    trials: (usize, usize),
    verdict: Verdict,
    note: Option<String>,
) -> Comparison {
    row(
        cell,
        figure,
        unit,
        (Some(base), Some(new)),
        trials,
        verdict,
        note,
    )
}

/// A row without a test's figures (gated, lower is better): a fixed row, or the start of a
/// tested one.
fn row(
    cell: &str,
    figure: &'static str,
    unit: &'static str,
    (base_median, new_median): (Option<f64>, Option<f64>),
    trials: (usize, usize),
    verdict: Verdict,
    note: Option<String>,
) -> Comparison {
    Comparison {
        cell: cell.to_string(),
        figure,
        unit,
        higher_is_better: false,
        gated: true,
        base_median,
        new_median,
        ratio: None,
        ci_low: None,
        ci_high: None,
        p_value: None,
        detectable_change: None,
        trials_needed: None,
        base_trials: trials.0,
        new_trials: trials.1,
        base_values: Vec::new(),
        new_values: Vec::new(),
        verdict,
        note,
    }
}

/// The error-rate row of a cell: failed / all ops, pooled over each side's trials.
pub fn error_rate_row(
    cell: &str,
    (base, new): (f64, f64),
    trials: (usize, usize),
    o: &Options,
) -> Comparison {
    let verdict = if new > base + o.max_error_rate {
        Verdict::Regressed
    } else if base > new + o.max_error_rate {
        Verdict::Improved
    } else {
        Verdict::NoChange
    };
    let note = (verdict == Verdict::Regressed).then(|| {
        format!(
            "error rate rose from {:.3}% to {:.3}% (allowed: +{:.3}%)",
            base * 100.0,
            new * 100.0,
            o.max_error_rate * 100.0
        )
    });
    fixed_row(
        cell,
        ERROR_RATE,
        "fraction",
        (base, new),
        trials,
        verdict,
        note,
    )
}

/// Failed / all ops over trials that give (failed, verified) counts; `None` without any.
pub fn pooled_error_rate(counts: impl IntoIterator<Item = (f64, f64)>) -> Option<f64> {
    let (mut failed, mut all) = (0.0, 0.0);
    for (f, ok) in counts {
        failed += f;
        all += f + ok;
    }
    (all > 0.0).then(|| failed / all)
}

impl Report {
    /// The report of judged rows, with its counts and whether the gate passes.
    pub fn new(
        comparisons: Vec<Comparison>,
        missing: Vec<String>,
        only_in_new: Vec<String>,
        o: &Options,
    ) -> Report {
        let gated = || comparisons.iter().filter(|c| c.gated);
        let count = |v: Verdict| gated().filter(|c| c.verdict == v).count();
        // Judged and inconclusive count the tested figures only: the trials and error-rate
        // rows always decide, and would flatter what the table could see.
        let tested = || gated().filter(|c| ![TRIALS, ERROR_RATE].contains(&c.figure));
        let n = tested().count();
        let inconclusive = tested()
            .filter(|c| c.verdict == Verdict::Inconclusive)
            .count();
        let (regressed, improved) = (count(Verdict::Regressed), count(Verdict::Improved));
        let passed = regressed == 0
            && (o.allow_missing || missing.is_empty())
            && (!o.fail_on_inconclusive || inconclusive == 0);
        Report {
            schema: COMPARE_SCHEMA,
            base: String::new(),
            new: String::new(),
            threshold: o.threshold,
            significance: o.significance,
            max_error_rate: o.max_error_rate,
            fail_on_inconclusive: o.fail_on_inconclusive,
            allow_missing: o.allow_missing,
            missing,
            only_in_new,
            regressed,
            improved,
            gated: n,
            judged: n - inconclusive,
            inconclusive,
            passed,
            comparisons,
        }
    }
}

/// A cell's error rate, pooled over its ok trials.
fn cell_error_rate(c: &CellSummary) -> Option<f64> {
    let (failed, ok) = (c.values(Figure::FailedOps)?, c.values(Figure::Ops)?);
    pooled_error_rate(failed.into_iter().zip(ok))
}

/// Where a run's summary is: a run folder, its summary.json, or a saved baseline.
pub fn locate(p: &Path) -> PathBuf {
    if p.is_dir() {
        p.join("summary.json")
    } else {
        p.to_path_buf()
    }
}

/// Reads a summary and checks its figures (`Summary::check`: it may come from anywhere);
/// every problem is bad input (exit 2) naming the file.
pub fn load(p: &Path) -> Result<Summary, Error> {
    let file = locate(p);
    let text = std::fs::read_to_string(&file)
        .map_err(|e| Error::Usage(format!("cannot read {}: {e}", file.display())))?;
    let s: Summary = serde_json::from_str(&text).map_err(|e| {
        Error::Usage(format!(
            "{} is not an iobench summary or baseline: {e}",
            file.display()
        ))
    })?;
    if s.schema != SUMMARY_SCHEMA {
        return Err(Error::Usage(format!(
            "{} has summary format {}, this iobench reads format {SUMMARY_SCHEMA} (each trial's values, error rates and merged latency histograms); run it again with this version",
            file.display(),
            s.schema
        )));
    }
    s.check()
        .map_err(|why| Error::Usage(format!("{} cannot be trusted: {why}", file.display())))?;
    Ok(s)
}

/// What a cell's failed trials said, shortened for a table.
fn first_reason(c: &CellSummary) -> String {
    let r = c
        .reasons
        .first()
        .map_or("no reason recorded", String::as_str);
    let r = r.lines().next().unwrap_or(r);
    match r.char_indices().nth(160) {
        Some((i, _)) => format!("{}…", &r[..i]),
        None => r.to_string(),
    }
}

fn has_ok_trials(c: &CellSummary) -> bool {
    matches!(c.status, CellStatus::Ok | CellStatus::Partial)
}

pub fn compare(base: &Summary, new: &Summary, o: &Options) -> Result<Report, Error> {
    if base.scenario != new.scenario {
        return Err(Error::Usage(format!(
            "BASE ran scenario `{}` and NEW ran `{}`; compare runs of the same scenario",
            base.scenario, new.scenario
        )));
    }
    let mut pending = Vec::new();
    let mut fixed = Vec::new();
    let mut missing = Vec::new();
    for b in base.cells.iter().filter(|b| has_ok_trials(b)) {
        let n = match new.cells.iter().find(|n| n.id == b.id) {
            None => {
                missing.push(b.id.clone());
                continue;
            }
            Some(n) if matches!(n.status, CellStatus::Skipped | CellStatus::Missing) => {
                missing.push(format!("{} ({})", b.id, first_reason(n)));
                continue;
            }
            Some(n) => n,
        };
        let trials = (b.trials.ok as usize, n.trials.ok as usize);
        if n.trials.failed > b.trials.failed {
            let note = format!(
                "{} of {} trials failed in NEW ({} in BASE): {}",
                n.trials.failed,
                n.trials.planned,
                b.trials.failed,
                first_reason(n)
            );
            fixed.push(fixed_row(
                &b.id,
                TRIALS,
                "failed trials",
                (f64::from(b.trials.failed), f64::from(n.trials.failed)),
                trials,
                Verdict::Regressed,
                Some(note),
            ));
        }
        if let (Some(rb), Some(rn)) = (cell_error_rate(b), cell_error_rate(n)) {
            fixed.push(error_rate_row(&b.id, (rb, rn), trials, o));
        }
        for f in Figure::compared() {
            if let (Some(bv), Some(nv)) = (b.values(f), n.values(f)) {
                let test = LogTest::welch(&bv, &nv);
                let mut p = Pending::new(&b.id, f, o, (&bv, &nv), test);
                // The cell's own figure where the summary has one (a p99 from the merged
                // histogram), else the median of the trials.
                p.row.base_median = b.value(f).or(p.row.base_median);
                p.row.new_median = n.value(f).or(p.row.new_median);
                pending.push(p);
            }
        }
    }
    let only_in_new = new
        .cells
        .iter()
        .filter(|c| !base.cells.iter().any(|d| d.id == c.id))
        .map(|c| c.id.clone())
        .collect();
    let mut comparisons = fixed;
    comparisons.extend(judge(pending, o));
    order_by_cell(&mut comparisons, base);
    Ok(Report::new(comparisons, missing, only_in_new, o))
}

/// Rows in the order of BASE's cells, each cell's rows in a fixed order.
fn order_by_cell(rows: &mut [Comparison], base: &Summary) {
    let rank = |c: &Comparison| {
        let cell = base.cells.iter().position(|b| b.id == c.cell);
        let fig = [TRIALS, ERROR_RATE]
            .into_iter()
            .chain(Figure::compared().map(Figure::label))
            .position(|n| n == c.figure);
        (cell, fig)
    };
    rows.sort_by_key(rank);
}

#[cfg(test)]
mod tests;
