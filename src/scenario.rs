//! Scenario files: the TOML schema users write, its defaults, and validation that points at
//! the file, line and column of every mistake before anything runs.
//!
//! A scenario declares workloads and a `[run]` protocol; any `[run]` key may be overridden
//! inside a `[[workload]]` table, and the command line overrides both. [`Scenario::cells`]
//! expands it into the matrix of [`Cell`]s the orchestrator runs.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use toml::Spanned;

use crate::plan::{Cell, DEFAULT_MAX_ERROR_RATE, LoadMode, ModelKind};
use crate::units::HumanDuration;
use crate::workload::params::Invalid;
use crate::workload::{WorkloadKind, WorkloadSpec};

/// The scenario `cargo run --release` uses when no file is given.
pub const DEFAULT_SCENARIO_PATH: &str = "scenarios/quick.toml";
/// A copy of it, so the binary runs outside the source tree too.
pub const DEFAULT_SCENARIO_TOML: &str = include_str!("../scenarios/quick.toml");

/// The run protocol of one workload, after defaults and overrides.
#[derive(Clone, Debug, PartialEq)]
pub struct RunConfig {
    pub trials: u32,
    pub warmup: Duration,
    pub duration: Duration,
    pub mode: LoadMode,
    /// Open mode: ops per second, all workers together.
    pub rate: Option<f64>,
    pub models: Vec<ModelKind>,
    pub concurrency: Vec<u32>,
    pub pool_size: u32,
    pub process_cap: u32,
    /// Processes of the async-processes model (one event loop each); default: the cores.
    pub event_loops: u32,
    /// Hard limit on one trial's wall time; default warm-up + duration + 30 s.
    pub trial_timeout: Option<Duration>,
    /// A trial whose failed ops exceed this fraction of its ops fails.
    pub max_error_rate: f64,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            trials: 3,
            warmup: Duration::from_secs(1),
            duration: Duration::from_secs(3),
            mode: LoadMode::Closed,
            rate: None,
            models: ModelKind::SUBJECTS.to_vec(),
            concurrency: vec![1, 16, 256],
            pool_size: 64,
            process_cap: 64,
            event_loops: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
            trial_timeout: None,
            max_error_rate: DEFAULT_MAX_ERROR_RATE,
        }
    }
}

/// A parsed, validated scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    /// Where it was read from (`<built-in>` for the embedded default).
    pub path: PathBuf,
    pub workloads: Vec<(WorkloadSpec, RunConfig)>,
}

impl Scenario {
    /// Every cell, in the order workloads, models and concurrencies are written.
    pub fn cells(&self) -> Vec<Cell> {
        let mut out = Vec::new();
        for (spec, run) in &self.workloads {
            for &model in &run.models {
                for &c in &run.concurrency {
                    // A second load generator (wrk) runs its own warm-up and window.
                    let extra = match spec.uses_wrk() {
                        true => run.warmup + run.duration + Duration::from_secs(2),
                        false => Duration::ZERO,
                    };
                    let timeout = run
                        .trial_timeout
                        .unwrap_or(run.warmup + run.duration + extra + Duration::from_secs(30));
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
                        model,
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
            if let Some(m) = &o.models {
                if let Some(bad) = m.iter().find(|m| !m.runs(spec.kind())) {
                    return Err(format!(
                        "--models {}: `{}` does not run workload `{}` of scenario `{}` ({} runs tcp-echo, disk-read and disk-write)",
                        m.iter().map(|m| m.name()).collect::<Vec<_>>().join(","),
                        bad.name(),
                        spec.kind().name(),
                        self.name,
                        bad.name()
                    ));
                }
                run.models = m.clone();
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

/// Command-line overrides of a scenario's `[run]` keys.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub models: Option<Vec<ModelKind>>,
    pub concurrency: Option<Vec<u32>>,
    pub trials: Option<u32>,
    pub warmup: Option<Duration>,
    pub duration: Option<Duration>,
    pub workloads: Option<Vec<WorkloadKind>>,
    /// `host:port` for every workload that talks to a target.
    pub target: Option<String>,
}

// ---------------------------------------------------------------------------------------
// Errors that point into the file.

/// A mistake in a scenario file, with where it is and how to fix it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioError {
    pub path: PathBuf,
    /// 1-based line and column; `None` when the file could not be read.
    pub location: Option<(usize, usize)>,
    pub message: String,
    pub hint: Option<String>,
    /// The offending source line, for display.
    pub source_line: Option<String>,
    pub span_len: usize,
}

impl std::error::Error for ScenarioError {}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        match self.location {
            Some((line, col)) => {
                writeln!(f, "{path}:{line}:{col}: {}", self.message)?;
                if let Some(src) = &self.source_line {
                    let gutter = line.to_string().len();
                    writeln!(f, "{:gutter$} |", "")?;
                    writeln!(f, "{line} | {src}")?;
                    let pad = src
                        .chars()
                        .take(col - 1)
                        .map(|c| if c == '\t' { '\t' } else { ' ' });
                    let marks = "^".repeat(
                        self.span_len
                            .clamp(1, src.len().saturating_sub(col - 1).max(1)),
                    );
                    writeln!(f, "{:gutter$} | {}{marks}", "", pad.collect::<String>())?;
                }
            }
            None => writeln!(f, "{path}: {}", self.message)?,
        }
        if let Some(h) = &self.hint {
            write!(f, "hint: {h}")?;
        }
        Ok(())
    }
}

fn locate(src: &str, offset: usize) -> (usize, usize, String) {
    let offset = offset.min(src.len());
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = src[line_start..offset].chars().count() + 1;
    let text = src[line_start..].lines().next().unwrap_or("").to_string();
    (line, col, text)
}

struct Ctx<'a> {
    path: &'a Path,
    src: &'a str,
}

impl Ctx<'_> {
    fn err(
        &self,
        span: Range<usize>,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> ScenarioError {
        let (line, col, text) = locate(self.src, span.start);
        let len = self.src[span.start.min(self.src.len())..span.end.min(self.src.len())]
            .lines()
            .next()
            .map_or(1, |l| l.chars().count());
        ScenarioError {
            path: self.path.to_path_buf(),
            location: Some((line, col)),
            message: message.into(),
            hint,
            source_line: Some(text),
            span_len: len,
        }
    }

    fn toml_error(&self, e: toml::de::Error) -> ScenarioError {
        let message = e.message().trim().to_string();
        let hint = hint_for(&message);
        self.err(e.span().unwrap_or(0..0), message, Some(hint))
    }
}

fn hint_for(message: &str) -> String {
    let h = if message.contains("unknown field") {
        return format!(
            "check the spelling; `iobench list` shows every workload's parameters, and the [run] keys are: {}",
            RUN_KEYS.join(", ")
        );
    } else if message.contains("unknown variant") && message.contains("sequential") {
        "`iobench list` shows every model with a one-line description"
    } else if message.contains("unknown variant") && message.contains("closed") {
        "only the closed loop exists so far: mode = \"closed\""
    } else if message.contains("unknown variant") {
        "`iobench list` shows every workload kind"
    } else if message.contains("duration") {
        "durations are strings with a unit, e.g. warmup = \"1s\", latency = \"10ms\""
    } else if message.contains("missing field") {
        "add the field; see scenarios/quick.toml for a complete example"
    } else {
        "the file must be valid TOML (see toml.io); scenarios/quick.toml is a complete example"
    };
    h.to_string()
}

// ---------------------------------------------------------------------------------------
// Raw TOML shape.

/// Declares a `[run]` value type that is checked where it is written: `$name($inner)`,
/// read as a `$from` and made by `$make` (or refused with its message).
macro_rules! checked {
    ($(#[$doc:meta])* $name:ident($inner:ty) from $from:ty, |$v:ident| $make:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug)]
        struct $name($inner);

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let $v = <$from>::deserialize(d)?;
                let made: Result<$inner, String> = $make;
                made.map($name).map_err(serde::de::Error::custom)
            }
        }
    };
}

checked!(
    /// A strictly positive integer; 0 and negatives are rejected where they are written.
    Positive(u32) from i64, |v| match u32::try_from(v) {
        Ok(0) => Err("must be at least 1, got 0".into()),
        Ok(n) => Ok(n),
        Err(_) if v < 0 => Err(format!("must be at least 1, got {v}")),
        Err(_) => Err(format!("{v} is too large")),
    }
);

checked!(
    /// A rate in ops per second, above zero.
    PositiveRate(f64) from f64, |v| match v.is_finite() && v > 0.0 {
        true => Ok(v),
        false => Err(format!("rate must be above 0 ops per second, got {v}")),
    }
);

checked!(
    /// A fraction from 0 to 1.
    Fraction(f64) from f64, |v| match (0.0..=1.0).contains(&v) {
        true => Ok(v),
        false => Err(format!("must be a fraction from 0 to 1 (0.01 is 1%), got {v}")),
    }
);

checked!(
    /// A duration longer than zero.
    NonZeroDuration(Duration) from HumanDuration, |h| match h.0.is_zero() {
        true => Err("duration must be longer than zero".into()),
        false => Ok(h.0),
    }
);

/// Declares the `[run]` table (every `[run]` key, spanned) and [`RUN_KEYS`], once for the
/// `[run]` table and the `[[workload]]` tables that override its keys.
macro_rules! run_keys {
    ($($key:ident : $ty:ty),* $(,)?) => {
        /// The keys of `[run]`, which any `[[workload]]` may override.
        pub const RUN_KEYS: &[&str] = &[$(stringify!($key)),*];

        #[derive(Deserialize, Default)]
        #[serde(deny_unknown_fields)]
        struct RawRun {
            $($key: Option<Spanned<$ty>>,)*
        }

        impl RawRun {
            /// Reads `key`'s value into this table if it is a `[run]` key.
            fn take<'de, A: MapAccess<'de>>(
                &mut self,
                key: &str,
                map: &mut A,
            ) -> Result<bool, A::Error> {
                match key {
                    $(stringify!($key) => self.$key = Some(map.next_value()?),)*
                    _ => return Ok(false),
                }
                Ok(true)
            }

            /// Applies the `[run]` keys written in this table over `run`.
            fn overlay(&self, ctx: &Ctx, run: &mut RunConfig) -> Result<(), ScenarioError> {
                if let Some(v) = &self.trials { run.trials = v.get_ref().0; }
                if let Some(v) = &self.warmup { run.warmup = v.get_ref().0; }
                if let Some(v) = &self.duration { run.duration = v.get_ref().0; }
                if let Some(v) = &self.mode { run.mode = *v.get_ref(); }
                if let Some(v) = &self.rate { run.rate = Some(v.get_ref().0); }
                if let Some(v) = &self.pool_size { run.pool_size = v.get_ref().0; }
                if let Some(v) = &self.process_cap { run.process_cap = v.get_ref().0; }
                if let Some(v) = &self.event_loops { run.event_loops = v.get_ref().0; }
                if let Some(v) = &self.trial_timeout { run.trial_timeout = Some(v.get_ref().0); }
                if let Some(v) = &self.max_error_rate { run.max_error_rate = v.get_ref().0; }
                if let Some(v) = &self.models {
                    run.models = unique(ctx, v, "models", |m| *m.get_ref(), |m| m.span())?;
                }
                if let Some(v) = &self.concurrency {
                    run.concurrency = unique(ctx, v, "concurrency", |c| c.get_ref().0, |c| c.span())?;
                }
                if let Some(t) = &self.trial_timeout {
                    let needed = run.warmup + run.duration;
                    if t.get_ref().0 <= needed {
                        return Err(ctx.err(
                            t.span(),
                            format!("trial_timeout {} leaves no time for the trial itself: warm-up plus duration is already {}",
                                HumanDuration(t.get_ref().0), HumanDuration(needed)),
                            Some("make trial_timeout longer than warmup + duration, or leave it out (default: warmup + duration + 30s)".into()),
                        ));
                    }
                }
                Ok(())
            }
        }
    };
}

run_keys! {
    trials: Positive,
    warmup: HumanDuration,
    duration: NonZeroDuration,
    mode: LoadMode,
    rate: PositiveRate,
    models: Vec<Spanned<ModelKind>>,
    concurrency: Vec<Spanned<Positive>>,
    pool_size: Positive,
    process_cap: Positive,
    event_loops: Positive,
    trial_timeout: NonZeroDuration,
    max_error_rate: Fraction,
}

/// A `[[workload]]` table: its `kind`, the `[run]` keys it overrides, and the other keys,
/// which are read as the kind's parameters once the kind is known (the table's keys may
/// come in any order).
#[derive(Default)]
struct RawWorkload {
    kind: Option<Spanned<WorkloadKind>>,
    run: RawRun,
    params: Vec<(Spanned<String>, Spanned<toml::Value>)>,
}

impl<'de> Deserialize<'de> for RawWorkload {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Table;
        impl<'de> Visitor<'de> for Table {
            type Value = RawWorkload;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a [[workload]] table")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawWorkload, A::Error> {
                let mut w = RawWorkload::default();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    match key.get_ref().as_str() {
                        "kind" => w.kind = Some(map.next_value()?),
                        k if w.run.take(k, &mut map)? => {}
                        _ => w.params.push((key, map.next_value()?)),
                    }
                }
                Ok(w)
            }
        }
        d.deserialize_map(Table)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: Spanned<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    run: RawRun,
    #[serde(default)]
    workload: Vec<Spanned<RawWorkload>>,
}

/// A non-empty list without repeats.
fn unique<T, U: PartialEq + fmt::Debug>(
    ctx: &Ctx,
    list: &Spanned<Vec<T>>,
    key: &str,
    value: impl Fn(&T) -> U,
    span: impl Fn(&T) -> Range<usize>,
) -> Result<Vec<U>, ScenarioError> {
    if list.get_ref().is_empty() {
        return Err(ctx.err(
            list.span(),
            format!("`{key}` is empty"),
            Some(format!(
                "list at least one value in `{key}`, or leave the key out to use the default"
            )),
        ));
    }
    let mut out: Vec<U> = Vec::new();
    for item in list.get_ref() {
        let v = value(item);
        if out.contains(&v) {
            return Err(ctx.err(
                span(item),
                format!("{v:?} appears twice in `{key}`"),
                Some("list each value once".into()),
            ));
        }
        out.push(v);
    }
    Ok(out)
}

fn build_spec(ctx: &Ctx, w: &Spanned<RawWorkload>) -> Result<WorkloadSpec, ScenarioError> {
    let raw = w.get_ref();
    let Some(kind) = &raw.kind else {
        return Err(ctx.err(
            w.span(),
            "this [[workload]] has no `kind`",
            Some(format!(
                "add kind = \"...\", one of: {}",
                WorkloadKind::ALL
                    .iter()
                    .map(|k| k.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        ));
    };
    let kind = *kind.get_ref();
    let mut spec = WorkloadSpec::default_of(kind);
    for (key, value) in &raw.params {
        match spec.set(key.get_ref(), value.get_ref().clone()) {
            None => return Err(not_a_parameter(ctx, kind, key)),
            Some(Err(why)) => return Err(invalid(ctx, value.span(), why)),
            Some(Ok(())) => {}
        }
    }
    let written: Vec<&str> = raw
        .params
        .iter()
        .map(|(k, _)| k.get_ref().as_str())
        .collect();
    spec.check(&written).map_err(|(key, why)| {
        let span = raw.params.iter().find(|(k, _)| k.get_ref() == key);
        invalid(ctx, span.map_or(w.span(), |(_, v)| v.span()), why)
    })?;
    Ok(spec)
}

/// A key that is neither a `[run]` key nor one of `kind`'s parameters: which workloads
/// take it, if any, and what `kind` takes.
fn not_a_parameter(ctx: &Ctx, kind: WorkloadKind, key: &Spanned<String>) -> ScenarioError {
    let name = key.get_ref();
    let names = |k: WorkloadKind| k.params().iter().map(|p| p.name).collect::<Vec<_>>();
    let owners: Vec<&str> = WorkloadKind::ALL
        .iter()
        .filter(|k| names(**k).contains(&name.as_str()))
        .map(|k| k.name())
        .collect();
    let of = match owners.is_empty() {
        true => String::new(),
        false => format!(" (it is one of {})", owners.join(", ")),
    };
    let k = kind.name();
    let message = format!(
        "`{name}` is not a parameter of `{k}`{of}; {k} takes: {}",
        names(kind).join(", ")
    );
    let hint = match owners.is_empty() {
        true => hint_for("unknown field"),
        false => "remove it, or move it to a workload of a kind that takes it; `iobench list` shows every workload's parameters".into(),
    };
    ctx.err(key.span(), message, Some(hint))
}

/// A parameter's value that its check refused.
fn invalid(ctx: &Ctx, span: Range<usize>, why: Invalid) -> ScenarioError {
    let hint = why.hint.unwrap_or_else(|| hint_for(&why.message));
    ctx.err(span, why.message, Some(hint))
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
        let mut base = RunConfig::default();
        raw.run.overlay(&ctx, &mut base)?;
        let mut workloads = Vec::new();
        for w in &raw.workload {
            let spec = build_spec(&ctx, w)?;
            let mut run = base.clone();
            let table = &w.get_ref().run;
            table.overlay(&ctx, &mut run)?;
            let span_of =
                |a: Option<Range<usize>>, b: Option<Range<usize>>| a.or(b).unwrap_or(w.span());
            match (run.mode, run.rate) {
                (LoadMode::Open, None) => {
                    let span = span_of(
                        table.mode.as_ref().map(Spanned::span),
                        raw.run.mode.as_ref().map(Spanned::span),
                    );
                    return Err(ctx.err(
                        span,
                        "mode = \"open\" needs a rate",
                        Some("add rate = 5000 (ops per second, all workers together)".into()),
                    ));
                }
                (LoadMode::Closed, Some(_)) => {
                    let span = span_of(
                        table.rate.as_ref().map(Spanned::span),
                        raw.run.rate.as_ref().map(Spanned::span),
                    );
                    return Err(ctx.err(
                        span,
                        "`rate` only applies to mode = \"open\"",
                        Some("add mode = \"open\", or remove rate".into()),
                    ));
                }
                _ => {}
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
                        "{} runs tcp-echo, disk-read and disk-write; list the models in that workload's own table, e.g. models = [\"threads\", \"io-uring\"]",
                        m.name()
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
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(src: &str) -> Result<Scenario, ScenarioError> {
        Scenario::parse(src, Path::new("t.toml"))
    }

    const OK: &str = r#"
name = "quick"
description = "d"
[run]
trials = 2
warmup = "1s"
duration = "3s"
models = ["sequential", "threads"]
concurrency = [1, 16]
[[workload]]
kind = "sleep"
latency = "10ms"
concurrency = [1, 16, 256, 4096]
"#;

    #[test]
    fn parses_and_expands() {
        let s = parse(OK).unwrap();
        let cells = s.cells();
        assert_eq!(cells.len(), 8);
        assert_eq!(cells[0].id, "sleep[latency=10ms]/sequential/c1/closed");
        assert_eq!(cells[7].concurrency, 4096);
        assert_eq!(cells[0].trials, 2);
        assert_eq!(cells[0].trial_timeout.0, Duration::from_secs(34));
    }

    #[test]
    fn the_default_scenario_parses() {
        parse(DEFAULT_SCENARIO_TOML).unwrap();
    }

    fn location_of(src: &str) -> (usize, usize, String) {
        let e = parse(src).unwrap_err();
        let (l, c) = e.location.expect("a location");
        (l, c, e.to_string())
    }

    #[test]
    fn unknown_keys_and_values_point_at_themselves() {
        for (from, to, at, words) in [
            ("trials = 2", "trails = 2", (5, 1), "unknown field `trails`"),
            ("\"threads\"]", "\"fibers\"]", (8, 25), "fibers"),
            (
                "latency",
                "latncy",
                (12, 1),
                "`latncy` is not a parameter of `sleep`",
            ),
        ] {
            let (l, c, msg) = location_of(&OK.replace(from, to));
            assert_eq!((l, c), at, "{msg}");
            assert!(msg.contains(words), "{msg}");
        }
    }

    #[test]
    fn zero_values_are_rejected() {
        for (from, to, line) in [
            ("duration = \"3s\"", "duration = \"0s\"", 7),
            ("trials = 2", "trials = 0", 5),
            ("trials = 2", "trials = -4", 5),
            ("concurrency = [1, 16]", "concurrency = [1, 0]", 9),
            ("latency = \"10ms\"", "latency = \"0ms\"", 12),
        ] {
            let (l, _, msg) = location_of(&OK.replace(from, to));
            assert_eq!(l, line, "{to}: {msg}");
        }
    }

    #[test]
    fn contradictions_are_rejected() {
        let (l, _, msg) = location_of(&OK.replace(
            "models = [\"sequential\", \"threads\"]",
            "models = [\"threads\", \"threads\"]",
        ));
        assert_eq!(l, 8);
        assert!(msg.contains("twice"), "{msg}");
        let (l, _, msg) =
            location_of(&OK.replace("[[workload]]", "[[workload]]\ntrial_timeout = \"2s\""));
        assert_eq!(l, 11);
        assert!(msg.contains("trial_timeout"), "{msg}");
        let (_, _, msg) = location_of(&OK.replace("kind = \"sleep\"", "kind = \"sleeep\""));
        assert!(msg.contains("sleeep"), "{msg}");
    }

    #[test]
    fn database_and_server_parameters_are_checked() {
        let base = "name = \"x\"\n[[workload]]\n";
        for (table, line, words) in [
            ("kind = \"redis\"\npool_min = 20\n", 4, "above pool_max"),
            (
                "kind = \"postgres\"\nserver_delay = \"5ms\"\n",
                4,
                "only applies to query",
            ),
            (
                "kind = \"postgres\"\nquery = \"drop\"\n",
                4,
                "unknown variant",
            ),
            (
                "kind = \"http-serve\"\npath = \"/bytes/9\"\n",
                4,
                "not one of the server's routes",
            ),
            (
                "kind = \"echo-serve\"\nload_generator = \"wrk\"\n",
                4,
                "not a parameter",
            ),
        ] {
            let (l, _, msg) = location_of(&format!("{base}{table}"));
            assert_eq!(l, line, "{table}: {msg}");
            assert!(msg.contains(words), "{table}: {msg}");
        }
        let s = parse(&format!("{base}kind = \"redis\"\n")).unwrap();
        match &s.workloads[0].0 {
            WorkloadSpec::Redis(r) => assert_eq!((r.pool.pool_min, r.pool.pool_max), (5, 10)),
            other => panic!("{other:?}"),
        }
        let s = parse(&format!("{base}kind = \"postgres\"\npool_min = 0\n")).unwrap();
        match &s.workloads[0].0 {
            WorkloadSpec::Postgres(p) => assert_eq!((p.pool.pool_min, p.pool.pool_max), (0, 10)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn syntax_errors_have_a_location() {
        let (l, _, _) = location_of("name = \"x\"\n[run\n");
        assert_eq!(l, 2);
    }
}

/// Run cells written and read back, built from scenarios (`plan` cannot import `scenario`).
#[cfg(test)]
mod run_cells {
    use super::Scenario;
    use crate::plan::RunCell;

    fn cell(table: &str) -> RunCell {
        let toml = format!(
            "name = \"x\"\n[run]\nmodels = [\"threads\"]\nconcurrency = [1]\n[[workload]]\n{table}"
        );
        let s = Scenario::parse(&toml, std::path::Path::new("x.toml")).unwrap();
        RunCell::new(s.cells().remove(0))
    }

    fn read(json: serde_json::Value) -> RunCell {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_resolved_cell_reads_back_as_written() {
        for table in [
            "kind = \"tcp-echo\"\ntarget = \"10.0.0.1:7\"\n",
            "kind = \"disk-read\"\n",
            "kind = \"cpu-mix\"\n",
        ] {
            let mut c = cell(table);
            c.resolved.target = c.resolved.target.or(Some("127.0.0.1:9".into()));
            c.resolved.scratch = Some("/tmp/s".into());
            c.resolved.rounds = Some(7);
            // A run starts a target only for a workload that names none.
            c.target_pid = c.workload.target().is_none().then_some(3);
            (c.skip, c.ops) = (Some("why".into()), Some(9));
            let json = serde_json::to_value(&c).unwrap();
            let w = &json["workload"];
            assert_eq!(w["target"], c.resolved.target.as_deref().unwrap(), "{json}");
            assert_eq!(
                (&w["scratch"], &w["rounds"]),
                (&"/tmp/s".into(), &7.into()),
                "{json}"
            );
            assert_eq!((&json["skip"], &json["ops"]), (&"why".into(), &9.into()));
            assert_eq!(read(json), c);
        }
    }

    /// The run's values are written inside `workload`, as run folders always had them.
    #[test]
    fn a_written_cell_reads_with_its_run_values_lifted() {
        let old = |workload: serde_json::Value, pid: Option<u32>| {
            let mut c = serde_json::to_value(cell("kind = \"sleep\"\n").cell).unwrap();
            c["workload"] = workload;
            if let Some(p) = pid {
                c["target_pid"] = p.into();
            }
            read(c)
        };
        let echo = |target: &str| {
            serde_json::json!({"kind": "tcp-echo", "payload": "1KiB", "server_delay": "0s",
                "timeout": "10s", "target": target})
        };
        // The embedded target the run started: resolved, not a parameter.
        let c = old(echo("127.0.0.1:42827"), Some(5329));
        assert_eq!(c.resolved.target.as_deref(), Some("127.0.0.1:42827"));
        assert_eq!(c.workload.target(), None);
        assert_eq!(c.target_pid, Some(5329));
        // One the user wrote: both.
        let c = old(echo("10.0.0.1:7"), None);
        assert_eq!(c.resolved.target.as_deref(), Some("10.0.0.1:7"));
        assert_eq!(c.workload.target(), Some("10.0.0.1:7"));
        // A server under test's address, a scratch folder, calibrated rounds.
        let c = old(
            serde_json::json!({"kind": "echo-serve", "payload": "1KiB", "delay": "0s",
                "timeout": "10s", "client_threads": 1, "keep_alive": true, "target": "1.2.3.4:5"}),
            None,
        );
        assert_eq!(c.resolved.target.as_deref(), Some("1.2.3.4:5"));
        let c = old(
            serde_json::json!({"kind": "disk-write", "size": "64KiB", "fsync": false,
                "scratch": "/tmp/iobench-scratch-1-0"}),
            None,
        );
        assert_eq!(
            c.resolved.scratch.as_deref(),
            Some("/tmp/iobench-scratch-1-0")
        );
        let c = old(
            serde_json::json!({"kind": "cpu-mix", "wait": "1ms", "via": "sleep", "compute": "0s",
                "timeout": "10s", "rounds": 12}),
            None,
        );
        assert_eq!(c.resolved.rounds, Some(12));
        assert_eq!(
            c.workload.label(),
            "cpu-mix[compute=0s,timeout=10s,via=sleep,wait=1ms]"
        );
    }
}
