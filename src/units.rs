//! Humane units in scenario files: durations ("250ms", "3s", "1.5m") and sizes ("1KiB").
//!
//! Values are parsed into `Duration` and `u64` bytes; they are printed back in the same
//! notation so that a record's `params` read like the scenario that produced them.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration written as a number and a unit: `ns`, `us`, `ms`, `s`, `m`, `h`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    pub const ZERO: HumanDuration = HumanDuration(Duration::ZERO);

    pub const fn ms(n: u64) -> HumanDuration {
        HumanDuration(Duration::from_millis(n))
    }

    pub const fn secs(n: u64) -> HumanDuration {
        HumanDuration(Duration::from_secs(n))
    }
}

/// A size in bytes written as a number and a unit: `B`, `KiB`, `MiB`, `GiB` (or `KB`, `MB`, `GB`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct HumanSize(pub u64);

/// The longest duration a scenario may write (a week): past it a value is a typo, and
/// past about 584 years it would not fit in a `Duration` at all.
pub const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);

/// The largest size a scenario may write (1 GiB): what one op may move, or a workload
/// allocate per op in flight, and still leave the machine running. Parameters may allow
/// less.
pub const MAX_SIZE: u64 = 1 << 30;

const DURATION_UNITS: &[(&str, f64)] = &[
    ("ns", 1e-9),
    ("us", 1e-6),
    ("µs", 1e-6),
    ("ms", 1e-3),
    ("s", 1.0),
    ("m", 60.0),
    ("h", 3600.0),
];

const SIZE_UNITS: &[(&str, u64)] = &[
    ("B", 1),
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
    ("KB", 1000),
    ("MB", 1000 * 1000),
    ("GB", 1000 * 1000 * 1000),
];

/// Splits "12.5ms" into (12.5, "ms").
fn split_number(s: &str) -> Option<(f64, &str)> {
    let s = s.trim();
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(s.len());
    let value: f64 = s[..end].parse().ok()?;
    Some((value, s[end..].trim()))
}

/// Reads "12.5ms" against `units`: the number and its unit's scale. An empty unit is
/// `empty_unit`, where there is one. Errors name `s`, the kind of value (`what`) and `hint`.
fn scaled<T: Copy>(
    s: &str,
    what: &str,
    hint: &str,
    units: &[(&str, T)],
    empty_unit: Option<&str>,
) -> Result<(f64, T), String> {
    let (value, unit) = split_number(s).ok_or_else(|| format!("`{s}` is not a {what}; {hint}"))?;
    let unit = match (unit.is_empty(), empty_unit) {
        (true, Some(u)) => u,
        _ => unit,
    };
    let scale = units
        .iter()
        .find(|(u, _)| *u == unit)
        .map(|(_, f)| *f)
        .ok_or_else(|| format!("`{s}` has no known unit of {what}; {hint}"))?;
    if !value.is_finite() || value < 0.0 {
        return Err(format!("`{s}` is negative; {what}s must be positive"));
    }
    Ok((value, scale))
}

impl std::str::FromStr for HumanDuration {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let hint = "write a number and a unit, e.g. \"250ms\", \"3s\", \"1.5m\" (units: ns, us, ms, s, m, h)";
        let (value, scale) = scaled(s, "duration", hint, DURATION_UNITS, None)?;
        let secs = value * scale;
        if secs > MAX_DURATION.as_secs_f64() {
            return Err(format!(
                "`{s}` is longer than any duration iobench accepts, {}",
                HumanDuration(MAX_DURATION)
            ));
        }
        Ok(HumanDuration(Duration::from_secs_f64(secs)))
    }
}

impl std::str::FromStr for HumanSize {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let hint = "write a number and a unit, e.g. \"512B\", \"1KiB\", \"4MiB\"";
        let (value, scale) = scaled(s, "size", hint, SIZE_UNITS, Some("B"))?;
        let bytes = (value * scale as f64).round();
        if bytes > MAX_SIZE as f64 {
            return Err(format!(
                "`{s}` is larger than any size iobench accepts, {}",
                HumanSize(MAX_SIZE)
            ));
        }
        Ok(HumanSize(bytes as u64))
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0.as_nanos();
        let (div, unit) = match ns {
            0 => return f.write_str("0s"),
            n if n % 1_000_000_000 == 0 => (1_000_000_000, "s"),
            n if n % 1_000_000 == 0 => (1_000_000, "ms"),
            n if n % 1_000 == 0 => (1_000, "us"),
            _ => (1, "ns"),
        };
        write!(f, "{}{unit}", ns / div)
    }
}

impl fmt::Display for HumanSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        for (unit, scale) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
            if n >= scale && n % scale == 0 {
                return write!(f, "{}{unit}", n / scale);
            }
        }
        write!(f, "{n}B")
    }
}

macro_rules! serde_via_str {
    ($ty:ty, $what:literal) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl serde::de::Visitor<'_> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($what)
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$ty, E> {
                        v.parse().map_err(E::custom)
                    }
                }
                d.deserialize_str(V)
            }
        }
    };
}

serde_via_str!(
    HumanDuration,
    "a duration string such as \"250ms\" or \"3s\""
);
serde_via_str!(HumanSize, "a size string such as \"1KiB\"");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_durations() {
        let d = |s: &str| s.parse::<HumanDuration>().map(|h| h.0);
        assert_eq!(d("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(d("3s"), Ok(Duration::from_secs(3)));
        assert_eq!(d("1.5m"), Ok(Duration::from_secs(90)));
        assert_eq!(d("20us"), Ok(Duration::from_micros(20)));
        assert!(d("-1s").is_err());
        assert!(d("3").is_err());
        assert!(d("ten ms").is_err());
    }

    #[test]
    fn durations_round_trip() {
        for s in ["10ms", "3s", "250us", "7ns", "0s"] {
            assert_eq!(s.parse::<HumanDuration>().unwrap().to_string(), s);
        }
    }

    #[test]
    fn parses_sizes() {
        let z = |s: &str| s.parse::<HumanSize>().map(|h| h.0);
        assert_eq!(z("1KiB"), Ok(1024));
        assert_eq!(z("10KiB"), Ok(10240));
        assert_eq!(z("100"), Ok(100));
        assert_eq!(z("2MB"), Ok(2_000_000));
        assert!(z("1XB").is_err());
        assert_eq!(HumanSize(10240).to_string(), "10KiB");
    }
}
