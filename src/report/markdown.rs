//! `report.md`: the report's tables and findings in Markdown, fit for a CI job summary or a
//! pull-request comment.

use std::fmt::Write;

use super::decision::{CAPTION, Decision};
use super::findings::Finding;
use super::page::{
    COLUMNS, FIT_CAPTION, FIT_COLUMNS, Page, baseline_head, baseline_lead, baseline_row, fit_row,
    row, status_text,
};
use super::summary::{CellStatus, CellSummary};

/// Text made safe for a Markdown table cell.
pub fn md(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace(['\n', '\r'], " ")
}

fn table(out: &mut String, head: &[&str], rows: impl Iterator<Item = Vec<String>>) {
    let _ = writeln!(out, "| {} |", head.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(head.len()));
    for r in rows {
        let cells: Vec<String> = r.iter().map(|c| md(c)).collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
}

pub fn render(page: &Page) -> String {
    let s = page.summary;
    let m = &s.machine;
    let mut out = String::new();
    let _ = writeln!(out, "# iobench report: {}\n", md(&s.scenario));
    let (ok, failed, skipped, missing) = page.trial_counts();
    let _ = writeln!(
        out,
        "Machine: {}, {} cores, {} memory, Linux {}, {}; iobench {}{}.\n",
        md(m.cpu_model.as_deref().unwrap_or("unknown CPU")),
        m.cores,
        m.memory_bytes.map_or("unknown".into(), |b| format!(
            "{:.1} GiB",
            b as f64 / (1u64 << 30) as f64
        )),
        md(m.kernel.as_deref().unwrap_or("?")),
        md(m.rustc.as_deref().unwrap_or("rustc ?")),
        md(&m.iobench_version),
        m.git_commit
            .as_deref()
            .map_or(String::new(), |c| format!(" ({})", md(c))),
    );
    if !s.machines.is_empty() {
        let _ = writeln!(out, "The shards ran on {} machines:\n", s.machines.len());
        for m in &s.machines {
            let _ = writeln!(out, "- {} ({} cells)", md(&m.describe()), m.cells.len());
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "Trials: {ok} ok, {failed} failed, {skipped} skipped, {missing} missing.\n"
    );
    for line in &page.protocol {
        let _ = writeln!(out, "- {}", md(line));
    }
    if !page.protocol.is_empty() {
        out.push('\n');
    }
    let maps: Vec<_> = page
        .groups
        .iter()
        .filter_map(|g| g.decision.as_ref())
        .collect();
    if !maps.is_empty() {
        let _ = writeln!(out, "## Which model: the decision map\n\n{}\n", md(CAPTION));
        for d in maps {
            let _ = writeln!(out, "**{}**\n\n{}\n", md(&d.label), md(&d.sentence));
            table(
                &mut out,
                &Decision::head(),
                (0..d.concurrencies.len()).map(|i| d.row(i)),
            );
            out.push('\n');
        }
    }
    let _ = writeln!(out, "## Findings\n");
    if page.by_language() {
        // A claim's row per language, the claim's words on the first.
        let head = [
            "claim of the talk",
            "language",
            "verdict",
            "numbers from this run",
        ];
        let rows = page.claims().flat_map(|fs| {
            fs.iter().enumerate().map(|(i, f)| {
                let mut r = finding_row(f);
                if i > 0 {
                    r[0].clear();
                }
                r.insert(1, f.language.name());
                r
            })
        });
        table(&mut out, &head, rows);
    } else {
        let head = ["claim of the talk", "verdict", "numbers from this run"];
        table(&mut out, &head, page.findings.iter().map(finding_row));
    }
    match &page.baseline {
        None => {}
        Some(Err(why)) => {
            let _ = writeln!(out, "\n## Against the baseline\n\n{}", md(why));
        }
        Some(Ok(b)) => {
            let _ = writeln!(
                out,
                "\n## Against the baseline\n\n{}",
                md(&baseline_lead(b))
            );
            for g in &page.groups {
                let rows: Vec<Vec<String>> =
                    g.cells.iter().filter_map(|c| baseline_row(b, c)).collect();
                if !rows.is_empty() {
                    let _ = writeln!(out, "\n**{}**\n", md(&g.label));
                    table(&mut out, &baseline_head(), rows.into_iter());
                }
            }
        }
    }
    for (label, charts) in &page.sweeps {
        let _ = writeln!(out, "\n## Sweep: {}\n", md(label));
        for (chart, _) in charts {
            let _ = writeln!(out, "- {}: `charts/{}.png`", md(&chart.title), chart.name);
        }
    }
    for g in &page.groups {
        let _ = writeln!(out, "\n## {}\n", md(&g.label));
        table(&mut out, &COLUMNS, g.cells.iter().map(|c| row(c).to_vec()));
        if !g.fits.is_empty() {
            let _ = writeln!(out, "\n{FIT_CAPTION}\n");
            table(
                &mut out,
                &FIT_COLUMNS,
                g.fits.iter().map(|f| fit_row(f).to_vec()),
            );
        }
    }
    if !page.problems.is_empty() {
        let _ = writeln!(out, "\n## Failed, skipped and missing cells\n");
        let head = ["cell", "status", "reason"];
        table(
            &mut out,
            &head,
            page.problems.iter().map(|c| problem_row(c)),
        );
    }
    if !page.warnings.is_empty() {
        let _ = writeln!(out, "\n## Warnings\n");
        table(
            &mut out,
            &["cell", "warning"],
            page.warnings
                .iter()
                .map(|(id, w)| vec![id.clone(), w.clone()]),
        );
    }
    out
}

fn finding_row(f: &Finding) -> Vec<String> {
    let verdict = f.verdict.text().to_string();
    vec![f.claim.to_string(), verdict, f.evidence.clone()]
}

fn problem_row(c: &CellSummary) -> Vec<String> {
    let reason = match c.status {
        CellStatus::Missing => "no trial ran (the run was interrupted)".into(),
        _ => c.reasons.first().cloned().unwrap_or_default(),
    };
    vec![c.id.clone(), status_text(c), reason]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::findings::{Language, Verdict};
    use crate::report::summary::Summary;

    #[test]
    fn each_claim_has_a_row_per_language_when_there_are_several() {
        let s: Summary = serde_json::from_value(serde_json::json!({
            "schema": 3, "scenario": "t",
            "machine": {"cpu_model": null, "cores": 2, "memory_bytes": null, "kernel": null,
                "os": "linux", "rustc": null, "iobench_version": "0", "git_commit": null,
                "limit_nofile": null, "limit_nproc": null},
            "cells": [],
        }))
        .unwrap();
        let finding = |language: Language, verdict, evidence: &str| Finding {
            claim: "Claim one",
            language,
            verdict,
            evidence: evidence.into(),
            cells: Vec::new(),
        };
        let mut page = Page {
            summary: &s,
            groups: Vec::new(),
            findings: vec![
                finding(Language::Rust, Verdict::Holds, "r | 1"),
                finding(
                    Language::External(Some("python".into())),
                    Verdict::DoesNotHold,
                    "In Python, p",
                ),
            ],
            problems: Vec::new(),
            warnings: Vec::new(),
            protocol: Vec::new(),
            sweeps: Vec::new(),
            baseline: None,
        };
        let text = render(&page);
        assert!(
            text.contains(
                "| claim of the talk | language | verdict | numbers from this run |\n\
                 |---|---|---|---|\n\
                 | Claim one | Rust | holds | r \\| 1 |\n\
                 |  | Python | does not hold | In Python, p |\n"
            ),
            "{text}"
        );
        page.findings.pop();
        let text = render(&page);
        assert!(
            text.contains(
                "| claim of the talk | verdict | numbers from this run |\n\
                 |---|---|---|\n\
                 | Claim one | holds | r \\| 1 |\n"
            ),
            "{text}"
        );
    }
}
