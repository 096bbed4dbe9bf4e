//! `compare.html`: a comparison in the browser, self-contained like report.html (inline
//! CSS and SVG, no script): the gate's verdict; the verdict table, each ratio's interval
//! drawn as a bar against the threshold band; the cells that could not be judged, and
//! why; and per regressed row, the two sides' trial values side by side.

use std::fmt::Write as _;

use super::markdown::pct;
use super::{Comparison, ERROR_RATE, Report, TRIALS, Verdict};
use crate::report::console::micros;
use crate::report::html::esc;

const STYLE: &str = "
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 2rem auto; max-width: 1500px; padding: 0 1rem; color: #1b1b1b; }
h1 { font-size: 1.5rem; } h2 { margin-top: 2rem; border-bottom: 1px solid #ddd; padding-bottom: .3rem; font-size: 1.2rem; }
table { border-collapse: collapse; margin: .8rem 0; font-size: .86rem; }
th, td { border: 1px solid #d6d6d6; padding: .25rem .5rem; text-align: right; vertical-align: middle; white-space: nowrap; }
th { background: #f3f3f3; } td.l, th.l { text-align: left; }
.wide { overflow-x: auto; } tr.cell th { background: #fafafa; font-weight: normal; padding-top: .5rem; } .pass { color: #006d2c; } .fail { color: #b30000; }
.improved { color: #006d2c; font-weight: 600; } .regressed { color: #b30000; font-weight: 600; } .inconclusive { color: #666; }
svg.ci { display: block; }
h1, h2, h3, code { overflow-wrap: anywhere; }
@media (max-width: 640px) { body { margin: 1rem auto; padding: 0 .5rem; } table { font-size: .76rem; } th, td { padding: .2rem .3rem; } }
";

/// Width and height of an interval's bar.
const BAR_W: f64 = 200.0;
const BAR_H: f64 = 18.0;

/// A row's value in the unit that reads best.
fn value(c: &Comparison, x: Option<f64>) -> String {
    let Some(x) = x else {
        return "–".into();
    };
    match (c.figure, c.unit) {
        (ERROR_RATE, _) => format!("{:.3}%", x * 100.0),
        (_, "bytes") => format!("{:.2} MiB", x / 1024.0 / 1024.0),
        (_, "µs") => micros(x),
        (_, "ops/s") => format!("{x:.1} ops/s"),
        (_, "s") => format!("{x:.4} s"),
        (_, unit) => format!("{x:.4} {unit}"),
    }
}

fn class(v: Verdict) -> &'static str {
    match v {
        Verdict::Improved => "improved",
        Verdict::Regressed => "regressed",
        Verdict::NoChange => "nochange",
        Verdict::Inconclusive => "inconclusive",
    }
}

/// The interval of a row's ratio as a bar on a log axis centred on 1, over the grey band
/// of ±threshold, with the point ratio as a dot; its numbers as a tooltip.
fn bar(c: &Comparison, threshold: f64) -> String {
    let (Some(lo), Some(hi), Some(r)) = (c.ci_low, c.ci_high, c.ratio) else {
        return "–".into();
    };
    if !(lo > 0.0 && hi > 0.0 && r > 0.0) {
        return "–".into();
    }
    // The axis spans the interval and the band, whichever is wider, with a margin.
    let reach = [lo.ln().abs(), hi.ln().abs(), (1.0 + threshold).ln() * 2.0]
        .into_iter()
        .fold(0.0, f64::max)
        * 1.15;
    let x = |v: f64| BAR_W / 2.0 + v.ln() / reach * (BAR_W / 2.0 - 4.0);
    let colour = match c.verdict {
        Verdict::Improved => "#1a9641",
        Verdict::Regressed => "#d7191c",
        Verdict::NoChange => "#2b83ba",
        Verdict::Inconclusive => "#777777",
    };
    let (b0, b1) = (x(1.0 - threshold), x(1.0 + threshold));
    format!(
        "<svg class=\"ci\" width=\"{BAR_W}\" height=\"{BAR_H}\" viewBox=\"0 0 {BAR_W} {BAR_H}\" role=\"img\" aria-label=\"interval {} to {}\">\
         <title>{}: ratio {} ({}), interval {} … {}; the grey band is ±{:.0}%</title>\
         <rect x=\"{b0:.1}\" y=\"2\" width=\"{:.1}\" height=\"{:.0}\" fill=\"#e6e6e6\"/>\
         <line x1=\"{:.1}\" y1=\"0\" x2=\"{:.1}\" y2=\"{BAR_H}\" stroke=\"#999\" stroke-width=\"1\"/>\
         <line x1=\"{:.1}\" y1=\"{:.0}\" x2=\"{:.1}\" y2=\"{:.0}\" stroke=\"{colour}\" stroke-width=\"3\"/>\
         <circle cx=\"{:.1}\" cy=\"{:.0}\" r=\"4\" fill=\"{colour}\"/></svg>",
        pct(lo),
        pct(hi),
        esc(c.figure),
        format_args!("{r:.4}"),
        pct(r),
        pct(lo),
        pct(hi),
        threshold * 100.0,
        b1 - b0,
        BAR_H - 4.0,
        x(1.0),
        x(1.0),
        x(lo),
        BAR_H / 2.0,
        x(hi),
        BAR_H / 2.0,
        x(r),
        BAR_H / 2.0,
    )
}

/// Why a row has no verdict, or what it would need.
fn why(c: &Comparison) -> String {
    let mut out = Vec::new();
    if let Some(n) = c.trials_needed {
        out.push(format!("needs {n} trials a side at this noise"));
    } else if c.verdict == Verdict::Inconclusive && c.p_value.is_some() {
        out.push("needs over 1000 trials a side at this noise".into());
    }
    if let Some(note) = &c.note {
        out.push(note.clone());
    }
    out.join("; ")
}

pub fn render(r: &Report) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n\
         <title>iobench compare</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <h1>iobench compare</h1>\n<p>BASE <code>{}</code> → NEW <code>{}</code></p>\n",
        esc(&r.base),
        esc(&r.new)
    );
    let _ = writeln!(
        o,
        "<p class=\"{}\"><strong>Gate: {}.</strong> {}.</p>",
        if r.passed { "pass" } else { "fail" },
        if r.passed { "passed" } else { "FAILED" },
        esc(&super::markdown::counts(r))
    );
    let _ = writeln!(
        o,
        "<p>Noise threshold ±{:.0}% (the grey band); significance {} for the gated table (Holm, Welch or paired t on logarithms), each bar the ratio's interval at the Bonferroni level; error rate may rise by {:.3}%.</p>",
        r.threshold * 100.0,
        esc(&r.significance.to_string()),
        r.max_error_rate * 100.0
    );

    let _ = writeln!(
        o,
        "<h2 id=\"verdicts\">Verdicts</h2>\n<div class=\"wide\"><table>"
    );
    let _ = writeln!(
        o,
        "<tr><th class=\"l\">figure</th><th>gated</th><th>BASE</th><th>NEW</th><th>change</th><th class=\"l\">interval against ±{:.0}%</th><th>p</th><th>detectable</th><th class=\"l\">verdict</th></tr>",
        r.threshold * 100.0
    );
    for (i, c) in r.comparisons.iter().enumerate() {
        // Each cell's rows under its name.
        if i == 0 || r.comparisons[i - 1].cell != c.cell {
            let _ = writeln!(
                o,
                "<tr class=\"cell\"><th class=\"l\" colspan=\"9\"><code>{}</code></th></tr>",
                esc(&c.cell)
            );
        }
        let _ = writeln!(
            o,
            "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td class=\"l {}\">{}</td></tr>",
            esc(c.figure),
            if c.gated { "yes" } else { "no" },
            value(c, c.base_median),
            value(c, c.new_median),
            c.ratio.map_or("–".into(), pct),
            bar(c, r.threshold),
            c.p_value.map_or("–".into(), |p| format!("{p:.2e}")),
            c.detectable_change
                .map_or("–".into(), super::markdown::detectable),
            class(c.verdict),
            esc(c.verdict.text())
        );
    }
    let _ = writeln!(o, "</table></div>");

    let unjudged: Vec<&Comparison> = r
        .comparisons
        .iter()
        .filter(|c| c.verdict == Verdict::Inconclusive)
        .collect();
    let _ = writeln!(o, "<h2 id=\"unjudged\">Not judged, and why</h2>");
    if unjudged.is_empty() && r.missing.is_empty() && r.only_in_new.is_empty() {
        let _ = writeln!(o, "<p>Every comparison has a verdict.</p>");
    }
    if !unjudged.is_empty() {
        let _ = writeln!(
            o,
            "<table><tr><th class=\"l\">cell</th><th class=\"l\">figure</th><th class=\"l\">why</th></tr>"
        );
        for c in unjudged {
            let _ = writeln!(
                o,
                "<tr><td class=\"l\"><code>{}</code></td><td class=\"l\">{}</td><td class=\"l\">{}</td></tr>",
                esc(&c.cell),
                esc(c.figure),
                esc(&why(c))
            );
        }
        let _ = writeln!(o, "</table>");
    }
    for (name, list) in [
        ("Cells of BASE missing from NEW", &r.missing),
        ("Cells only in NEW, not compared", &r.only_in_new),
    ] {
        if !list.is_empty() {
            let _ = writeln!(o, "<p>{name}:</p>\n<ul>");
            for c in list {
                let _ = writeln!(o, "<li><code>{}</code></li>", esc(c));
            }
            let _ = writeln!(o, "</ul>");
        }
    }

    let regressed: Vec<&Comparison> = r
        .comparisons
        .iter()
        .filter(|c| c.verdict == Verdict::Regressed)
        .collect();
    if !regressed.is_empty() {
        let _ = writeln!(
            o,
            "<h2 id=\"regressed\">Regressed: the trials side by side</h2>"
        );
    }
    for c in regressed {
        let _ = writeln!(
            o,
            "<h3><code>{}</code> — {}</h3>",
            esc(&c.cell),
            esc(c.figure)
        );
        if [TRIALS, ERROR_RATE].contains(&c.figure) || c.base_values.is_empty() {
            let _ = writeln!(
                o,
                "<p>BASE {} → NEW {}{}</p>",
                value(c, c.base_median),
                value(c, c.new_median),
                c.note
                    .as_ref()
                    .map_or(String::new(), |n| format!(": {}", esc(n)))
            );
            continue;
        }
        let _ = writeln!(
            o,
            "<table><tr><th>trial</th><th>BASE ({})</th><th>NEW ({})</th></tr>",
            esc(c.unit),
            esc(c.unit)
        );
        for i in 0..c.base_values.len().max(c.new_values.len()) {
            let cell = |v: &[f64]| v.get(i).map_or("–".into(), |x| format!("{x:.4}"));
            let _ = writeln!(
                o,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                i + 1,
                cell(&c.base_values),
                cell(&c.new_values)
            );
        }
        let _ = writeln!(o, "</table>");
    }
    let _ = writeln!(o, "</body>\n</html>");
    o
}
