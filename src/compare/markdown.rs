//! The Markdown table of a comparison: the gate's verdict, then every row, then the cells
//! that could not be judged and why.

use std::fmt::Write as _;

use super::{ERROR_RATE, Report, Verdict};
use crate::report::markdown::md;

pub use crate::report::baseline::pct;

fn num(x: Option<f64>) -> String {
    x.map_or("–".into(), |x| format!("{x:.4}"))
}

/// The smallest detectable change as a share; past ±1000% the number says nothing more.
pub fn detectable(d: f64) -> String {
    if d > 10.0 {
        "over ±1000%".into()
    } else {
        format!("±{:.1}%", d * 100.0)
    }
}

/// The gate's counts in one line: what regressed and improved, how many gated figures were
/// judged, and the cells of BASE missing.
pub fn counts(r: &Report) -> String {
    format!(
        "{} regressed, {} improved; {} of {} gated figures judged, {} inconclusive{}{}",
        r.regressed,
        r.improved,
        r.judged,
        r.gated,
        r.inconclusive,
        if r.fail_on_inconclusive {
            " (inconclusive fails the gate)"
        } else {
            ""
        },
        match r.missing.len() {
            0 => String::new(),
            n => format!(
                "; {n} cell{} of BASE missing{}",
                if n == 1 { "" } else { "s" },
                if r.allow_missing { " (allowed)" } else { "" }
            ),
        }
    )
}

/// The Markdown table of a comparison (for the console, a job summary or a PR comment).
pub fn markdown(r: &Report) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "## iobench compare\n\nBASE `{}` → NEW `{}`\n\n**Gate: {}.** {}.\n",
        md(&r.base),
        md(&r.new),
        if r.passed { "passed" } else { "FAILED" },
        counts(r)
    );
    let _ = writeln!(
        o,
        "Noise threshold ±{:.0}%; significance {} for the gated table (Holm, Welch or paired t on logarithms); error rate may rise by {:.3}%. Not gated rows are reported at the same level among themselves.\n",
        r.threshold * 100.0,
        r.significance,
        r.max_error_rate * 100.0
    );
    let _ = writeln!(
        o,
        "| cell | figure | gated | BASE | NEW | change | interval | p | detectable | verdict |\n|---|---|---|---|---|---|---|---|---|---|"
    );
    for c in &r.comparisons {
        let interval = match (c.ci_low, c.ci_high) {
            (Some(lo), Some(hi)) => format!("{} … {}", pct(lo), pct(hi)),
            _ => "–".into(),
        };
        let mut verdict = c.verdict.text().to_string();
        if let Some(n) = c.trials_needed {
            let _ = write!(verdict, " (needs {n} trials a side)");
        } else if c.verdict == Verdict::Inconclusive && c.p_value.is_some() {
            verdict.push_str(" (needs over 1000 trials a side)");
        }
        if let Some(note) = &c.note {
            let _ = write!(verdict, ": {}", md(note));
        }
        let (base, new) = match c.figure {
            ERROR_RATE => (
                c.base_median
                    .map_or("–".into(), |x| format!("{:.3}%", x * 100.0)),
                c.new_median
                    .map_or("–".into(), |x| format!("{:.3}%", x * 100.0)),
            ),
            _ => (num(c.base_median), num(c.new_median)),
        };
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            md(&c.cell),
            c.figure,
            if c.gated { "yes" } else { "no" },
            base,
            new,
            c.ratio.map_or("–".into(), pct),
            interval,
            c.p_value.map_or("–".into(), |p| format!("{p:.2e}")),
            c.detectable_change.map_or("–".into(), detectable),
            verdict
        );
    }
    for (name, list) in [
        ("Cells of BASE missing from NEW", &r.missing),
        ("Cells only in NEW, not compared", &r.only_in_new),
    ] {
        if !list.is_empty() {
            let _ = writeln!(o, "\n{name}:");
            for c in list {
                let _ = writeln!(o, "- `{}`", md(c));
            }
        }
    }
    o
}
