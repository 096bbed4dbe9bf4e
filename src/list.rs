//! `iobench list`: every workload and model, one line each, with parameters; and the
//! README's parameter tables, made from the same declarations.

use std::fmt::Write;

use crate::plan::{ModelKind, Role};
use crate::scenario::{RUN_KEYS, Scenario};
use crate::workload::WorkloadKind;
use crate::workload::params::Param;

/// A parameter's type, with what it counts: `integer (connections)`.
fn type_and_unit(p: &Param) -> String {
    match p.unit {
        "" => p.ty.clone(),
        unit => format!("{} ({unit})", p.ty),
    }
}

fn widest<'a>(names: impl Iterator<Item = &'a str>) -> usize {
    names.map(str::len).max().unwrap_or(0)
}

pub fn render() -> String {
    let mut s = String::from("Workloads (kind = \"...\" in a [[workload]] table):\n");
    let w = widest(WorkloadKind::ALL.iter().map(|k| k.name()));
    for k in WorkloadKind::ALL {
        let _ = writeln!(s, "  {:w$}  {}", k.name(), k.description());
        for p in k.params() {
            let _ = writeln!(
                s,
                "  {:w$}    {} = {}  [{}] {}",
                "",
                p.name,
                p.default,
                type_and_unit(&p),
                p.help
            );
        }
    }
    s += "\nModels (models = [...] in [run] or --models):\n";
    let w = widest(ModelKind::ALL.iter().map(|m| m.name()));
    for m in ModelKind::ALL {
        let _ = writeln!(s, "  {:w$}  {}", m.name(), m.description());
    }
    let _ = writeln!(
        s,
        "\n[run] keys, overridable per [[workload]]: {}.",
        RUN_KEYS.join(", ")
    );
    s
}

/// The models a scenario defines (`[[model]]`): name, what it is, what it runs, its
/// command.
pub fn scenario_models(s: &Scenario) -> String {
    let mut out = format!(
        "\nModels scenario `{}` defines ({}):\n",
        s.name,
        s.path.display()
    );
    if s.externals.is_empty() {
        out += "  none\n";
    }
    let w = widest(s.externals.iter().map(|e| e.name.as_str()));
    for e in &s.externals {
        let what = match &e.role {
            Role::Server { .. } => "server under test",
            Role::Worker { .. } => "client model (worker protocol)",
        };
        let argv = e.role.argv();
        let runs: Vec<&str> = e.runs.iter().map(|k| k.name()).collect();
        let _ = writeln!(out, "  {:w$}  {what}, runs {}", e.name, runs.join(", "));
        if !e.description.is_empty() {
            let _ = writeln!(out, "  {:w$}    {}", "", e.description);
        }
        let _ = writeln!(out, "  {:w$}    {}", "", argv.join(" "));
    }
    out
}

/// The README's tables of every workload's parameters (between its
/// `<!-- workload-parameters -->` markers; `tests/params.rs` checks that they match).
pub fn markdown() -> String {
    let cell = |t: &str| t.replace('|', "\\|");
    let mut s = String::new();
    for k in WorkloadKind::ALL {
        let _ = writeln!(s, "`{}`:\n", k.name());
        s += "| key | type | default | meaning |\n|---|---|---|---|\n";
        for p in k.params() {
            let default = match p.default.starts_with('(') {
                true => p.default.clone(),
                false => format!("`{}`", p.default),
            };
            let _ = writeln!(
                s,
                "| `{}` | {} | {} | {} |",
                p.name,
                cell(&type_and_unit(&p)),
                cell(&default),
                cell(p.help)
            );
        }
        s.push('\n');
    }
    s.trim_end().to_string() + "\n"
}
