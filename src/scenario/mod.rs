//! Scenario files: the TOML schema users write, its defaults, and validation that points at
//! the file, line and column of every mistake before anything runs.
//!
//! A scenario declares workloads and a `[run]` protocol; any `[run]` key may be overridden
//! inside a `[[workload]]` table, and the command line overrides both. [`Scenario::cells`]
//! expands it into the matrix of [`Cell`]s the orchestrator runs.

mod config;
mod error;
mod hint;
pub mod models;
mod raw;
mod run_keys;
mod spec;

#[cfg(test)]
mod run_cells;
#[cfg(test)]
mod tests;

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

pub use config::RunConfig;
pub use error::ScenarioError;
pub use run_keys::RUN_KEYS;

use crate::plan::{Cell, External, LoadMode, Model, ModelKind};
use crate::units::HumanDuration;
use crate::workload::{WorkloadKind, WorkloadSpec};
use error::Ctx;
use raw::RawScenario;
use spec::build_spec;

/// The scenario `cargo run --release` uses when no file is given.
pub const DEFAULT_SCENARIO_PATH: &str = "scenarios/quick.toml";
/// A copy of it, so the binary runs outside the source tree too.
pub const DEFAULT_SCENARIO_TOML: &str = include_str!("../../scenarios/quick.toml");

/// A parsed, validated scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    /// Where it was read from (`<built-in>` for the embedded default).
    pub path: PathBuf,
    pub workloads: Vec<(WorkloadSpec, RunConfig)>,
    /// The models it defines (`[[model]]`), which its `models` lists may name.
    pub externals: Vec<External>,
}

impl Scenario {
    /// Every cell, in the order workloads, models and concurrencies are written.
    pub fn cells(&self) -> Vec<Cell> {
        let mut out = Vec::new();
        for (spec, run) in &self.workloads {
            for model in &run.models {
                let (kind, external) = match model {
                    Model::Own(m) => (*m, None),
                    Model::External(e) => (ModelKind::External, Some((**e).clone())),
                };
                for &c in &run.concurrency {
                    // A second load generator (wrk) runs its own warm-up and window.
                    // Saturating: `apply` takes the command line's durations unbounded.
                    let window = run.warmup.saturating_add(run.duration);
                    let extra = match spec.uses_wrk() {
                        true => window.saturating_add(Duration::from_secs(2)),
                        false => Duration::ZERO,
                    };
                    let timeout = run.trial_timeout.unwrap_or(
                        window
                            .saturating_add(extra)
                            .saturating_add(Duration::from_secs(30)),
                    );
                    out.push(Cell {
                        id: format!(
                            "{}/{}/c{}/{}{}",
                            spec.label(),
                            model.name(),
                            c,
                            run.mode.name(),
                            run.rate.map_or(String::new(), |r| format!("@{r}/s"))
                        ),
                        workload: spec.clone(),
                        model: kind,
                        external: external.clone(),
                        concurrency: c,
                        mode: run.mode,
                        rate: run.rate,
                        warmup: HumanDuration(run.warmup),
                        duration: HumanDuration(run.duration),
                        trials: run.trials,
                        pool_size: run.pool_size,
                        process_cap: run.process_cap,
                        event_loops: run.event_loops,
                        trial_timeout: HumanDuration(timeout),
                        max_error_rate: run.max_error_rate,
                    });
                }
            }
        }
        out
    }

    /// Applies command-line overrides to every workload and drops unselected workloads.
    pub fn apply(&mut self, o: &Overrides) -> Result<(), String> {
        if let Some(kinds) = &o.workloads {
            self.workloads
                .retain(|(spec, _)| kinds.contains(&spec.kind()));
            if self.workloads.is_empty() {
                return Err(format!(
                    "--workloads {} selects none of the workloads of scenario `{}`",
                    kinds.iter().map(|k| k.name()).collect::<Vec<_>>().join(","),
                    self.name
                ));
            }
        }
        for (spec, run) in &mut self.workloads {
            if let Some(t) = &o.target {
                spec.set_target(t);
            }
            if let Some(names) = &o.models {
                let mut m = Vec::new();
                for n in names {
                    let model = match ModelKind::from_name(n) {
                        Some(k) => Model::Own(k),
                        None => match self.externals.iter().find(|e| &e.name == n) {
                            Some(e) => Model::External(Box::new(e.clone())),
                            None => {
                                return Err(format!(
                                    "--models: unknown model `{n}` (`iobench list` shows iobench's models; scenario `{}` defines {})",
                                    self.name,
                                    defined(&self.externals)
                                ));
                            }
                        },
                    };
                    m.push(model);
                }
                if let Some(bad) = m.iter().find(|m| !m.runs(spec.kind())) {
                    return Err(format!(
                        "--models {}: `{}` does not run workload `{}` of scenario `{}` ({})",
                        names.join(","),
                        bad.name(),
                        spec.kind().name(),
                        self.name,
                        runs_what(bad)
                    ));
                }
                run.models = m;
            }
            if let Some(c) = &o.concurrency {
                run.concurrency = c.clone();
            }
            if let Some(t) = o.trials {
                run.trials = t;
            }
            if let Some(w) = o.warmup {
                run.warmup = w;
            }
            if let Some(d) = o.duration {
                run.duration = d;
            }
        }
        Ok(())
    }
}

/// The names of a scenario's `[[model]]`s, for messages.
fn defined(externals: &[External]) -> String {
    match externals.is_empty() {
        true => "none".into(),
        false => externals
            .iter()
            .map(|e| e.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// What a model runs, for messages.
fn runs_what(m: &Model) -> String {
    match m {
        Model::Own(m) => format!("{} runs tcp-echo, disk-read and disk-write", m.name()),
        Model::External(e) => format!(
            "{} runs {}",
            e.name,
            e.runs
                .iter()
                .map(|k| k.name())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Command-line overrides of a scenario's `[run]` keys.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// Model names: iobench's own, or the scenario's `[[model]]`s.
    pub models: Option<Vec<String>>,
    pub concurrency: Option<Vec<u32>>,
    pub trials: Option<u32>,
    pub warmup: Option<Duration>,
    pub duration: Option<Duration>,
    pub workloads: Option<Vec<WorkloadKind>>,
    /// `host:port` for every workload that talks to a target.
    pub target: Option<String>,
}

impl Scenario {
    /// Reads and validates a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let src = std::fs::read_to_string(path).map_err(|e| ScenarioError {
            path: path.to_path_buf(),
            location: None,
            message: format!("cannot read the scenario: {e}"),
            hint: Some("give the path of a .toml file; scenarios/ holds examples".into()),
            source_line: None,
            span_len: 0,
        })?;
        Scenario::parse(&src, path)
    }

    /// Parses and validates scenario text; `path` is used in messages.
    pub fn parse(src: &str, path: &Path) -> Result<Scenario, ScenarioError> {
        let ctx = Ctx { path, src };
        let raw: RawScenario = toml::from_str(src).map_err(|e| ctx.toml_error(e))?;
        if raw.name.get_ref().trim().is_empty() {
            return Err(ctx.err(
                raw.name.span(),
                "`name` is empty",
                Some("give the scenario a short name, e.g. name = \"quick\"".into()),
            ));
        }
        if raw.workload.is_empty() {
            return Err(ctx.err(
                0..0,
                "the scenario declares no workload",
                Some(
                    "add a table such as\n[[workload]]\nkind = \"sleep\"\nlatency = \"10ms\""
                        .into(),
                ),
            ));
        }
        let externals = models::externals(&ctx, &raw.model, path)?;
        let mut base = RunConfig::default();
        raw.run.overlay(&ctx, &mut base, &externals)?;
        let mut workloads = Vec::new();
        for w in &raw.workload {
            let spec = build_spec(&ctx, w)?;
            let mut run = base.clone();
            let table = &w.get_ref().run;
            table.overlay(&ctx, &mut run, &externals)?;
            let span_of =
                |a: Option<Range<usize>>, b: Option<Range<usize>>| a.or(b).unwrap_or(w.span());
            let mismatch = match (run.mode, run.rate) {
                (LoadMode::Open, None) => Some((
                    table.mode.as_ref().map(Spanned::span),
                    raw.run.mode.as_ref().map(Spanned::span),
                    "mode = \"open\" needs a rate",
                    "add rate = 5000 (ops per second, all workers together)",
                )),
                (LoadMode::Closed, Some(_)) => Some((
                    table.rate.as_ref().map(Spanned::span),
                    raw.run.rate.as_ref().map(Spanned::span),
                    "`rate` only applies to mode = \"open\"",
                    "add mode = \"open\", or remove rate",
                )),
                _ => None,
            };
            if let Some((here, base, message, hint)) = mismatch {
                return Err(ctx.err(span_of(here, base), message, Some(hint.into())));
            }
            if let Some(m) = run.models.iter().find(|m| !m.runs(spec.kind())) {
                let span = span_of(
                    table.models.as_ref().map(Spanned::span),
                    raw.run.models.as_ref().map(Spanned::span),
                );
                return Err(ctx.err(
                    span,
                    format!("model `{}` does not run workload `{}`", m.name(), spec.kind().name()),
                    Some(format!(
                        "{}; list the models in that workload's own table, e.g. models = [\"threads\", \"io-uring\"]",
                        runs_what(m)
                    )),
                ));
            }
            workloads.push((spec, run));
        }
        Ok(Scenario {
            name: raw.name.into_inner(),
            description: raw.description,
            path: path.to_path_buf(),
            workloads,
            externals,
        })
    }
}
