//! `[[model]]` tables: the models a scenario defines, a server started from a command or a
//! client model whose worker speaks `docs/worker-protocol.md` ([`External`]), and the
//! names in `models` resolved against them and iobench's own ([`resolve`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::error::{Ctx, ScenarioError};
use crate::plan::{External, Model, ModelKind, Ready, Role};
use crate::units::HumanDuration;
use crate::workload::WorkloadKind;

/// The placeholders a server's command may hold, filled for each trial.
pub const SERVER_PLACEHOLDERS: &[&str] = &[
    "host",
    "port",
    "delay",
    "delay_ms",
    "keep_alive",
    "workers",
    "threads",
];
/// The placeholders a worker's command may hold, filled for each trial.
pub const WORKER_PLACEHOLDERS: &[&str] = &["concurrency", "pool_size", "process_cap"];
/// The placeholders resolved when the scenario is read: the Python interpreter of
/// `.venv-python/` (or `$IOBENCH_PYTHON`), and the scenario file's folder.
pub const READ_PLACEHOLDERS: &[&str] = &["python", "here"];

/// How long an external server may take to become ready unless its table says.
const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// A `[[model]]` table as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawModel {
    name: Spanned<String>,
    #[serde(default)]
    command: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    worker: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    ready: Option<Spanned<String>>,
    #[serde(default)]
    ready_timeout: Option<Spanned<HumanDuration>>,
    #[serde(default)]
    runs: Option<Spanned<Vec<Spanned<WorkloadKind>>>>,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    like: Option<ModelKind>,
    #[serde(default)]
    host: Option<Spanned<String>>,
    #[serde(default)]
    description: String,
}

const SERVER_WORKLOADS: [WorkloadKind; 2] = [WorkloadKind::HttpServe, WorkloadKind::EchoServe];

/// Validates the `[[model]]` tables of a scenario read from `path`.
pub(super) fn externals(
    ctx: &Ctx,
    raw: &[Spanned<RawModel>],
    path: &Path,
) -> Result<Vec<External>, ScenarioError> {
    let mut out: Vec<External> = Vec::new();
    for m in raw {
        let e = external(ctx, m, path)?;
        if out.iter().any(|o| o.name == e.name) {
            let span = m.get_ref().name.span();
            return Err(ctx.err(
                span,
                format!("model `{}` is defined twice", e.name),
                Some("give each [[model]] a name of its own".into()),
            ));
        }
        out.push(e);
    }
    Ok(out)
}

fn external(ctx: &Ctx, m: &Spanned<RawModel>, path: &Path) -> Result<External, ScenarioError> {
    let raw = m.get_ref();
    let name = raw.name.get_ref().trim().to_string();
    let good_char = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
    if name.is_empty() || !name.chars().all(good_char) {
        return Err(ctx.err(
            raw.name.span(),
            format!("`{name}` is not a model name"),
            Some("use letters, digits, '-', '_' and '.', e.g. name = \"py-asyncio\"".into()),
        ));
    }
    if ModelKind::from_name(&name).is_some() || name == ModelKind::External.name() {
        return Err(ctx.err(
            raw.name.span(),
            format!("`{name}` is one of iobench's own models"),
            Some("give the external model another name, e.g. a prefix for its stack".into()),
        ));
    }
    let (role, placeholders, span) = match (&raw.command, &raw.worker) {
        (Some(c), None) => {
            let ready = match &raw.ready {
                None => Ready::Port,
                Some(r) => match r.get_ref().as_str() {
                    "port" => Ready::Port,
                    s => match s.strip_prefix("line:") {
                        Some(text) if !text.is_empty() => Ready::Line(text.to_string()),
                        _ => {
                            return Err(ctx.err(
                                r.span(),
                                format!("`ready = \"{s}\"` is not a way to be ready"),
                                Some("ready = \"port\" (its port accepts a connection) or ready = \"line:TEXT\" (it printed a line holding TEXT)".into()),
                            ));
                        }
                    },
                },
            };
            let ready_timeout = raw
                .ready_timeout
                .as_ref()
                .map_or(READY_TIMEOUT, |t| t.get_ref().0);
            if ready_timeout.is_zero() {
                let span = raw.ready_timeout.as_ref().map_or(m.span(), Spanned::span);
                return Err(ctx.err(span, "`ready_timeout` must be longer than zero", None));
            }
            let role = Role::Server {
                command: Vec::new(),
                ready,
                ready_timeout: HumanDuration(ready_timeout),
            };
            (role, SERVER_PLACEHOLDERS, c)
        }
        (None, Some(w)) => {
            if let Some(r) = &raw.ready {
                return Err(ctx.err(
                    r.span(),
                    "`ready` is for a server's `command`; a worker is ready when it says so",
                    Some("remove `ready`".into()),
                ));
            }
            (Role::Worker { worker: Vec::new() }, WORKER_PLACEHOLDERS, w)
        }
        (Some(c), Some(_)) => {
            return Err(ctx.err(
                c.span(),
                format!("model `{name}` has both `command` and `worker`"),
                Some("`command` starts a server under test (http-serve, echo-serve); `worker` runs a client model; give one".into()),
            ));
        }
        (None, None) => {
            return Err(ctx.err(
                m.span(),
                format!("model `{name}` has neither `command` nor `worker`"),
                Some("add command = [\"...\", \"--port\", \"{port}\"] for a server under test, or worker = [\"...\"] for a client model speaking docs/worker-protocol.md".into()),
            ));
        }
    };
    let command = argv(ctx, span, placeholders, path)?;
    let role = match role {
        Role::Server {
            ready,
            ready_timeout,
            ..
        } => Role::Server {
            command,
            ready,
            ready_timeout,
        },
        Role::Worker { .. } => Role::Worker { worker: command },
    };
    let server = matches!(role, Role::Server { .. });
    let host = match &raw.host {
        Some(h) if !server => {
            return Err(ctx.err(
                h.span(),
                "`host` is for a server's `command`: where the client finds the server under test",
                Some("remove it; a worker's target is its workload's `target`".into()),
            ));
        }
        Some(h) if h.get_ref().trim().is_empty() || h.get_ref().contains(':') => {
            return Err(ctx.err(
                h.span(),
                format!(
                    "`host = \"{}\"` is not a host name or IPv4 address",
                    h.get_ref()
                ),
                Some(
                    "give the host alone, e.g. host = \"10.0.0.2\"; the port is iobench's ({port})"
                        .into(),
                ),
            ));
        }
        h => h.as_ref().map(|h| h.get_ref().trim().to_string()),
    };
    let runs = match &raw.runs {
        Some(list) => {
            let mut runs = Vec::new();
            for k in list.get_ref() {
                let kind = *k.get_ref();
                let fits = SERVER_WORKLOADS.contains(&kind) == server;
                if !fits {
                    let why = match server {
                        true => format!(
                            "a server `command` serves http-serve or echo-serve, not `{}`",
                            kind.name()
                        ),
                        false => format!(
                            "`{}` tests a server: give its server as a `command`, not a `worker`",
                            kind.name()
                        ),
                    };
                    return Err(ctx.err(k.span(), why, None));
                }
                if !runs.contains(&kind) {
                    runs.push(kind);
                }
            }
            if runs.is_empty() {
                return Err(ctx.err(
                    list.span(),
                    "`runs` is empty",
                    Some("list the workloads the model runs".into()),
                ));
            }
            runs
        }
        None if server => vec![WorkloadKind::HttpServe],
        None => {
            return Err(ctx.err(
                m.span(),
                format!("worker model `{name}` does not say which workloads it runs"),
                Some("add runs = [\"sleep\", \"tcp-echo\", \"http-get\"] (the kinds its worker implements)".into()),
            ));
        }
    };
    Ok(External {
        name,
        role,
        runs,
        language: raw.language.clone(),
        like: raw.like,
        host,
        description: raw.description.clone(),
    })
}

/// A command's words, each placeholder known; `{python}` and `{here}` filled in.
fn argv(
    ctx: &Ctx,
    words: &Spanned<Vec<String>>,
    allowed: &[&str],
    path: &Path,
) -> Result<Vec<String>, ScenarioError> {
    if words.get_ref().is_empty() || words.get_ref()[0].trim().is_empty() {
        return Err(ctx.err(
            words.span(),
            "the command is empty",
            Some("give the program and its arguments, e.g. [\"{python}\", \"server.py\", \"--port\", \"{port}\"]".into()),
        ));
    }
    let here = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let here = if here.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        here
    };
    let mut out = Vec::new();
    for word in words.get_ref() {
        for name in placeholders(word) {
            if !allowed.contains(&name) && !READ_PLACEHOLDERS.contains(&name) {
                let mut known: Vec<&str> = READ_PLACEHOLDERS.to_vec();
                known.extend_from_slice(allowed);
                return Err(ctx.err(
                    words.span(),
                    format!("`{{{name}}}` is not a placeholder of this command"),
                    Some(format!(
                        "it may hold {}",
                        known
                            .iter()
                            .map(|k| format!("{{{k}}}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                ));
            }
        }
        let word = word.replace("{here}", &here.display().to_string());
        let word = match word.contains("{python}") {
            true => word.replace("{python}", &python(&here).display().to_string()),
            false => word,
        };
        out.push(word);
    }
    Ok(out)
}

/// The names of the `{…}` placeholders in `word`.
pub fn placeholders(word: &str) -> impl Iterator<Item = &str> {
    word.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
}

/// The folder of the private Python environment (`scripts/python-env.sh`).
pub const PYTHON_ENV: &str = ".venv-python";

/// The interpreter `{python}` names: `$IOBENCH_PYTHON`, else `.venv-python/bin/python` in
/// the scenario's folder or the nearest folder above it that has one, else in the current
/// folder (which may not exist yet: the run then skips the model's cells, saying how to
/// make it).
pub fn python(here: &Path) -> PathBuf {
    if let Some(p) = std::env::var_os("IOBENCH_PYTHON").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    let here = match here.is_absolute() {
        true => here.to_path_buf(),
        false => cwd.join(here),
    };
    let at = |dir: &Path| dir.join(PYTHON_ENV).join("bin").join("python");
    here.ancestors()
        .chain(cwd.ancestors())
        .map(at)
        .find(|p| p.exists())
        .unwrap_or_else(|| at(&cwd))
}

/// The models a `models` list names: iobench's own or the scenario's `[[model]]`s.
pub(super) fn resolve(
    ctx: &Ctx,
    name: &Spanned<String>,
    externals: &[External],
) -> Result<Model, ScenarioError> {
    let n = name.get_ref();
    if let Some(m) = ModelKind::from_name(n) {
        return Ok(Model::Own(m));
    }
    if let Some(e) = externals.iter().find(|e| &e.name == n) {
        return Ok(Model::External(Box::new(e.clone())));
    }
    let mut names: Vec<&str> = ModelKind::ALL.iter().map(|m| m.name()).collect();
    names.extend(externals.iter().map(|e| e.name.as_str()));
    Err(ctx.err(
        name.span(),
        format!("unknown model `{n}`"),
        Some(format!(
            "models are: {}; a [[model]] table defines another",
            names.join(", ")
        )),
    ))
}
