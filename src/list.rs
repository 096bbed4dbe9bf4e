//! `iobench list`: every workload and model, one line each, with parameters.

use std::fmt::Write;

use crate::plan::ModelKind;
use crate::workload::WorkloadKind;

pub fn render() -> String {
    let mut s = String::from("Workloads (kind = \"...\" in a [[workload]] table):\n");
    let w = WorkloadKind::ALL
        .iter()
        .map(|k| k.name().len())
        .max()
        .unwrap_or(0);
    for k in WorkloadKind::ALL {
        let _ = writeln!(s, "  {:w$}  {}", k.name(), k.description());
        for (name, default, meaning) in k.params() {
            let _ = writeln!(s, "  {:w$}    {name} = \"{default}\"  {meaning}", "");
        }
    }
    s += "\nModels (models = [...] in [run] or --models):\n";
    let w = ModelKind::ALL
        .iter()
        .map(|m| m.name().len())
        .max()
        .unwrap_or(0);
    for m in ModelKind::ALL {
        let _ = writeln!(s, "  {:w$}  {}", m.name(), m.description());
    }
    s += "\n[run] keys, overridable per [[workload]]: trials, warmup, duration, mode, models,\n\
          concurrency, pool_size (thread-pool), process_cap (processes), trial_timeout.\n";
    s
}
