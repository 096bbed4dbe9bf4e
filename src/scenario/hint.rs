//! Hints for mistakes: what to do about an error message, and a TOML syntax or shape
//! error made into a [`ScenarioError`] with one.

use super::error::{Ctx, ScenarioError};
use super::run_keys::RUN_KEYS;

impl Ctx<'_> {
    pub(super) fn toml_error(&self, e: toml::de::Error) -> ScenarioError {
        let message = e.message().trim().to_string();
        let hint = hint_for(&message);
        self.err(e.span().unwrap_or(0..0), message, Some(hint))
    }
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
