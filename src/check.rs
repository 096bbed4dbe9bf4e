//! `iobench check` (and `run --dry-run`): the scenarios validated, their cells listed, and
//! the run's wall time estimated, without running anything. `run` prints the same
//! estimate before its first trial.
//!
//! The estimate is trials × (warm-up + window), plus trials × the start cost of a trial:
//! the wall time of a real, minimal trial process (`sleep 1ms` at C = 1 for 20 ms, its
//! window taken out), measured here. What grows with a cell's C (starting 10,000 threads, a
//! thousand worker processes, an external server) is not in it.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::orchestrator::run_one;
use crate::plan::RunCell;
use crate::scenario::Scenario;
use crate::units::HumanDuration;

/// A run's wall time, estimated.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    pub trials: u64,
    /// The trials' warm-ups and windows, summed.
    pub windows: Duration,
    /// What starting and ending one trial costs, measured; `None` where it was not.
    pub start_cost: Option<Duration>,
}

impl Estimate {
    /// The estimate of every trial of `cells`.
    pub fn of(cells: &[RunCell], start_cost: Option<Duration>) -> Estimate {
        let each = cells
            .iter()
            .flat_map(|c| std::iter::repeat_n(c, c.trials as usize));
        Estimate::of_trials(each, start_cost)
    }

    /// The estimate of these trials (a cell once per trial); skipped cells cost nothing.
    pub fn of_trials<'a>(
        trials: impl Iterator<Item = &'a RunCell>,
        start_cost: Option<Duration>,
    ) -> Estimate {
        let mut e = Estimate {
            trials: 0,
            windows: Duration::ZERO,
            start_cost,
        };
        for c in trials.filter(|c| c.skip.is_none()) {
            e.trials += 1;
            e.windows += c.warmup.0 + c.duration.0;
        }
        e
    }

    pub fn total(&self) -> Duration {
        self.windows + self.start_cost.unwrap_or_default() * self.trials as u32
    }

    /// One line: the total and what it is made of.
    pub fn describe(&self) -> String {
        let windows = format!(
            "{} trials' warm-ups and windows {}",
            self.trials,
            clock(self.windows)
        );
        match self.start_cost {
            Some(s) => format!(
                "estimated wall time {}: {windows}, and {} × {:.3} s to start and end a trial (measured)",
                clock(self.total()),
                self.trials,
                s.as_secs_f64()
            ),
            None => format!(
                "estimated wall time over {}: {windows}",
                clock(self.total())
            ),
        }
    }
}

/// `1 h 02 min`, `3 min 05 s`, `12.3 s`.
pub fn clock(d: Duration) -> String {
    let s = d.as_secs_f64();
    match s {
        s if s >= 3600.0 => format!(
            "{} h {:02} min",
            (s / 3600.0) as u64,
            ((s % 3600.0) / 60.0) as u64
        ),
        s if s >= 60.0 => format!("{} min {:02} s", (s / 60.0) as u64, (s % 60.0) as u64),
        s => format!("{s:.1} s"),
    }
}

/// The median wall time of `probes` minimal trials of `exe`, less their window:
/// what the orchestrator spends to start a trial process, let it set up and end, and read
/// its record. `None` if such a trial does not run.
pub fn start_cost(exe: &Path, probes: u32) -> Option<Duration> {
    let toml = "name = \"probe\"\n[run]\ntrials = 1\nwarmup = \"0s\"\nduration = \"20ms\"\nmodels = [\"sequential\"]\nconcurrency = [1]\n[[workload]]\nkind = \"sleep\"\nlatency = \"1ms\"\n";
    let scenario = Scenario::parse(toml, Path::new("<probe>")).ok()?;
    let cell = RunCell::new(scenario.cells().into_iter().next()?);
    let window = cell.warmup.0 + cell.duration.0;
    let mut costs: Vec<Duration> = (0..probes)
        .filter_map(|_| {
            let t0 = Instant::now();
            let r = run_one(exe, &cell, 0).ok()?;
            (r.status == crate::record::TrialStatus::Ok)
                .then(|| t0.elapsed().saturating_sub(window))
        })
        .collect();
    costs.sort();
    costs.get(costs.len() / 2).copied()
}

/// What `check` prints: each scenario's cells (of `cells`, what `run::plan` made of
/// them), then the estimate.
pub fn check(scenarios: &[Scenario], cells: &[RunCell]) -> Result<String, Error> {
    let exe = std::env::current_exe().map_err(anyhow::Error::from)?;
    let mut out = String::new();
    for s in scenarios {
        let mine: Vec<&RunCell> = cells
            .iter()
            .filter(|c| s.cells().iter().any(|d| d.id == c.id))
            .collect();
        let trials: u32 = mine.iter().map(|c| c.trials).sum();
        out += &format!(
            "{}: {} cells, {trials} trials\n",
            s.path.display(),
            mine.len()
        );
        let width = mine.iter().map(|c| c.id.len()).max().unwrap_or(0);
        for c in mine {
            out += &format!(
                "  {:width$}  {} × ({} + {})\n",
                c.id,
                c.trials,
                HumanDuration(c.warmup.0),
                HumanDuration(c.duration.0),
            );
        }
    }
    out += &Estimate::of(cells, start_cost(&exe, 3)).describe();
    out.push('\n');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_estimate_adds_the_windows_and_each_trials_start() {
        let toml = "name = \"x\"\n[run]\ntrials = 3\nwarmup = \"200ms\"\nduration = \"800ms\"\nmodels = [\"threads\", \"smol\"]\nconcurrency = [1, 10]\n[[workload]]\nkind = \"sleep\"\n";
        let s = Scenario::parse(toml, Path::new("x.toml")).unwrap();
        let cells: Vec<RunCell> = s.cells().into_iter().map(RunCell::new).collect();
        let e = Estimate::of(&cells, Some(Duration::from_millis(100)));
        assert_eq!((e.trials, e.windows), (12, Duration::from_secs(12)));
        assert_eq!(e.total(), Duration::from_millis(13_200));
        assert!(
            e.describe()
                .starts_with("estimated wall time 13.2 s: 12 trials"),
            "{}",
            e.describe()
        );
        assert_eq!(clock(Duration::from_secs(3725)), "1 h 02 min");
        assert_eq!(clock(Duration::from_secs(185)), "3 min 05 s");
    }
}
