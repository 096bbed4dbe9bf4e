//! A `[[workload]]` table's kind and parameters made into a [`WorkloadSpec`], through the
//! kind's parameter declaration, with errors for keys it does not take and values its checks
//! refuse.

use std::ops::Range;

use toml::Spanned;

use super::error::{Ctx, ScenarioError};
use super::hint::hint_for;
use super::raw::RawWorkload;
use crate::workload::params::Invalid;
use crate::workload::{WorkloadKind, WorkloadSpec};

pub(super) fn build_spec(
    ctx: &Ctx,
    w: &Spanned<RawWorkload>,
) -> Result<WorkloadSpec, ScenarioError> {
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
