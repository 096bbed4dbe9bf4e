//! Hints for mistakes: what to do about an error message, and a TOML syntax or shape
//! error made into a [`ScenarioError`] with one.

use super::error::{Ctx, ScenarioError};
use super::run_keys::RUN_KEYS;

impl Ctx<'_> {
    pub(super) fn toml_error(&self, e: toml::de::Error) -> ScenarioError {
        let message = e.message().trim().to_string();
        let hint = hint_for(&message);
        // toml names no place for a key of too many dotted parts: find it.
        let span = e.span().or_else(|| {
            (message == "recursion limit")
                .then(|| deep_key(self.src))
                .flatten()
                .map(|at| at..at)
        });
        self.err(span.unwrap_or(0..0), message, Some(hint))
    }
}

/// The parts of a dotted key (or table header) past which toml gives up ("recursion
/// limit"); it refuses a key whose table path has 80 parts.
const DEEPEST_KEY: usize = 81;

/// The offset of the first dotted key (`a.b.c`, bare or quoted parts) of at least
/// [`DEEPEST_KEY`] parts. A key is on one line, so a line at a time; a float (`1.5`) is
/// read as a key of two parts, too few to matter.
fn deep_key(src: &str) -> Option<usize> {
    let mut line_start = 0;
    for line in src.split_inclusive('\n') {
        let b = line.as_bytes();
        let mut i = 0;
        let (mut parts, mut start) = (0, 0);
        let bare = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'-';
        let skip_ws = |mut i: usize| {
            while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
                i += 1;
            }
            i
        };
        while i < b.len() {
            // One part: a bare key or a quoted one.
            let part_start = i;
            let end = match b[i] {
                q @ (b'"' | b'\'') => {
                    let mut j = i + 1;
                    while j < b.len() && b[j] != q {
                        j += if q == b'"' && b[j] == b'\\' { 2 } else { 1 };
                    }
                    (j < b.len()).then_some(j + 1)
                }
                c if bare(c) => {
                    let mut j = i;
                    while j < b.len() && bare(b[j]) {
                        j += 1;
                    }
                    Some(j)
                }
                _ => None,
            };
            let Some(end) = end else {
                parts = 0;
                i += 1;
                continue;
            };
            if parts == 0 {
                start = part_start;
            }
            parts += 1;
            if parts >= DEEPEST_KEY {
                return Some(line_start + start);
            }
            let after = skip_ws(end);
            match b.get(after) {
                Some(b'.') => i = skip_ws(after + 1),
                _ => {
                    parts = 0;
                    i = end.max(i + 1);
                }
            }
        }
        line_start += line.len();
    }
    None
}

pub(super) fn hint_for(message: &str) -> String {
    let h = if message.contains("unknown field") {
        return format!(
            "check the spelling; `iobench list` shows every workload's parameters, and the [run] keys are: {}",
            RUN_KEYS.join(", ")
        );
    } else if message.contains("unknown variant") && message.contains("sequential") {
        "`iobench list` shows every model with a one-line description"
    } else if message.contains("unknown variant") && message.contains("closed") {
        "only the closed loop exists so far: mode = \"closed\""
    } else if message.contains("unknown variant") {
        "`iobench list` shows every workload kind"
    } else if message.contains("than any duration iobench accepts") {
        "write a shorter duration; a week is the most any key accepts"
    } else if message.contains("than any size iobench accepts") {
        "write a smaller size; 1GiB is the most any key accepts, and a workload may allow less (`iobench list`)"
    } else if message.contains("is too large: the most is") {
        "write a smaller number; a million tasks is already past what most machines hold (scenarios/million.toml)"
    } else if message.contains("no known unit of size") {
        "sizes are strings with a unit, e.g. payload = \"1KiB\", value_size = \"64B\""
    } else if message.contains("duration") {
        "durations are strings with a unit, e.g. warmup = \"1s\", latency = \"10ms\""
    } else if message.contains("missing field") {
        "add the field; see scenarios/quick.toml for a complete example"
    } else {
        "the file must be valid TOML (see toml.io); scenarios/quick.toml is a complete example"
    };
    h.to_string()
}
