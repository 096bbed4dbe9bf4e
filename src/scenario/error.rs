//! Errors that point into the file: [`ScenarioError`] (shown with its source line and a
//! caret under the mistake) and the context that makes them from a span.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A mistake in a scenario file, with where it is and how to fix it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioError {
    pub path: PathBuf,
    /// 1-based line and column; `None` when the file could not be read.
    pub location: Option<(usize, usize)>,
    pub message: String,
    pub hint: Option<String>,
    /// The offending source line, for display.
    pub source_line: Option<String>,
    pub span_len: usize,
}

impl std::error::Error for ScenarioError {}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        match self.location {
            Some((line, col)) => {
                writeln!(f, "{path}:{line}:{col}: {}", self.message)?;
                if let Some(src) = &self.source_line {
                    let gutter = line.to_string().len();
                    writeln!(f, "{:gutter$} |", "")?;
                    writeln!(f, "{line} | {src}")?;
                    let pad = src
                        .chars()
                        .take(col - 1)
                        .map(|c| if c == '\t' { '\t' } else { ' ' });
                    let marks = "^".repeat(
                        self.span_len
                            .clamp(1, src.len().saturating_sub(col - 1).max(1)),
                    );
                    writeln!(f, "{:gutter$} | {}{marks}", "", pad.collect::<String>())?;
                }
            }
            None => writeln!(f, "{path}: {}", self.message)?,
        }
        if let Some(h) = &self.hint {
            write!(f, "hint: {h}")?;
        }
        Ok(())
    }
}

fn locate(src: &str, offset: usize) -> (usize, usize, String) {
    let offset = offset.min(src.len());
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = src[line_start..offset].chars().count() + 1;
    let text = src[line_start..].lines().next().unwrap_or("").to_string();
    (line, col, text)
}

pub(super) struct Ctx<'a> {
    pub(super) path: &'a Path,
    pub(super) src: &'a str,
}

impl Ctx<'_> {
    pub(super) fn err(
        &self,
        span: Range<usize>,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> ScenarioError {
        let (line, col, text) = locate(self.src, span.start);
        let len = self.src[span.start.min(self.src.len())..span.end.min(self.src.len())]
            .lines()
            .next()
            .map_or(1, |l| l.chars().count());
        ScenarioError {
            path: self.path.to_path_buf(),
            location: Some((line, col)),
            message: message.into(),
            hint,
            source_line: Some(text),
            span_len: len,
        }
    }
}
