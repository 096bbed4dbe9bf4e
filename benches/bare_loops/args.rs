//! The bench's arguments and environment, parsed once: what to run, or why not.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, anyhow};
use iobench::ModelKind;

use crate::loops::bare_loop;

/// What this run of the binary does, read once from its arguments and environment.
pub(crate) struct Args {
    /// `OVERHEAD_SLEEP_MS`.
    pub(crate) sleep: Duration,
    pub(crate) mode: Mode,
}

pub(crate) enum Mode {
    /// Run without `--bench` (as `cargo test --all-targets` runs it): nothing to do.
    Skip,
    /// `--bench --test`: the bare loops still run.
    Smoke,
    /// `--case MODEL C`: one cell's bare loop, its figures printed on one line for the bench.
    Case {
        model: ModelKind,
        c: u32,
        window: Duration,
    },
    /// `--bare-worker PATH I K`: worker `I` of `K` of the processes bare loop.
    BareWorker {
        path: PathBuf,
        index: usize,
        workers: usize,
    },
    /// `--bench`: every cell, bare and through the harness.
    Full(Plan),
}

/// The cells of a full run and how the harness runs them.
pub(crate) struct Plan {
    /// `OVERHEAD_MODELS`.
    pub(crate) models: Vec<ModelKind>,
    /// `OVERHEAD_C`.
    pub(crate) cs: Vec<u32>,
    /// `OVERHEAD_TRIALS`.
    pub(crate) trials: u32,
    /// `OVERHEAD_WINDOW_SECS`.
    pub(crate) window: Duration,
    /// `OVERHEAD_HARNESS_SUMMARY`: a harness run of the same cells to reuse.
    pub(crate) summary: Option<PathBuf>,
}

const SLEEP_ACCEPTS: &str = "a whole number of milliseconds, at least 1";
const WINDOW_ACCEPTS: &str = "a number of seconds above 0, e.g. 3 or 0.5";
const C_ACCEPTS: &str = "a whole number, at least 1";
const TRIALS_ACCEPTS: &str = "a whole number of trials, at least 1";
const INDEX_ACCEPTS: &str = "a whole number";

impl Args {
    /// `args` without the program's name. Arguments other than the ones above (cargo's and
    /// criterion's, given to every bench) are left alone.
    pub(crate) fn parse(args: &[String]) -> anyhow::Result<Args> {
        let sleep = env_or("OVERHEAD_SLEEP_MS", 10, |v| {
            number(v, SLEEP_ACCEPTS, |&ms: &u64| ms >= 1)
        })
        .map(Duration::from_millis)?;
        let has = |flag: &str| args.iter().any(|a| a == flag);
        let mode = if let Some(v) = values(args, "--bare-worker", "PATH I K")? {
            let arg = |name: &str, v: &str| {
                number(v, INDEX_ACCEPTS, |_: &usize| true)
                    .with_context(|| format!("--bare-worker PATH I K: {name}"))
            };
            let (index, workers) = (arg("I", &v[1])?, arg("K", &v[2])?);
            if index >= workers {
                anyhow::bail!("--bare-worker PATH I K: I = {index} is not below K = {workers}");
            }
            Mode::BareWorker {
                path: PathBuf::from(&v[0]),
                index,
                workers,
            }
        } else if let Some(v) = values(args, "--case", "MODEL C")? {
            Mode::Case {
                model: bare_model(&v[0]).context("--case MODEL C: MODEL")?,
                c: concurrency(&v[1]).context("--case MODEL C: C")?,
                window: window()?,
            }
        } else if !has("--bench") {
            Mode::Skip
        } else if has("--test") {
            Mode::Smoke
        } else {
            Mode::Full(Plan {
                models: env_list("OVERHEAD_MODELS", default_models(), bare_model)?,
                cs: env_list("OVERHEAD_C", vec![1, 100, 1000, 10000], concurrency)?,
                trials: env_or("OVERHEAD_TRIALS", 1, |v| {
                    number(v, TRIALS_ACCEPTS, |&n: &u32| n >= 1)
                })?,
                window: window()?,
                summary: env_or("OVERHEAD_HARNESS_SUMMARY", None, |v| {
                    Ok(Some(PathBuf::from(v)))
                })?,
            })
        };
        Ok(Args { sleep, mode })
    }
}

/// The `n` values after `flag`, when `flag` is there.
fn values<'a>(args: &'a [String], flag: &str, names: &str) -> anyhow::Result<Option<&'a [String]>> {
    let n = names.split(' ').count();
    let Some(i) = args.iter().position(|a| a == flag) else {
        return Ok(None);
    };
    match args.get(i + 1..i + 1 + n) {
        Some(v) => Ok(Some(v)),
        None => Err(anyhow!(
            "{flag} {names}: takes {n} values, given {:?}",
            &args[i + 1..]
        )),
    }
}

/// `v` as a `T` that `valid` accepts; the error says what `v` was and what is accepted.
fn number<T: std::str::FromStr>(
    v: &str,
    accepts: &str,
    valid: impl Fn(&T) -> bool,
) -> anyhow::Result<T> {
    v.trim()
        .parse()
        .ok()
        .filter(|x| valid(x))
        .ok_or_else(|| anyhow!("{v:?} is not accepted: expected {accepts}"))
}

/// Environment variable `name` through `parse`, or `default` when it is unset or empty.
fn env_or<T>(
    name: &str,
    default: T,
    parse: impl Fn(&str) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    match std::env::var(name) {
        Ok(v) if v.trim().is_empty() => Ok(default),
        Ok(v) => parse(&v).with_context(|| format!("environment variable {name}")),
        Err(std::env::VarError::NotPresent) => Ok(default),
        Err(e) => Err(anyhow!("environment variable {name}: {e}")),
    }
}

/// A comma-separated environment variable, each item through `item` (empty items skipped).
fn env_list<T>(
    name: &str,
    default: Vec<T>,
    item: impl Fn(&str) -> anyhow::Result<T>,
) -> anyhow::Result<Vec<T>> {
    env_or(name, default, |v| {
        let items: Vec<T> = v
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(&item)
            .collect::<anyhow::Result<_>>()?;
        if items.is_empty() {
            anyhow::bail!("{v:?} lists nothing: expected a comma-separated list");
        }
        Ok(items)
    })
}

fn concurrency(v: &str) -> anyhow::Result<u32> {
    number(v, C_ACCEPTS, |&c: &u32| c >= 1)
}

fn window() -> anyhow::Result<Duration> {
    env_or("OVERHEAD_WINDOW_SECS", Duration::from_secs(3), |v| {
        let secs = number(v, WINDOW_ACCEPTS, |&s: &f64| s > 0.0)?;
        Duration::try_from_secs_f64(secs)
            .map_err(|_| anyhow!("{v:?} is too long: expected {WINDOW_ACCEPTS}"))
    })
}

/// The models a full run has unless told: the default ones that have a bare loop.
fn default_models() -> Vec<ModelKind> {
    ModelKind::SUBJECTS
        .iter()
        .copied()
        .filter(|&m| bare_loop(m).is_some())
        .collect()
}

/// A model by name, one that has a bare loop.
fn bare_model(name: &str) -> anyhow::Result<ModelKind> {
    let names = || {
        ModelKind::ALL
            .iter()
            .filter(|&&m| bare_loop(m).is_some())
            .map(|m| m.name())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match ModelKind::from_name(name) {
        Some(m) if bare_loop(m).is_some() => Ok(m),
        Some(_) => Err(anyhow!(
            "{name:?} has no bare loop: expected one of {}",
            names()
        )),
        None => Err(anyhow!(
            "{name:?} is not a model: expected one of {}",
            names()
        )),
    }
}
