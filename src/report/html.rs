//! `report.html`: one self-contained file (inline SVG and CSS, nothing fetched) with the
//! machine stamp, the findings, per workload its charts and a table of every cell, and the
//! cells that failed, were skipped or are missing. Every string that comes from a scenario
//! or a result is escaped.

use std::fmt::Write;

use super::charts::model_order;
use super::decision::{CAPTION, CRITERIA, Decision, show};
use super::findings::Verdict;
use super::page::{
    COLUMNS, FIT_CAPTION, FIT_COLUMNS, Page, baseline_head, baseline_lead, baseline_row, fit_row,
    row, sort_keys, status_text,
};
use super::summary::{CellStatus, CellSummary};

/// Text made safe for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 2rem auto; max-width: 1820px; padding: 0 1rem; color: #1b1b1b; }
h1 { font-size: 1.6rem; } h2 { margin-top: 2.4rem; border-bottom: 1px solid #ddd; padding-bottom: .3rem; font-size: 1.25rem; }
table { border-collapse: collapse; margin: .8rem 0; font-size: .86rem; display: block; max-width: 100%; overflow-x: auto; }
th, td { border: 1px solid #d6d6d6; padding: .25rem .5rem; text-align: right; vertical-align: top; }
th { background: #f3f3f3; } td.l, th.l { text-align: left; }
.holds { color: #006d2c; font-weight: 600; } .fails { color: #b30000; font-weight: 600; } .unknown { color: #666; }
.charts { display: flex; flex-wrap: wrap; gap: .5rem; } .charts svg { max-width: 100%; height: auto; border: 1px solid #eee; }
.meta td { text-align: left; } code { background: #f4f4f4; padding: 0 .2rem; }
.wide { overflow-x: auto; } .ties { color: #555; font-size: .8rem; } .pattern { max-width: 70rem; } .note { color: #555; }
h1, h2, h3, .meta td, td.l code { overflow-wrap: anywhere; }
@media (max-width: 640px) { body { margin: 1rem auto; padding: 0 .5rem; } table { font-size: .76rem; } th, td { padding: .2rem .3rem; } }
";

pub fn render(page: &Page) -> String {
    let s = page.summary;
    let m = &s.machine;
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n\
         <title>iobench report: {}</title>\n<style>{STYLE}{}</style>\n</head>\n<body>\n",
        esc(&s.scenario),
        sort_style()
    );
    let _ = writeln!(o, "<h1>iobench report: {}</h1>", esc(&s.scenario));
    let (ok, failed, skipped, missing) = page.trial_counts();
    let _ = writeln!(o, "<table class=\"meta\">");
    let rows: Vec<(&str, String)> = vec![
        (
            "CPU",
            m.cpu_model.clone().unwrap_or_else(|| "unknown".into()),
        ),
        ("cores", m.cores.to_string()),
        (
            "memory",
            m.memory_bytes.map_or("unknown".into(), |b| {
                format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64)
            }),
        ),
        ("kernel", m.kernel.clone().unwrap_or_default()),
        ("rustc", m.rustc.clone().unwrap_or_default()),
        (
            "iobench",
            format!(
                "{} {}",
                m.iobench_version,
                m.git_commit.clone().unwrap_or_default()
            ),
        ),
        (
            "trials",
            format!("{ok} ok, {failed} failed, {skipped} skipped, {missing} missing"),
        ),
    ];
    for (k, v) in rows {
        let _ = writeln!(o, "<tr><th class=\"l\">{k}</th><td>{}</td></tr>", esc(&v));
    }
    // A merged run whose shards ran on machines that differ: every one of them.
    for m in &s.machines {
        let _ = writeln!(
            o,
            "<tr><th class=\"l\">machine</th><td>{} ({} cells)</td></tr>",
            esc(&m.describe()),
            m.cells.len()
        );
    }
    let _ = writeln!(o, "</table>");
    if !page.protocol.is_empty() {
        let _ = writeln!(o, "<h2 id=\"scenario\">Scenario</h2>\n<ul>");
        for line in &page.protocol {
            let _ = writeln!(o, "<li>{}</li>", esc(line));
        }
        let _ = writeln!(o, "</ul>");
    }

    decisions(&mut o, page);
    let _ = writeln!(o, "<h2 id=\"findings\">Findings</h2>");
    findings(&mut o, page);

    baseline(&mut o, page);
    for (label, charts) in &page.sweeps {
        let _ = writeln!(o, "<h2>Sweep: {}</h2>", esc(label));
        let _ = writeln!(o, "<div class=\"charts\">");
        for (_, svg) in charts {
            o.push_str(
                svg.trim_start_matches("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
                    .trim(),
            );
            o.push('\n');
        }
        let _ = writeln!(o, "</div>");
    }

    for (gi, g) in page.groups.iter().enumerate() {
        let _ = writeln!(o, "<h2>{}</h2>", esc(&g.label));
        let _ = writeln!(o, "<div class=\"charts\">");
        for (_, svg) in &g.charts {
            // plotters escapes the text it writes; the SVG is inlined as it is.
            o.push_str(
                svg.trim_start_matches("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
                    .trim(),
            );
            o.push('\n');
        }
        let _ = writeln!(o, "</div>");
        cell_table(&mut o, gi, &g.cells);
        if !g.fits.is_empty() {
            let _ = writeln!(o, "<p>{}</p>", esc(FIT_CAPTION));
            let _ = write!(o, "<table><tr>");
            for (i, h) in FIT_COLUMNS.iter().enumerate() {
                let class = if i == 0 { " class=\"l\"" } else { "" };
                let _ = write!(o, "<th{class}>{}</th>", esc(h));
            }
            let _ = writeln!(o, "</tr>");
            for f in &g.fits {
                let _ = write!(o, "<tr>");
                for (i, v) in fit_row(f).iter().enumerate() {
                    let class = if i == 0 { " class=\"l\"" } else { "" };
                    let _ = write!(o, "<td{class}>{}</td>", esc(v));
                }
                let _ = writeln!(o, "</tr>");
            }
            let _ = writeln!(o, "</table>");
        }
    }

    if !page.problems.is_empty() {
        let _ = writeln!(
            o,
            "<h2 id=\"problems\">Failed, skipped and missing cells</h2>"
        );
        let _ = writeln!(
            o,
            "<table><tr><th class=\"l\">cell</th><th class=\"l\">status</th><th class=\"l\">reason</th></tr>"
        );
        for c in &page.problems {
            let reason = match c.status {
                CellStatus::Missing => "no trial ran (the run was interrupted)".to_string(),
                _ => c.reasons.join("; "),
            };
            let _ = writeln!(
                o,
                "<tr><td class=\"l\"><code>{}</code></td><td class=\"l\">{}</td><td class=\"l\">{}</td></tr>",
                esc(&c.id),
                esc(&status_text(c)),
                esc(&reason)
            );
        }
        let _ = writeln!(o, "</table>");
    }
    if !page.warnings.is_empty() {
        let _ = writeln!(o, "<h2 id=\"warnings\">Warnings</h2>");
        let _ = writeln!(
            o,
            "<table><tr><th class=\"l\">cell</th><th class=\"l\">warning</th></tr>"
        );
        for (id, w) in &page.warnings {
            let _ = writeln!(
                o,
                "<tr><td class=\"l\"><code>{}</code></td><td class=\"l\">{}</td></tr>",
                esc(id),
                esc(w)
            );
        }
        let _ = writeln!(o, "</table>");
    }
    let _ = writeln!(o, "</body>\n</html>");
    o
}

/// A cell table that sorts by any column with no script: a pair of hidden radio buttons
/// per column (ascending, descending), the header's arrows their labels, and per row its
/// rank in every order as CSS variables; the table is a grid whose cells take the checked
/// order's rank as their `order` (`:has()`, see `STYLE`). With no radio checked, or in a
/// browser without `:has()`, the rows stay in the report's order.
fn cell_table(o: &mut String, table: usize, cells: &[&CellSummary]) {
    let models = model_order(cells.iter().map(|c| c.model.as_str()));
    let keys: Vec<[Option<f64>; 10]> = cells.iter().map(|c| sort_keys(c, &models)).collect();
    let ranks = |col: usize, descending: bool| -> Vec<usize> {
        let mut idx: Vec<usize> = (0..keys.len()).collect();
        idx.sort_by(|&a, &b| match (keys[a][col], keys[b][col]) {
            (Some(x), Some(y)) if descending => y.total_cmp(&x),
            (Some(x), Some(y)) => x.total_cmp(&y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.cmp(&b),
        });
        let mut rank = vec![0; keys.len()];
        for (r, i) in idx.into_iter().enumerate() {
            rank[i] = r + 1;
        }
        rank
    };
    let orders: Vec<[Vec<usize>; 2]> = (0..COLUMNS.len())
        .map(|col| [ranks(col, false), ranks(col, true)])
        .collect();
    let _ = write!(o, "<div class=\"sort wide\">");
    for (col, name) in COLUMNS.iter().enumerate() {
        for d in ["a", "d"] {
            let _ = write!(
                o,
                "<input type=\"radio\" name=\"sort{table}\" id=\"sort{table}-{col}{d}\" class=\"k{col}{d}\" aria-label=\"sort by {}, {}\"/>",
                esc(name),
                if d == "a" { "ascending" } else { "descending" }
            );
        }
    }
    let _ = write!(o, "<table class=\"cells\"><tr>");
    for (i, h) in COLUMNS.iter().enumerate() {
        let class = if i < 3 { " class=\"l\"" } else { "" };
        let _ = write!(
            o,
            "<th{class}>{} <label for=\"sort{table}-{i}a\" class=\"k{i}a\" title=\"sort ascending\">▲</label><label for=\"sort{table}-{i}d\" class=\"k{i}d\" title=\"sort descending\">▼</label></th>",
            esc(h)
        );
    }
    let _ = writeln!(o, "</tr>");
    for (r, c) in cells.iter().enumerate() {
        let vars: Vec<String> = orders
            .iter()
            .enumerate()
            .map(|(col, [a, d])| format!("--k{col}a:{};--k{col}d:{}", a[r], d[r]))
            .collect();
        let _ = write!(o, "<tr style=\"{}\">", vars.join(";"));
        for (i, v) in row(c).iter().enumerate() {
            let class = if i < 3 { " class=\"l\"" } else { "" };
            let _ = write!(o, "<td{class}>{}</td>", esc(v));
        }
        let _ = writeln!(o, "</tr>");
    }
    let _ = writeln!(o, "</table></div>");
}

/// The sorting rules of the cell tables (`cell_table`): one per column and direction.
fn sort_style() -> String {
    let mut css = String::from(
        ".sort { position: relative; } .sort input { position: absolute; opacity: 0; width: 1px; height: 1px; }\n\
         .sort table { display: grid; grid-template-columns: repeat(COLS, auto); width: max-content; border-top: 1px solid #d6d6d6; border-left: 1px solid #d6d6d6; }\n\
         .sort tbody, .sort tr { display: contents; } .sort th, .sort td { border-width: 0 1px 1px 0; order: var(--k, 0); }\n\
         .sort th { order: -1; } .sort label { cursor: pointer; color: #999; font-size: .7rem; padding: 0 .1rem; }\n\
         .sort input:focus-visible + input, .sort label:hover { color: #000; }\n",
    )
    .replace("COLS", &COLUMNS.len().to_string());
    for col in 0..COLUMNS.len() {
        for d in ["a", "d"] {
            let _ = writeln!(
                css,
                ".sort:has(.k{col}{d}:checked) tr {{ --k: var(--k{col}{d}); }} .sort:has(.k{col}{d}:checked) label.k{col}{d} {{ color: #000; }}"
            );
        }
    }
    css
}

/// Each cell's change against the folder's baseline (its compare.json), a table per
/// workload; or why compare.json cannot be read.
fn baseline(o: &mut String, page: &Page) {
    let Some(b) = &page.baseline else {
        return;
    };
    let _ = writeln!(o, "<h2 id=\"baseline\">Against the baseline</h2>");
    let b = match b {
        Ok(b) => b,
        Err(why) => {
            let _ = writeln!(o, "<p class=\"fails\">{}</p>", esc(why));
            return;
        }
    };
    let _ = writeln!(o, "<p>{}</p>", esc(&baseline_lead(b)));
    for g in &page.groups {
        let rows: Vec<Vec<String>> = g.cells.iter().filter_map(|c| baseline_row(b, c)).collect();
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(
            o,
            "<h3>{}</h3>\n<div class=\"wide\"><table><tr>",
            esc(&g.label)
        );
        for h in baseline_head() {
            let _ = write!(o, "<th class=\"l\">{}</th>", esc(h));
        }
        let _ = writeln!(o, "</tr>");
        for r in rows {
            let _ = write!(o, "<tr>");
            for v in r {
                let class = match v.as_str() {
                    "REGRESSED" => "l fails",
                    "improved" => "l holds",
                    _ if v.ends_with(" regressed") => "l fails",
                    _ if v.ends_with(" improved") => "l holds",
                    _ => "l",
                };
                let _ = write!(o, "<td class=\"{class}\">{}</td>", esc(&v));
            }
            let _ = writeln!(o, "</tr>");
        }
        let _ = writeln!(o, "</table></div>");
    }
}

/// The decision map of every workload: its sentence, and a row per concurrency with the
/// best model of each criterion in bold and the ties after it.
fn decisions(o: &mut String, page: &Page) {
    let maps: Vec<_> = page
        .groups
        .iter()
        .filter_map(|g| g.decision.as_ref())
        .collect();
    if maps.is_empty() {
        return;
    }
    let _ = writeln!(
        o,
        "<h2 id=\"decision\">Which model: the decision map</h2>\n<p class=\"note\">{}</p>",
        esc(CAPTION)
    );
    for d in maps {
        let _ = writeln!(
            o,
            "<h3>{}</h3>\n<p class=\"pattern\">{}</p>",
            esc(&d.label),
            esc(&d.sentence)
        );
        let _ = write!(o, "<div class=\"wide\"><table class=\"map\"><tr>");
        for h in Decision::head() {
            let _ = write!(o, "<th class=\"l\">{}</th>", esc(h));
        }
        let _ = writeln!(o, "</tr>");
        for (i, c) in d.concurrencies.iter().enumerate() {
            let _ = write!(o, "<tr><td>{c}</td>");
            for (e, (f, _)) in d.entries[i].iter().zip(CRITERIA) {
                let Some(e) = e else {
                    let _ = write!(o, "<td class=\"l\">-</td>");
                    continue;
                };
                let ties = match e.text(f).split_once("; ") {
                    Some((_, rest)) => format!("<br/><span class=\"ties\">{}</span>", esc(rest)),
                    None => String::new(),
                };
                let _ = write!(
                    o,
                    "<td class=\"l\"><strong>{}</strong> {}{ties}</td>",
                    esc(&e.best),
                    esc(&show(f, e.value))
                );
            }
            let _ = writeln!(o, "</tr>");
        }
        let _ = writeln!(o, "</table></div>");
    }
}

/// The findings' table: a row per claim, or where the findings are given in more than one
/// language, a row per claim and language, the claim's words spanning its rows.
fn findings(o: &mut String, page: &Page) {
    let by_language = page.by_language();
    let language = match by_language {
        true => "<th class=\"l\">language</th>",
        false => "",
    };
    let _ = writeln!(
        o,
        "<table><tr><th class=\"l\">claim of the talk</th>{language}<th class=\"l\">verdict</th><th class=\"l\">numbers from this run</th></tr>"
    );
    for fs in page.claims() {
        for (i, f) in fs.iter().enumerate() {
            let class = match f.verdict {
                Verdict::Holds => "holds",
                Verdict::DoesNotHold => "fails",
                Verdict::Mixed | Verdict::Undecided | Verdict::NotMeasured => "unknown",
            };
            let claim = match (by_language, i) {
                (false, _) => format!("<td class=\"l\">{}</td>", esc(f.claim)),
                (true, 0) => format!(
                    "<td class=\"l\" rowspan=\"{}\">{}</td><td class=\"l\">{}</td>",
                    fs.len(),
                    esc(f.claim),
                    esc(&f.language.name())
                ),
                (true, _) => format!("<td class=\"l\">{}</td>", esc(&f.language.name())),
            };
            let _ = writeln!(
                o,
                "<tr>{claim}<td class=\"l {class}\">{}</td><td class=\"l\">{}</td></tr>",
                esc(f.verdict.text()),
                esc(&f.evidence)
            );
        }
    }
    let _ = writeln!(o, "</table>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::findings::{Finding, Language};
    use crate::report::summary::Summary;

    fn summary() -> Summary {
        serde_json::from_value(serde_json::json!({
            "schema": 3, "scenario": "t",
            "machine": {"cpu_model": null, "cores": 2, "memory_bytes": null, "kernel": null,
                "os": "linux", "rustc": null, "iobench_version": "0", "git_commit": null,
                "limit_nofile": null, "limit_nproc": null},
            "cells": [],
        }))
        .unwrap()
    }

    fn finding(claim: &'static str, language: Language, evidence: &str) -> Finding {
        Finding {
            claim,
            language,
            verdict: Verdict::Holds,
            evidence: evidence.into(),
            cells: Vec::new(),
        }
    }

    fn page(s: &Summary, findings: Vec<Finding>) -> Page<'_> {
        Page {
            summary: s,
            groups: Vec::new(),
            findings,
            problems: Vec::new(),
            warnings: Vec::new(),
            protocol: Vec::new(),
            sweeps: Vec::new(),
            baseline: None,
        }
    }

    #[test]
    fn each_claim_shows_its_verdict_per_language_side_by_side() {
        let s = summary();
        let python = Language::External(Some("python".into()));
        let html = render(&page(
            &s,
            vec![
                finding("Claim <one>", Language::Rust, "tokio did 90000"),
                finding(
                    "Claim <one>",
                    python.clone(),
                    "In Python, py-asyncio did <9800>",
                ),
                finding("Claim two", Language::Rust, "r"),
                finding("Claim two", python, "p"),
            ],
        ));
        assert!(html.contains("<th class=\"l\">language</th>"), "{html}");
        assert!(html.contains(
            "<tr><td class=\"l\" rowspan=\"2\">Claim &lt;one&gt;</td><td class=\"l\">Rust</td><td class=\"l holds\">holds</td><td class=\"l\">tokio did 90000</td></tr>\n\
             <tr><td class=\"l\">Python</td><td class=\"l holds\">holds</td><td class=\"l\">In Python, py-asyncio did &lt;9800&gt;</td></tr>\n\
             <tr><td class=\"l\" rowspan=\"2\">Claim two</td>"
        ), "{html}");
        // Rust alone: the table as it always was, without a language column.
        let html = render(&page(&s, vec![finding("Claim two", Language::Rust, "r")]));
        assert!(
            !html.contains(">language<") && !html.contains("rowspan"),
            "{html}"
        );
        assert!(
            html.contains("<tr><td class=\"l\">Claim two</td><td class=\"l holds\">holds</td>")
        );
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("<script>alert('x') & \"y\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;"
        );
    }
}
