//! The raw TOML shape of a scenario, with spans: the file (`RawScenario`) and each
//! `[[workload]]` table (`RawWorkload`).

use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use toml::Spanned;

use super::models::RawModel;
use super::run_keys::RawRun;
use crate::workload::WorkloadKind;

/// A `[[workload]]` table: its `kind`, the `[run]` keys it overrides, and the other keys,
/// which are read as the kind's parameters once the kind is known (the table's keys may
/// come in any order).
#[derive(Default)]
pub(super) struct RawWorkload {
    pub(super) kind: Option<Spanned<WorkloadKind>>,
    pub(super) run: RawRun,
    pub(super) params: Vec<(Spanned<String>, Spanned<toml::Value>)>,
}

impl<'de> Deserialize<'de> for RawWorkload {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Table;
        impl<'de> Visitor<'de> for Table {
            type Value = RawWorkload;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a [[workload]] table")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawWorkload, A::Error> {
                let mut w = RawWorkload::default();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    match key.get_ref().as_str() {
                        "kind" => w.kind = Some(map.next_value()?),
                        k if w.run.take(k, &mut map)? => {}
                        _ => w.params.push((key, map.next_value()?)),
                    }
                }
                Ok(w)
            }
        }
        d.deserialize_map(Table)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawScenario {
    pub(super) name: Spanned<String>,
    #[serde(default)]
    pub(super) description: String,
    #[serde(default)]
    pub(super) run: RawRun,
    #[serde(default)]
    pub(super) workload: Vec<Spanned<RawWorkload>>,
    /// The models the scenario defines (`[[model]]`).
    #[serde(default)]
    pub(super) model: Vec<Spanned<RawModel>>,
}
