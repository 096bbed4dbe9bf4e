//! `iobench ab`: two builds run the same scenario on the same machine with their trials
//! interleaved, then compared pair by pair.
//!
//! # How it works
//! 1. This binary reads the scenarios, starts the embedded targets and points the cells at
//!    them, as `run` does; A's and B's trials share them.
//! 2. Trial `t` of every cell runs once under A and once under B (`A-BIN trial --cell ...`),
//!    back to back, A B or B A: per cell, half the pairs each way in a shuffled order
//!    drawn from the run's seed (`--seed`, printed), so that neither build runs first more
//!    often, and both see the same noise. The cells of each round run in an order shuffled
//!    from the same seed, as in `run`.
//! 3. Records go to OUT/a and OUT/b as two ordinary run folders (run.json, results.jsonl,
//!    summary.json), so either can be reported or compared later.
//! 4. For each cell and figure, the pairs where both trials were ok give ratios B / A; the
//!    verdict comes from their geometric mean and its Student-t interval (a paired t test
//!    on the logarithms: `stats::LogTest::paired`, judged by `compare::judge`).
//!
//! Both binaries must read the cell format this one writes (`iobench trial --cell`). Each
//! side runs from its own copy (OUT/iobench-a, OUT/iobench-b), so that neither shares its
//! executable's pages with the driver or the targets (which would lower its PSS).

use std::path::{Path, PathBuf};

use crate::compare::{
    Comparison, Options, Pending, Report, TRIALS, Verdict, error_rate_row, fixed_row, judge,
    pooled_error_rate,
};
use crate::error::Error;
use crate::figure::Figure;
use crate::measure::machine::Machine;
use crate::orchestrator::{self, PrivateBinary, run_one};
use crate::plan::{Cell, RunCell, fingerprint};
use crate::record::TrialRecord;
use crate::record::TrialStatus;
use crate::report::summary::summarize;
use crate::run::{BinaryId, prepare, start_folder, write_json};
use crate::scenario::Scenario;
use crate::stats::{LogTest, Rng};

pub struct AbOutcome {
    pub report: Report,
    pub a: PathBuf,
    pub b: PathBuf,
}

/// For each trial of one cell, whether B runs first: half the pairs each way (the odd one
/// out by a draw), in a shuffled order. Balanced per cell, so that whatever running second
/// is worth (a warm page cache, a warmed target) is given to A and B alike, and drawn anew
/// for each run (`seed`), so that no cell favours the same side run after run.
fn orders(seed: u64, cell: usize, trials: u32) -> Vec<bool> {
    let mut rng = Rng::seeded(seed ^ (cell as u64).wrapping_mul(0xD1B5_4A32_D192_ED03));
    let n = trials as usize;
    let mut v: Vec<bool> = (0..n).map(|i| i < n / 2).collect();
    if n % 2 == 1 {
        v[n - 1] = rng.below(2) == 1;
    }
    for i in (1..n).rev() {
        v.swap(i, rng.below(i as u64 + 1) as usize);
    }
    v
}

pub fn run(
    a_bin: &Path,
    b_bin: &Path,
    scenarios: &[Scenario],
    out: &Path,
    opts: &Options,
    seed: u64,
) -> Result<AbOutcome, Error> {
    for bin in [a_bin, b_bin] {
        if !bin.is_file() {
            return Err(Error::Usage(format!(
                "{} is not an iobench binary (no such file)",
                bin.display()
            )));
        }
    }
    if out.join("a").join("results.jsonl").exists() {
        return Err(Error::Usage(format!(
            "{} already holds an A/B run; give --out a new folder",
            out.display()
        )));
    }
    std::fs::create_dir_all(out).map_err(anyhow::Error::from)?;
    // Each side runs from its own copy of its binary (see `orchestrator::PrivateBinary`),
    // kept beside the results.
    let a_copy = PrivateBinary::copy(a_bin, &out.join("iobench-a"), false)?;
    let b_copy = PrivateBinary::copy(b_bin, &out.join("iobench-b"), false)?;
    let (a_bin, b_bin) = (a_copy.path(), b_copy.path());
    let mut cells: Vec<RunCell> = scenarios
        .iter()
        .flat_map(Scenario::cells)
        .map(RunCell::new)
        .collect();
    let exe = std::env::current_exe().map_err(anyhow::Error::from)?;
    let targets = prepare(&exe, &mut cells)?;
    let names: Vec<String> = scenarios.iter().map(|s| s.name.clone()).collect();
    let machine = Machine::detect();
    let (a_dir, b_dir) = (out.join("a"), out.join("b"));
    let mut files = Vec::new();
    let whole = fingerprint(cells.iter().map(|c| &c.cell));
    for (dir, bin) in [(&a_dir, a_bin), (&b_dir, b_bin)] {
        std::fs::create_dir_all(dir).map_err(anyhow::Error::from)?;
        let binary = BinaryId::file(bin)?;
        files.push(start_folder(
            dir, &names, seed, &machine, None, &whole, &binary, &cells,
        )?);
    }
    orchestrator::install_interrupt_handler();
    let schedule = orchestrator::schedule(&cells, seed);
    let b_first: Vec<Vec<bool>> = (0..cells.len())
        .map(|ci| orders(seed, ci, cells[ci].trials))
        .collect();
    eprintln!("A/B order seed {seed} (repeat this order with --seed {seed})");
    let (mut ra, mut rb) = (Vec::new(), Vec::new());
    for (n, &(ci, t)) in schedule.iter().enumerate() {
        let cell = &cells[ci];
        let b_first = b_first[ci][t as usize];
        let order: [(usize, &Path); 2] = if b_first {
            [(1, b_bin), (0, a_bin)]
        } else {
            [(0, a_bin), (1, b_bin)]
        };
        for (side, bin) in order {
            if orchestrator::interrupted() {
                return Err(Error::Other(anyhow::anyhow!("interrupted")));
            }
            let record = run_one(bin, cell, t)?;
            files[side].append(&record)?;
            if side == 0 {
                ra.push(record);
            } else {
                rb.push(record);
            }
        }
        eprintln!(
            "[{}/{}] {} #{t}: {}",
            n + 1,
            schedule.len(),
            cell.id,
            if b_first { "B then A" } else { "A then B" }
        );
    }
    drop(targets);
    let scenario = names.join(", ");
    let planned: Vec<Cell> = cells.into_iter().map(|c| c.cell).collect();
    for (dir, recs) in [(&a_dir, &ra), (&b_dir, &rb)] {
        let s = summarize(&scenario, machine.clone(), &planned, recs);
        write_json(&dir.join("summary.json"), &s)?;
    }
    let report = paired(&planned, &ra, &rb, opts);
    Ok(AbOutcome {
        report,
        a: a_dir,
        b: b_dir,
    })
}

/// A figure of each trial of one cell, by trial index, from ok records only.
fn by_trial(recs: &[TrialRecord], cell: &str, f: Figure) -> Vec<(u32, Option<f64>)> {
    recs.iter()
        .filter(|r| r.cell.id == cell && r.status == TrialStatus::Ok)
        .map(|r| (r.trial, f.of_trial(&r.figures)))
        .collect()
}

/// The reasons of a cell's failed trials.
fn failed<'a>(recs: &'a [TrialRecord], cell: &str) -> Vec<Option<&'a str>> {
    recs.iter()
        .filter(|r| r.cell.id == cell && r.status == TrialStatus::Failed)
        .map(|r| r.reason.as_deref())
        .collect()
}

/// Pairs trial `t` of A and B per cell and decides each figure from the ratios B / A. A
/// cell whose B trials fail where A's did not is a regression; the error rate is pooled
/// over each side's ok trials.
fn paired(cells: &[Cell], a: &[TrialRecord], b: &[TrialRecord], o: &Options) -> Report {
    let mut pending = Vec::new();
    let mut fixed = Vec::new();
    for cell in cells {
        let (fa, fb) = (failed(a, &cell.id), failed(b, &cell.id));
        let ok = |recs: &[TrialRecord]| {
            recs.iter()
                .filter(|r| r.cell.id == cell.id && r.status == TrialStatus::Ok)
                .count()
        };
        let trials = (ok(a), ok(b));
        if fb.len() > fa.len() {
            let why = fb[0].unwrap_or("no reason recorded");
            let note = format!(
                "{} of {} trials of B failed ({} of A): {}",
                fb.len(),
                cell.trials,
                fa.len(),
                why.lines().next().unwrap_or(why)
            );
            fixed.push(fixed_row(
                &cell.id,
                TRIALS,
                "failed trials",
                (fa.len() as f64, fb.len() as f64),
                trials,
                Verdict::Regressed,
                Some(note),
            ));
        }
        let counts = |recs: &[TrialRecord]| {
            let failed = by_trial(recs, &cell.id, Figure::FailedOps);
            let okv = by_trial(recs, &cell.id, Figure::Ops);
            failed
                .into_iter()
                .zip(okv)
                .filter_map(|((_, f), (_, n))| Some((f?, n?)))
                .collect::<Vec<_>>()
        };
        if let (Some(ra), Some(rb)) = (pooled_error_rate(counts(a)), pooled_error_rate(counts(b))) {
            fixed.push(error_rate_row(&cell.id, (ra, rb), trials, o));
        }
        for f in Figure::compared() {
            let bv = by_trial(b, &cell.id, f);
            let (mut xs, mut ys, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
            for (t, x) in by_trial(a, &cell.id, f) {
                let y = bv.iter().find(|(u, _)| *u == t).and_then(|(_, y)| *y);
                if let (Some(x), Some(y)) = (x, y)
                    && x != 0.0
                {
                    xs.push(x);
                    ys.push(y);
                    ratios.push(y / x);
                }
            }
            if !ratios.is_empty() {
                let test = LogTest::paired(&ratios);
                pending.push(Pending::new(&cell.id, f, o, (&xs, &ys), test));
            }
        }
    }
    let mut comparisons = fixed;
    comparisons.extend(judge(pending, o));
    let rank = |c: &Comparison| cells.iter().position(|x| x.id == c.cell);
    comparisons.sort_by_key(rank);
    let mut report = Report::new(comparisons, Vec::new(), Vec::new(), o);
    report.base = "A".into();
    report.new = "B".into();
    report
}

#[cfg(test)]
mod tests {
    use super::orders;

    #[test]
    fn each_cell_runs_b_first_in_half_its_pairs() {
        for trials in [1, 2, 6, 7, 10] {
            for cell in 0..20 {
                let o = orders(42, cell, trials);
                assert_eq!(o.len(), trials as usize);
                let b = o.iter().filter(|&&x| x).count() as u32;
                assert!(b == trials / 2 || b == trials.div_ceil(2), "{o:?}");
            }
        }
        // The same seed repeats the order; another seed gives another one somewhere.
        let all = |seed| (0..20).map(|c| orders(seed, c, 6)).collect::<Vec<_>>();
        assert_eq!(all(7), all(7));
        assert_ne!(all(7), all(8));
    }
}
