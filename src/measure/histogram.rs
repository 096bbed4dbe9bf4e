//! Latency histograms in records and summaries: HdrHistogram's V2 serialization with
//! DEFLATE, base64-encoded (the `HISTFAAA…` strings HdrHistogram's own tools read), and the
//! percentiles of a histogram of nanoseconds.
//!
//! A cell's percentiles are those of its trials' histograms merged: the p99 of every op of
//! every trial, not the median of the trials' p99s. Merging is exact (the buckets add), so
//! runs on several machines can be pooled the same way.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};

/// The histogram as a base64 string; `None` when it is empty.
pub fn encode(h: &Histogram<u64>) -> Option<String> {
    if h.is_empty() {
        return None;
    }
    let mut bytes = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut bytes)
        .expect("a histogram serializes into memory");
    Some(STANDARD.encode(bytes))
}

/// A histogram from its base64 string.
pub fn decode(s: &str) -> Result<Histogram<u64>, String> {
    let bytes = STANDARD
        .decode(s.trim())
        .map_err(|e| format!("a latency histogram is not base64: {e}"))?;
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| format!("a latency histogram cannot be read: {e:?}"))
}

/// The histograms merged; `None` when there are none, or one cannot be read or added.
pub fn merge<'a>(encoded: impl IntoIterator<Item = &'a str>) -> Option<Histogram<u64>> {
    let mut all: Option<Histogram<u64>> = None;
    for s in encoded {
        let h = decode(s).ok()?;
        match &mut all {
            None => all = Some(h),
            Some(a) => a.add(&h).ok()?,
        }
    }
    all
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

/// Latency percentiles of verified ops, in microseconds.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LatencyUs {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p99_9: f64,
    pub max: f64,
    pub mean: f64,
}

/// Percentiles of a histogram of nanoseconds, in microseconds; `None` when it is empty.
pub fn percentiles(h: &Histogram<u64>) -> Option<LatencyUs> {
    (!h.is_empty()).then(|| LatencyUs {
        p50: us(h.value_at_quantile(0.50)),
        p90: us(h.value_at_quantile(0.90)),
        p99: us(h.value_at_quantile(0.99)),
        p99_9: us(h.value_at_quantile(0.999)),
        max: us(h.max()),
        mean: h.mean() / 1000.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::Tally;

    #[test]
    fn merged_percentiles_are_those_of_the_pooled_latencies() {
        // Two trials: one fast, one with a slow tail. The median of their p99s is neither's
        // p99 of all ops; the merged histogram's is exactly that of one histogram of all.
        let (mut a, mut b, mut all) = (Tally::default(), Tally::default(), Tally::default());
        for i in 0..1000u64 {
            let fast = 100_000 + i * 37;
            a.record_ok_ns(fast, None);
            all.record_ok_ns(fast, None);
        }
        for i in 0..500u64 {
            let slow = if i % 10 == 0 {
                9_000_000 + i
            } else {
                200_000 + i * 11
            };
            b.record_ok_ns(slow, None);
            all.record_ok_ns(slow, None);
        }
        let (ea, eb) = (
            encode(&a.latency_ns).unwrap(),
            encode(&b.latency_ns).unwrap(),
        );
        assert!(ea.starts_with("HISTFAAA"), "{ea}");
        let merged = merge([ea.as_str(), eb.as_str()]).unwrap();
        assert_eq!(merged.len(), 1500);
        assert_eq!(percentiles(&merged), percentiles(&all.latency_ns));
        let p99 = percentiles(&merged).unwrap().p99;
        // 50 of 1,500 ops (3.3%) are slow, so the pooled p99 is a slow one: about 9 ms.
        assert!((8_990.0..9_020.0).contains(&p99), "{p99}");
        assert!(merge(["not base64!"]).is_none());
        assert!(encode(&Tally::default().latency_ns).is_none());
    }
}
