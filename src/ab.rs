//! `iobench ab`: two builds run the same scenario on the same machine with their trials
//! interleaved, then compared pair by pair.
//!
//! # How it works
//! 1. This binary reads the scenarios, starts the embedded targets and points the cells at
//!    them, as `run` does; A's and B's trials share them.
//! 2. Trial `t` of every cell runs once under A and once under B (`A-BIN trial --cell ...`),
//!    back to back, A B or B A: per cell, half the pairs each way in a shuffled order
//!    drawn from the run's seed (`--seed`, printed), so that neither build runs first more
//!    often, and both see the same noise.
//! 3. Records go to OUT/a and OUT/b as two ordinary run folders (run.json, results.jsonl,
//!    summary.json), so either can be reported or compared later.
//! 4. For each cell and figure, the pairs where both trials were ok give ratios B / A; the
//!    verdict comes from their geometric mean and its Student-t interval (a paired t test
//!    on the logarithms; `compare::decide_paired`).
//!
//! Both binaries must read the cell format this one writes (`iobench trial --cell`). Each
//! side runs from its own copy (OUT/iobench-a, OUT/iobench-b), so that neither shares its
//! executable's pages with the driver or the targets (which would lower its PSS).

use std::path::{Path, PathBuf};

use crate::compare::{Comparison, FIGURES, Options, Report, Verdict, decide_paired, median};
use crate::error::Error;
use crate::measure::TrialRecord;
use crate::measure::machine::Machine;
use crate::measure::record::{TrialStatus, utc_now_rfc3339};
use crate::orchestrator::{self, ResultsFile, run_one};
use crate::report::summary::summarize;
use crate::run::{RunInfo, prepare, write_json};
use crate::scenario::{Cell, Scenario};
use crate::stats::Rng;

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

/// A seed for the order when none is given: the clock's nanoseconds.
pub fn fresh_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
}

fn figure(r: &TrialRecord, path: &str) -> Option<f64> {
    let v = serde_json::to_value(&r.figures).ok()?;
    let mut v = &v;
    for part in path.split('.') {
        v = v.get(part)?;
    }
    v.as_f64()
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
    // Each side runs from its own copy of its binary. A binary file that other processes
    // also run (this driver, the embedded targets) shares its text pages with them, and
    // PSS would charge that side only a part of them: a memory "improvement" from nothing.
    let a_copy = out.join("iobench-a");
    let b_copy = out.join("iobench-b");
    for (from, to) in [(a_bin, &a_copy), (b_bin, &b_copy)] {
        std::fs::copy(from, to).map_err(|e| {
            anyhow::anyhow!("cannot copy {} to {}: {e}", from.display(), to.display())
        })?;
    }
    let (a_bin, b_bin) = (a_copy.as_path(), b_copy.as_path());
    let mut cells: Vec<Cell> = scenarios.iter().flat_map(Scenario::cells).collect();
    let exe = std::env::current_exe().map_err(anyhow::Error::from)?;
    let targets = prepare(&exe, &mut cells)?;
    let names: Vec<String> = scenarios.iter().map(|s| s.name.clone()).collect();
    let machine = Machine::detect();
    let (a_dir, b_dir) = (out.join("a"), out.join("b"));
    let mut files = Vec::new();
    for dir in [&a_dir, &b_dir] {
        std::fs::create_dir_all(dir).map_err(anyhow::Error::from)?;
        write_json(
            &dir.join("run.json"),
            &RunInfo {
                scenarios: names.clone(),
                started_at: utc_now_rfc3339(),
                machine: &machine,
                cells: &cells,
            },
        )?;
        files.push(ResultsFile::create(&dir.join("results.jsonl"))?);
    }
    orchestrator::install_interrupt_handler();
    let schedule = orchestrator::schedule(&cells);
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
    for (dir, recs) in [(&a_dir, &ra), (&b_dir, &rb)] {
        let s = summarize(&scenario, machine.clone(), &cells, recs);
        write_json(&dir.join("summary.json"), &s)?;
    }
    let report = paired(&cells, &ra, &rb, opts);
    Ok(AbOutcome {
        report,
        a: a_dir,
        b: b_dir,
    })
}

/// Pairs trial `t` of A and B per cell and decides each figure from the ratios B / A.
fn paired(cells: &[Cell], a: &[TrialRecord], b: &[TrialRecord], o: &Options) -> Report {
    let mut found = Vec::new();
    for cell in cells {
        for f in &FIGURES {
            let mut av = Vec::new();
            let mut bv = Vec::new();
            let mut ratios = Vec::new();
            for ta in a
                .iter()
                .filter(|r| r.cell.id == cell.id && r.status == TrialStatus::Ok)
            {
                let Some(tb) = b.iter().find(|r| {
                    r.cell.id == cell.id && r.trial == ta.trial && r.status == TrialStatus::Ok
                }) else {
                    continue;
                };
                if let (Some(x), Some(y)) = (figure(ta, f.path), figure(tb, f.path))
                    && x != 0.0
                {
                    av.push(x);
                    bv.push(y);
                    ratios.push(y / x);
                }
            }
            if !ratios.is_empty() {
                found.push((cell, f, av, bv, ratios));
            }
        }
    }
    let per_test = o.per_test(found.len());
    let mut comparisons = Vec::new();
    for (cell, f, mut av, mut bv, ratios) in found {
        {
            let (ratio, ci_low, ci_high, verdict) =
                decide_paired(&ratios, f.higher_is_better, &per_test);
            comparisons.push(Comparison {
                cell: cell.id.clone(),
                figure: f.name,
                unit: f.unit,
                higher_is_better: f.higher_is_better,
                base_median: median(&mut av),
                new_median: median(&mut bv),
                ratio,
                ci_low,
                ci_high,
                base_trials: ratios.len(),
                new_trials: ratios.len(),
                verdict,
            });
        }
    }
    let count = |v: Verdict| comparisons.iter().filter(|c| c.verdict == v).count();
    Report {
        base: "A".into(),
        new: "B".into(),
        threshold: o.threshold,
        significance: o.significance,
        regressed: count(Verdict::Regressed),
        improved: count(Verdict::Improved),
        only_in_base: Vec::new(),
        only_in_new: Vec::new(),
        comparisons,
    }
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
