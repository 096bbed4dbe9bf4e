//! The languages a run's verdicts are given in: iobench's own models (Rust), and each
//! language of the external models (`[[model]] language`). A claim is decided once per
//! language from that language's cells alone, so that no comparison mixes languages; an
//! external cell counts as the iobench model its `like` names, and one without `like` is
//! in no claim.

use crate::plan::ModelKind;
use crate::report::summary::{CellSummary, Summary};

/// Whose cells a verdict reads.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Language {
    /// iobench's own models.
    Rust,
    /// External models of one language, as written in lower case (`None`: their tables
    /// name no language).
    External(Option<String>),
}

impl Language {
    /// The language a cell's model is written in: an external one's `language`, and Rust
    /// for a cell whose summary names neither a language nor a `like` (iobench's own).
    pub fn of(c: &CellSummary) -> Language {
        if c.language.is_none() && c.like.is_none() {
            return Language::Rust;
        }
        let named = c
            .language
            .as_deref()
            .map(str::trim)
            .filter(|l| !l.is_empty());
        Language::External(named.map(str::to_lowercase))
    }

    /// Rust, then each language of the run's external cells, in alphabetical order.
    pub fn present(s: &Summary) -> Vec<Language> {
        let mut out = vec![Language::Rust];
        let mut external: Vec<Language> = s
            .cells
            .iter()
            .map(Language::of)
            .filter(|l| *l != Language::Rust)
            .collect();
        external.sort();
        external.dedup();
        out.extend(external);
        out
    }

    /// The iobench model a cell stands for in this language's verdicts: an own cell's
    /// model, an external cell's `like`; `None` for a cell of another language, or an
    /// external one without `like`.
    pub fn kind(&self, c: &CellSummary) -> Option<ModelKind> {
        if Language::of(c) != *self {
            return None;
        }
        match self {
            Language::Rust => ModelKind::from_name(&c.model),
            Language::External(_) => ModelKind::from_name(c.like.as_deref()?),
        }
    }

    /// Its name for a reader, e.g. "Rust", "Python".
    pub fn name(&self) -> String {
        match self {
            Language::Rust => "Rust".into(),
            // Beside iobench's own Rust, an external model's Rust is told apart.
            Language::External(Some(l)) if l == "rust" => "Rust (external models)".into(),
            Language::External(Some(l)) => {
                let mut chars = l.chars();
                chars
                    .next()
                    .map(|c| c.to_uppercase().chain(chars).collect())
                    .unwrap_or_default()
            }
            Language::External(None) => "no language given".into(),
        }
    }

    /// How a verdict's evidence opens for this language: nothing for Rust (iobench's own
    /// models, as the talk's claims are worded), "In Python, " for another.
    pub fn opening(&self) -> String {
        match self {
            Language::Rust => String::new(),
            Language::External(Some(_)) => format!("In {}, ", self.name()),
            Language::External(None) => "Among external models with no language given, ".into(),
        }
    }

    /// What a run needs to judge a claim in this language, from what it needs in Rust.
    pub fn needs(&self, needs: &str) -> String {
        match self {
            Language::Rust => needs.to_string(),
            Language::External(_) => format!(
                "{}{needs}, each external model counted as the iobench model its `like` names",
                self.opening()
            ),
        }
    }
}
