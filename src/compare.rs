//! `iobench compare BASE NEW`: for each cell in both runs and each compared figure, a
//! verdict from the trials' distributions (improved, regressed, no change, inconclusive),
//! as a Markdown table and a JSON verdict file.
//!
//! # How a verdict is reached
//! 1. The ratio of medians NEW / BASE, and its bootstrap confidence interval: both sides'
//!    trials resampled with replacement (a fixed seed, so the same inputs give the same
//!    answer), the ratio of the resampled medians taken each time, and the interval
//!    between the `significance / 2` and `1 - significance / 2` quantiles.
//! 2. The change is *significant* when the interval excludes 1, and *large* when the point
//!    ratio is more than `threshold` away from 1. `significance` holds for the whole table:
//!    each of its m comparisons is tested at `significance / m` (Bonferroni), so a run of
//!    dozens of noisy figures does not raise a false alarm every other time. Improved or regressed needs both, in the
//!    figure's better or worse direction. No change: the whole interval lies within the
//!    threshold. Anything else is inconclusive: the trials are too noisy to say.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::Error;
use crate::report::summary::{CellSummary, SUMMARY_SCHEMA, Summary};
use crate::stats::{Rng, student_t_quantile};

/// A compared figure and the direction that is better.
pub struct Figure {
    pub path: &'static str,
    pub name: &'static str,
    pub unit: &'static str,
    pub higher_is_better: bool,
}

pub const FIGURES: [Figure; 4] = [
    Figure {
        path: "throughput_ops_per_sec",
        name: "throughput",
        unit: "ops/s",
        higher_is_better: true,
    },
    Figure {
        path: "latency_us.p99",
        name: "p99 latency",
        unit: "µs",
        higher_is_better: false,
    },
    Figure {
        path: "peak_pss_bytes",
        name: "peak memory",
        unit: "bytes",
        higher_is_better: false,
    },
    Figure {
        path: "cpu_secs_per_1k_ops",
        name: "CPU per 1k ops",
        unit: "s",
        higher_is_better: false,
    },
];

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
    /// Significance level of the bootstrap interval.
    pub significance: f64,
    pub resamples: usize,
}

impl Options {
    /// The options of one of `m` tests of a table (Bonferroni).
    pub fn per_test(&self, m: usize) -> Options {
        Options {
            significance: self.significance / m.max(1) as f64,
            ..*self
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            threshold: 0.05,
            significance: 0.01,
            resamples: 4000,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Comparison {
    pub cell: String,
    pub figure: &'static str,
    pub unit: &'static str,
    pub higher_is_better: bool,
    pub base_median: f64,
    pub new_median: f64,
    /// NEW / BASE: of the medians (`compare`), or the geometric mean of the pairs' ratios
    /// (`ab`).
    pub ratio: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub base_trials: usize,
    pub new_trials: usize,
    pub verdict: Verdict,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub base: String,
    pub new: String,
    pub threshold: f64,
    pub significance: f64,
    pub comparisons: Vec<Comparison>,
    /// Cells in one run only.
    pub only_in_base: Vec<String>,
    pub only_in_new: Vec<String>,
    pub regressed: usize,
    pub improved: usize,
}

pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The bootstrap interval of the ratio of medians NEW / BASE.
pub fn bootstrap_ratio(base: &[f64], new: &[f64], o: &Options) -> (f64, f64) {
    let mut rng = Rng::seeded(1); // fixed: verdicts are reproducible
    let mut ratios = Vec::with_capacity(o.resamples);
    let (mut b, mut n) = (vec![0.0; base.len()], vec![0.0; new.len()]);
    for _ in 0..o.resamples {
        for x in &mut b {
            *x = base[rng.below(base.len() as u64) as usize];
        }
        for x in &mut n {
            *x = new[rng.below(new.len() as u64) as usize];
        }
        let (mb, mn) = (median(&mut b), median(&mut n));
        if mb != 0.0 {
            ratios.push(mn / mb);
        }
    }
    if ratios.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    ratios.sort_by(f64::total_cmp);
    let q = |p: f64| ratios[((ratios.len() - 1) as f64 * p).round() as usize];
    (q(o.significance / 2.0), q(1.0 - o.significance / 2.0))
}

/// The verdict of one figure from its trials.
pub fn decide(
    base: &[f64],
    new: &[f64],
    higher_is_better: bool,
    o: &Options,
) -> (f64, f64, f64, Verdict) {
    let ratio = median(&mut new.to_vec()) / median(&mut base.to_vec());
    let (lo, hi) = bootstrap_ratio(base, new, o);
    (ratio, lo, hi, verdict(ratio, lo, hi, higher_is_better, o))
}

/// The verdict of paired trials (A and B run back to back): from the ratios B / A of each
/// pair, their geometric mean and its Student-t interval (a paired t test on the ratios'
/// logarithms). A bootstrap of so few pairs cannot reach a table-wide level: with 6 pairs,
/// its interval at 0.01 / 84 is the range of the pairs, so six ratios above 1, which
/// chance gives one cell in 64, read as a change. The t interval widens with the spread.
pub fn decide_paired(
    ratios: &[f64],
    higher_is_better: bool,
    o: &Options,
) -> (f64, f64, f64, Verdict) {
    let logs: Vec<f64> = ratios.iter().map(|r| r.ln()).collect();
    let n = logs.len() as f64;
    let mean = logs.iter().sum::<f64>() / n;
    if logs.len() < 2 {
        return (mean.exp(), f64::NAN, f64::NAN, Verdict::Inconclusive);
    }
    let var = logs.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let t = student_t_quantile(1.0 - o.significance / 2.0, n - 1.0);
    let half = t * (var / n).sqrt();
    let (ratio, lo, hi) = (mean.exp(), (mean - half).exp(), (mean + half).exp());
    (ratio, lo, hi, verdict(ratio, lo, hi, higher_is_better, o))
}

fn verdict(ratio: f64, lo: f64, hi: f64, higher_is_better: bool, o: &Options) -> Verdict {
    let (low_band, high_band) = (1.0 - o.threshold, 1.0 + o.threshold);
    if !ratio.is_finite() || !lo.is_finite() {
        Verdict::Inconclusive
    } else if lo >= low_band && hi <= high_band {
        Verdict::NoChange
    } else if (hi < 1.0 && ratio < low_band) || (lo > 1.0 && ratio > high_band) {
        let up = lo > 1.0;
        if up == higher_is_better {
            Verdict::Improved
        } else {
            Verdict::Regressed
        }
    } else {
        Verdict::Inconclusive
    }
}

fn values(c: &CellSummary, path: &str) -> Option<Vec<f64>> {
    let mut v = c.figures.get(path.split('.').next()?)?;
    for part in path.split('.').skip(1) {
        v = v.get(part)?;
    }
    let vals: Vec<f64> = v
        .get("values")?
        .as_array()?
        .iter()
        .filter_map(|x| x.as_f64())
        .collect();
    (!vals.is_empty()).then_some(vals)
}

/// Where a run's summary is: a run folder, its summary.json, or a saved baseline.
pub fn locate(p: &Path) -> PathBuf {
    if p.is_dir() {
        p.join("summary.json")
    } else {
        p.to_path_buf()
    }
}

/// Reads a summary; every problem is bad input (exit 2) naming the file.
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
            "{} has summary format {}, this iobench reads format {SUMMARY_SCHEMA} (it keeps each trial's values); run it again with this version",
            file.display(),
            s.schema
        )));
    }
    Ok(s)
}

pub fn compare(base: &Summary, new: &Summary, o: &Options) -> Result<Report, Error> {
    if base.scenario != new.scenario {
        return Err(Error::Usage(format!(
            "BASE ran scenario `{}` and NEW ran `{}`; compare runs of the same scenario",
            base.scenario, new.scenario
        )));
    }
    let mut pairs = Vec::new();
    for b in &base.cells {
        let Some(n) = new.cells.iter().find(|n| n.id == b.id) else {
            continue;
        };
        for f in &FIGURES {
            if let (Some(bv), Some(nv)) = (values(b, f.path), values(n, f.path)) {
                pairs.push((b, f, bv, nv));
            }
        }
    }
    let per_test = o.per_test(pairs.len());
    let mut comparisons = Vec::new();
    for (b, f, bv, nv) in pairs {
        {
            let (ratio, ci_low, ci_high, verdict) = decide(&bv, &nv, f.higher_is_better, &per_test);
            comparisons.push(Comparison {
                cell: b.id.clone(),
                figure: f.name,
                unit: f.unit,
                higher_is_better: f.higher_is_better,
                base_median: median(&mut bv.clone()),
                new_median: median(&mut nv.clone()),
                ratio,
                ci_low,
                ci_high,
                base_trials: bv.len(),
                new_trials: nv.len(),
                verdict,
            });
        }
    }
    let only = |a: &Summary, b: &Summary| {
        a.cells
            .iter()
            .filter(|c| !b.cells.iter().any(|d| d.id == c.id))
            .map(|c| c.id.clone())
            .collect::<Vec<_>>()
    };
    let count = |v: Verdict| comparisons.iter().filter(|c| c.verdict == v).count();
    Ok(Report {
        base: String::new(),
        new: String::new(),
        threshold: o.threshold,
        significance: o.significance,
        regressed: count(Verdict::Regressed),
        improved: count(Verdict::Improved),
        only_in_base: only(base, new),
        only_in_new: only(new, base),
        comparisons,
    })
}

fn pct(r: f64) -> String {
    format!("{:+.1}%", (r - 1.0) * 100.0)
}

/// The Markdown table of a comparison (for the console, a job summary or a PR comment).
pub fn markdown(r: &Report) -> String {
    use crate::report::markdown::md;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "## iobench compare\n\nBASE `{}` → NEW `{}`: {} regressed, {} improved, {} compared (noise threshold ±{:.0}%, significance {} for the table, Bonferroni).\n",
        md(&r.base),
        md(&r.new),
        r.regressed,
        r.improved,
        r.comparisons.len(),
        r.threshold * 100.0,
        r.significance
    );
    let _ = writeln!(
        o,
        "| cell | figure | better | BASE | NEW | change | interval | verdict |\n|---|---|---|---|---|---|---|---|"
    );
    for c in &r.comparisons {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {:.4} | {:.4} | {} | {} … {} | {} |",
            md(&c.cell),
            c.figure,
            if c.higher_is_better {
                "higher"
            } else {
                "lower"
            },
            c.base_median,
            c.new_median,
            pct(c.ratio),
            pct(c.ci_low),
            pct(c.ci_high),
            c.verdict.text()
        );
    }
    for (name, list) in [("BASE", &r.only_in_base), ("NEW", &r.only_in_new)] {
        if !list.is_empty() {
            let _ = writeln!(o, "\nCells only in {name}, not compared:");
            for c in list {
                let _ = writeln!(o, "- `{}`", md(c));
            }
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paired_verdicts_need_more_than_six_ratios_on_one_side() {
        // A table of 84 comparisons, as scenarios/ci.toml gives.
        let o = Options::default().per_test(84);
        // The false regression a bootstrap gave in an A/A run: six noisy ratios above 1.
        let noisy = [1.008, 1.09, 1.12, 1.13, 1.25, 1.49];
        assert_eq!(decide_paired(&noisy, false, &o).3, Verdict::Inconclusive);
        // A steady 10% drop in throughput is a regression, and the same rise an improvement.
        let drop = [0.905, 0.9, 0.895, 0.91, 0.9, 0.902];
        assert_eq!(decide_paired(&drop, true, &o).3, Verdict::Regressed);
        let rise: Vec<f64> = drop.iter().map(|r| 1.0 / r).collect();
        assert_eq!(decide_paired(&rise, true, &o).3, Verdict::Improved);
        // Steady ratios near 1 are no change; one pair decides nothing.
        let same = [1.001, 0.999, 1.0, 1.002, 0.998, 1.0];
        assert_eq!(decide_paired(&same, true, &o).3, Verdict::NoChange);
        assert_eq!(decide_paired(&[0.5], true, &o).3, Verdict::Inconclusive);
    }

    #[test]
    fn identical_trials_are_no_change() {
        let v = [100.0, 101.0, 99.0, 100.5, 99.5];
        assert_eq!(
            decide(&v, &v, true, &Options::default()).3,
            Verdict::NoChange
        );
    }

    #[test]
    fn a_tight_drop_in_throughput_is_a_regression() {
        let b = [100.0, 101.0, 99.0, 100.5, 99.5];
        let n: Vec<f64> = b.iter().map(|x| x * 0.8).collect();
        assert_eq!(
            decide(&b, &n, true, &Options::default()).3,
            Verdict::Regressed
        );
        // The same drop in a lower-is-better figure is an improvement.
        assert_eq!(
            decide(&b, &n, false, &Options::default()).3,
            Verdict::Improved
        );
    }

    #[test]
    fn a_drop_inside_wide_noise_is_inconclusive() {
        let b = [60.0, 140.0, 100.0, 75.0, 125.0];
        let n: Vec<f64> = b.iter().map(|x| x * 0.8).collect();
        assert_eq!(
            decide(&b, &n, true, &Options::default()).3,
            Verdict::Inconclusive
        );
    }

    #[test]
    fn a_small_significant_change_is_no_change() {
        let b = [100.0, 100.1, 99.9, 100.05, 99.95];
        let n: Vec<f64> = b.iter().map(|x| x * 0.98).collect();
        assert_eq!(
            decide(&b, &n, true, &Options::default()).3,
            Verdict::NoChange
        );
    }
}
