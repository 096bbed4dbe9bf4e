//! The `[run]` keys: their value types, checked where they are written, and [`RUN_KEYS`]
//! and the `[run]` table (`RawRun`) declared once for `[run]` and the `[[workload]]` tables
//! that override its keys.

use std::fmt;
use std::ops::Range;
use std::time::Duration;

use serde::de::MapAccess;
use serde::{Deserialize, Deserializer};
use toml::Spanned;

use super::config::RunConfig;
use super::error::{Ctx, ScenarioError};
use crate::plan::{External, LoadMode};
use crate::units::HumanDuration;

/// Declares a `[run]` value type that is checked where it is written: `$name($inner)`,
/// read as a `$from` and made by `$make` (or refused with its message).
macro_rules! checked {
    ($(#[$doc:meta])* $name:ident($inner:ty) from $from:ty, |$v:ident| $make:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug)]
        pub(super) struct $name(pub(super) $inner);

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let $v = <$from>::deserialize(d)?;
                let made: Result<$inner, String> = $make;
                made.map($name).map_err(serde::de::Error::custom)
            }
        }
    };
}

checked!(
    /// A strictly positive integer; 0 and negatives are rejected where they are written.
    Positive(u32) from i64, |v| match u32::try_from(v) {
        Ok(0) => Err("must be at least 1, got 0".into()),
        Ok(n) => Ok(n),
        Err(_) if v < 0 => Err(format!("must be at least 1, got {v}")),
        Err(_) => Err(format!("{v} is too large: the most is {}", u32::MAX)),
    }
);

checked!(
    /// A rate in ops per second, above zero.
    PositiveRate(f64) from f64, |v| match v.is_finite() && v > 0.0 {
        true => Ok(v),
        false => Err(format!("rate must be above 0 ops per second, got {v}")),
    }
);

checked!(
    /// A fraction from 0 to 1.
    Fraction(f64) from f64, |v| match (0.0..=1.0).contains(&v) {
        true => Ok(v),
        false => Err(format!("must be a fraction from 0 to 1 (0.01 is 1%), got {v}")),
    }
);

checked!(
    /// A duration longer than zero (and, as every duration, at most
    /// [`MAX_DURATION`](crate::units::MAX_DURATION), a week).
    NonZeroDuration(Duration) from HumanDuration, |h| match h.0.is_zero() {
        true => Err("duration must be longer than zero".into()),
        false => Ok(h.0),
    }
);

/// Declares the `[run]` table (every `[run]` key, spanned) and [`RUN_KEYS`], once for the
/// `[run]` table and the `[[workload]]` tables that override its keys.
macro_rules! run_keys {
    ($($key:ident : $ty:ty),* $(,)?) => {
        /// The keys of `[run]`, which any `[[workload]]` may override.
        pub const RUN_KEYS: &[&str] = &[$(stringify!($key)),*];

        #[derive(Deserialize, Default)]
        #[serde(deny_unknown_fields)]
        pub(super) struct RawRun {
            $(pub(super) $key: Option<Spanned<$ty>>,)*
        }

        impl RawRun {
            /// Reads `key`'s value into this table if it is a `[run]` key.
            pub(super) fn take<'de, A: MapAccess<'de>>(
                &mut self,
                key: &str,
                map: &mut A,
            ) -> Result<bool, A::Error> {
                match key {
                    $(stringify!($key) => self.$key = Some(map.next_value()?),)*
                    _ => return Ok(false),
                }
                Ok(true)
            }

            /// Applies the `[run]` keys written in this table over `run`.
            /// `models` names iobench's models or the scenario's `externals`.
            pub(super) fn overlay(&self, ctx: &Ctx, run: &mut RunConfig, externals: &[External]) -> Result<(), ScenarioError> {
                if let Some(v) = &self.trials { run.trials = v.get_ref().0; }
                if let Some(v) = &self.warmup { run.warmup = v.get_ref().0; }
                if let Some(v) = &self.duration { run.duration = v.get_ref().0; }
                if let Some(v) = &self.mode { run.mode = *v.get_ref(); }
                if let Some(v) = &self.rate { run.rate = Some(v.get_ref().0); }
                if let Some(v) = &self.pool_size { run.pool_size = v.get_ref().0; }
                if let Some(v) = &self.process_cap { run.process_cap = v.get_ref().0; }
                if let Some(v) = &self.event_loops { run.event_loops = v.get_ref().0; }
                if let Some(v) = &self.trial_timeout { run.trial_timeout = Some(v.get_ref().0); }
                if let Some(v) = &self.max_error_rate { run.max_error_rate = v.get_ref().0; }
                if let Some(v) = &self.models {
                    unique(ctx, v, "models", |m| m.get_ref().clone(), |m| m.span())?;
                    run.models = v
                        .get_ref()
                        .iter()
                        .map(|m| super::models::resolve(ctx, m, externals))
                        .collect::<Result<_, _>>()?;
                }
                if let Some(v) = &self.concurrency {
                    run.concurrency = unique(ctx, v, "concurrency", |c| c.get_ref().0, |c| c.span())?;
                }
                if let Some(t) = &self.trial_timeout {
                    let needed = run.warmup.saturating_add(run.duration);
                    if t.get_ref().0 <= needed {
                        return Err(ctx.err(
                            t.span(),
                            format!("trial_timeout {} leaves no time for the trial itself: warm-up plus duration is already {}",
                                HumanDuration(t.get_ref().0), HumanDuration(needed)),
                            Some("make trial_timeout longer than warmup + duration, or leave it out (default: warmup + duration + 30s)".into()),
                        ));
                    }
                }
                Ok(())
            }
        }
    };
}

run_keys! {
    trials: Positive,
    warmup: HumanDuration,
    duration: NonZeroDuration,
    mode: LoadMode,
    rate: PositiveRate,
    models: Vec<Spanned<String>>,
    concurrency: Vec<Spanned<Positive>>,
    pool_size: Positive,
    process_cap: Positive,
    event_loops: Positive,
    trial_timeout: NonZeroDuration,
    max_error_rate: Fraction,
}

/// A non-empty list without repeats.
fn unique<T, U: PartialEq + fmt::Debug>(
    ctx: &Ctx,
    list: &Spanned<Vec<T>>,
    key: &str,
    value: impl Fn(&T) -> U,
    span: impl Fn(&T) -> Range<usize>,
) -> Result<Vec<U>, ScenarioError> {
    if list.get_ref().is_empty() {
        return Err(ctx.err(
            list.span(),
            format!("`{key}` is empty"),
            Some(format!(
                "list at least one value in `{key}`, or leave the key out to use the default"
            )),
        ));
    }
    let mut out: Vec<U> = Vec::new();
    for item in list.get_ref() {
        let v = value(item);
        if out.contains(&v) {
            return Err(ctx.err(
                span(item),
                format!("{v:?} appears twice in `{key}`"),
                Some("list each value once".into()),
            ));
        }
        out.push(v);
    }
    Ok(out)
}
