//! The independent load generator: `wrk` (Debian's package), run against the same server
//! with the same connection count after iobench's own window, so that its requests/s and
//! latency sit beside iobench's in the same trial. wrk checks statuses only (non-2xx
//! responses are its errors), not bodies.

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use crate::record::WrkFigures;

/// The wrk command line for `connections` over `threads` threads for `secs` seconds.
fn command(addr: SocketAddr, path: &str, connections: u32, threads: u32, secs: u64) -> Command {
    let mut c = Command::new("wrk");
    c.arg(format!("-t{}", threads.clamp(1, connections)))
        .arg(format!("-c{connections}"))
        .arg(format!("-d{secs}s"))
        .arg("--timeout")
        .arg("10s")
        .arg("--latency")
        .arg(format!("http://{addr}{path}"));
    c
}

/// Warms up for `warmup` (figures discarded), then measures for `duration`; both are
/// rounded up to whole seconds.
pub fn run(
    addr: SocketAddr,
    path: &str,
    connections: u32,
    threads: u32,
    warmup: Duration,
    duration: Duration,
) -> anyhow::Result<WrkFigures> {
    let secs = |d: Duration| d.as_secs() + u64::from(d.subsec_nanos() > 0);
    if !warmup.is_zero() {
        once(command(addr, path, connections, threads, secs(warmup)))?;
    }
    let n = secs(duration).max(1);
    let mut f = parse(&once(command(addr, path, connections, threads, n))?)?;
    f.secs = n;
    Ok(f)
}

fn once(mut c: Command) -> anyhow::Result<String> {
    let out = c.output().map_err(|e| {
        anyhow::anyhow!(
            "cannot run wrk ({e}); install it (`apt-get install wrk`; scripts/test.sh does) or set load_generator = \"iobench\""
        )
    })?;
    anyhow::ensure!(
        out.status.success(),
        "wrk failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A wrk duration such as `153.00us`, `1.57ms` or `2.01s`, in microseconds.
fn micros(s: &str) -> Option<f64> {
    let (num, unit) = s.split_at(s.find(|c: char| c.is_ascii_alphabetic())?);
    let v: f64 = num.parse().ok()?;
    Some(match unit {
        "us" => v,
        "ms" => v * 1e3,
        "s" => v * 1e6,
        "m" => v * 60e6,
        _ => return None,
    })
}

/// Reads wrk's report (with `--latency`).
pub fn parse(out: &str) -> anyhow::Result<WrkFigures> {
    let mut f = WrkFigures::default();
    let mut seen = 0;
    for line in out.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", v] => {
                f.requests_per_sec = v.parse()?;
                seen += 1;
            }
            [n, "requests", "in", ..] => f.requests = n.parse()?,
            [p, v] if p.ends_with('%') => {
                let us = micros(v).ok_or_else(|| anyhow::anyhow!("wrk latency `{v}`"))?;
                match *p {
                    "50%" => f.latency_p50_us = us,
                    "75%" => f.latency_p75_us = us,
                    "90%" => f.latency_p90_us = us,
                    "99%" => f.latency_p99_us = us,
                    _ => {}
                }
                seen += 1;
            }
            ["Socket", "errors:", rest @ ..] => {
                f.errors += rest
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok())
                    .sum::<u64>();
            }
            ["Non-2xx", "or", "3xx", "responses:", n] => f.errors += n.parse::<u64>()?,
            _ => {}
        }
    }
    anyhow::ensure!(
        seen == 5,
        "wrk's report lacks requests/sec or its latency distribution:\n{out}"
    );
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_report() {
        let out = "Running 1s test @ http://127.0.0.1:8080/
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   163.03us   45.67us   1.57ms   85.46%
    Req/Sec    95.05k     5.01k  100.41k    81.82%
  Latency Distribution
     50%  153.00us
     75%  172.00us
     90%    1.20ms
     99%    2.01s
  95551 requests in 1.10s, 7.29MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 10
Requests/sec:  86862.29
Transfer/sec:      6.63MB
";
        let f = parse(out).unwrap();
        assert_eq!(f.requests_per_sec, 86862.29);
        assert_eq!(f.requests, 95551);
        assert_eq!(f.latency_p50_us, 153.0);
        assert_eq!(f.latency_p90_us, 1200.0);
        assert!((f.latency_p99_us - 2.01e6).abs() < 1e-3);
        assert_eq!(f.errors, 13);
        assert!(parse("Running 1s test\n").is_err());
    }
}
