//! The machinery of a verdict: each figure's range over a cell's ok trials, comparisons
//! that hold, fail or lie within the trials' range, and a claim decided from all of its
//! comparisons (see the module above for the rules).

use crate::figure::Figure;
use crate::plan::ModelKind;
use crate::report::summary::{CellStatus, CellSummary, Stat, Summary};

use super::language::Language;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Holds,
    DoesNotHold,
    /// Some comparisons hold and some fail.
    Mixed,
    /// Every comparison lies within the trials' range (or most do, and none decides).
    Undecided,
    NotMeasured,
}

impl Verdict {
    pub fn text(self) -> &'static str {
        match self {
            Verdict::Holds => "holds",
            Verdict::DoesNotHold => "does not hold",
            Verdict::Mixed => "mixed",
            Verdict::Undecided => "undecided (within the trials' range)",
            Verdict::NotMeasured => "not measured in this run",
        }
    }
}

pub struct Finding {
    pub claim: &'static str,
    /// Whose cells it read: iobench's own (Rust) or one language's external models.
    pub language: Language,
    pub verdict: Verdict,
    /// The numbers behind the verdict, or what would measure it.
    pub evidence: String,
    /// The ids of the cells the verdict read.
    pub cells: Vec<String>,
}

/// How one comparison came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    Holds,
    Fails,
    /// The trials' ranges overlap, or a cell has no spread to judge by.
    Within,
}

impl Outcome {
    pub(super) fn word(self) -> &'static str {
        match self {
            Outcome::Holds => "holds",
            Outcome::Fails => "does not hold",
            Outcome::Within => "within the trials' range",
        }
    }
}

/// One comparison behind a verdict.
pub(super) struct Check {
    pub(super) outcome: Outcome,
    /// What it compared and found, naming its cells.
    pub(super) text: String,
    pub(super) cells: Vec<String>,
}

impl Check {
    /// Two cells compared: all of `parts` must hold.
    pub(super) fn of_pair(
        parts: &[Outcome],
        text: String,
        a: &CellSummary,
        b: &CellSummary,
    ) -> Check {
        Check {
            outcome: all(parts),
            text,
            cells: vec![a.id.clone(), b.id.clone()],
        }
    }
}

/// A figure's spread over a cell's ok trials.
#[derive(Clone, Copy, Debug)]
pub(super) struct Range {
    pub(super) lo: f64,
    pub(super) hi: f64,
    /// The cell's value (median, or the merged percentile).
    pub(super) mid: f64,
    /// Ok trials.
    pub(super) n: f64,
}

pub(super) fn range(c: &CellSummary, f: Figure) -> Option<Range> {
    Some(Range {
        lo: c.stat(f, Stat::Min)?,
        hi: c.stat(f, Stat::Max)?,
        mid: c.value(f)?,
        n: c.stat(f, Stat::N).unwrap_or(1.0),
    })
}

impl Range {
    pub(super) fn scaled(self, k: f64) -> Range {
        Range {
            lo: self.lo * k,
            hi: self.hi * k,
            mid: self.mid * k,
            n: self.n,
        }
    }

    /// The ratio self / other, its range the widest the two ranges allow.
    pub(super) fn over(self, other: Range) -> Option<Range> {
        (other.lo > 0.0).then(|| Range {
            lo: self.lo / other.hi,
            hi: self.hi / other.lo,
            mid: self.mid / other.mid,
            n: self.n.min(other.n),
        })
    }
}

/// Whether `a` is below `b`, beyond both cells' trials: holds where a's highest trial is
/// under b's lowest, fails where a's lowest is at or over b's highest.
pub(super) fn below(a: Range, b: Range) -> Outcome {
    if a.n < 2.0 || b.n < 2.0 {
        Outcome::Within
    } else if a.hi < b.lo {
        Outcome::Holds
    } else if a.lo >= b.hi {
        Outcome::Fails
    } else {
        Outcome::Within
    }
}

/// Every part must hold for the whole to hold; any part that fails fails it.
pub(super) fn all(parts: &[Outcome]) -> Outcome {
    if parts.contains(&Outcome::Fails) {
        Outcome::Fails
    } else if parts.iter().all(|&o| o == Outcome::Holds) {
        Outcome::Holds
    } else {
        Outcome::Within
    }
}

/// A guard: fails only where it is clearly broken (`a` clearly below `b`); never decides
/// a claim by itself.
pub(super) fn guard_not_below(a: Range, b: Range) -> Outcome {
    match below(a, b) {
        Outcome::Holds => Outcome::Fails,
        _ => Outcome::Holds,
    }
}

pub(super) const SINGLE_LOOP: [ModelKind; 3] = [
    ModelKind::TokioCurrentThread,
    ModelKind::AsyncStd,
    ModelKind::Smol,
];

pub(super) fn ok(c: &CellSummary) -> bool {
    matches!(c.status, CellStatus::Ok | CellStatus::Partial)
}

/// Cells of one workload (same kind, parameters and mode), by model and concurrency: the
/// ok cells of `lang` that stand for one of iobench's models.
pub(super) fn groups<'a>(s: &'a Summary, lang: &Language) -> Vec<Vec<&'a CellSummary>> {
    let mut out: Vec<Vec<&CellSummary>> = Vec::new();
    for c in s.cells.iter().filter(|c| ok(c) && lang.kind(c).is_some()) {
        let key = |d: &CellSummary| (d.workload.clone(), d.params.to_string(), d.mode.clone());
        match out.iter_mut().find(|g| key(g[0]) == key(c)) {
            Some(g) => g.push(c),
            None => out.push(vec![c]),
        }
    }
    out
}

/// The names of the models in `cells` that stand for `m` in `lang`, in order of their
/// first cell: one for Rust (the model itself), any number for an external language.
pub(super) fn names<'a>(
    cells: impl IntoIterator<Item = &'a CellSummary>,
    lang: &Language,
    m: ModelKind,
) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for c in cells {
        if lang.kind(c) == Some(m) && !out.contains(&c.model.as_str()) {
            out.push(&c.model);
        }
    }
    out
}

/// Each cell in `g` at concurrency `c` that stands for `m` in `lang`.
pub(super) fn find<'a>(
    g: &[&'a CellSummary],
    lang: &Language,
    m: ModelKind,
    c: u32,
) -> Vec<&'a CellSummary> {
    g.iter()
        .copied()
        .filter(|x| lang.kind(x) == Some(m) && x.concurrency == c)
        .collect()
}

/// The label of a workload, e.g. `sleep[latency=10ms]`.
pub fn label(c: &CellSummary) -> String {
    crate::workload::label(&c.workload, &c.params)
}

/// Where a comparison's cells lie: the workload, its concurrency and, if not closed, mode.
pub(super) fn place(c: &CellSummary) -> String {
    let mode = match c.mode.as_str() {
        "closed" => String::new(),
        m => format!(", {m} loop"),
    };
    format!("{} C = {}{mode}", label(c), c.concurrency)
}

pub(super) fn kib(b: f64) -> String {
    if b.abs() >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", b / 1024.0 / 1024.0)
    } else {
        format!("{:.1} KiB", b / 1024.0)
    }
}

/// A range as text, in the unit `unit` gives.
pub(super) fn show(r: Range, unit: impl Fn(f64) -> String) -> String {
    format!("{} ({}–{})", unit(r.mid), unit(r.lo), unit(r.hi))
}

pub(super) fn ops(x: f64) -> String {
    format!("{x:.0}")
}

pub(super) fn cpu(x: f64) -> String {
    format!("{x:.4}")
}

pub(super) fn pct(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

/// The finding from its checks: the verdict, and how many agree.
/// A claim of the talk: its words, what a run needs to judge it, and a note the evidence
/// ends with.
pub(super) struct Claim {
    pub(super) text: &'static str,
    pub(super) needs: &'static str,
    pub(super) note: &'static str,
}

pub(super) fn decide(claim: &Claim, lang: &Language, checks: Vec<Check>) -> Finding {
    let (unmeasured, note) = (claim.needs, claim.note);
    let claim = claim.text;
    if checks.is_empty() {
        return Finding {
            claim,
            language: lang.clone(),
            verdict: Verdict::NotMeasured,
            evidence: lang.needs(unmeasured),
            cells: Vec::new(),
        };
    }
    let count = |o| checks.iter().filter(|c| c.outcome == o).count();
    let (h, f, w) = (
        count(Outcome::Holds),
        count(Outcome::Fails),
        count(Outcome::Within),
    );
    let verdict = match (h, f) {
        (h, 0) if h > w => Verdict::Holds,
        (0, f) if f > w => Verdict::DoesNotHold,
        (h, f) if h > 0 && f > 0 => Verdict::Mixed,
        _ => Verdict::Undecided,
    };
    let n = checks.len();
    let mut evidence = format!(
        "{}{h} of {n} comparison{} hold, {f} do{} not, {w} within the trials' range: {}",
        lang.opening(),
        if n == 1 { "" } else { "s" },
        if f == 1 { "es" } else { "" },
        checks
            .iter()
            .map(|c| format!("{} ({})", c.text, c.outcome.word()))
            .collect::<Vec<_>>()
            .join("; ")
    );
    evidence.push_str(note);
    let mut cells: Vec<String> = Vec::new();
    for id in checks.into_iter().flat_map(|c| c.cells) {
        if !cells.contains(&id) {
            cells.push(id);
        }
    }
    Finding {
        claim,
        language: lang.clone(),
        verdict,
        evidence,
        cells,
    }
}
