//! How much memory a trial may take here, and whether the kernel's OOM killer ended one:
//! `MemAvailable`, and the limit, usage and OOM-kill count of this process's memory cgroup
//! (v2 `memory.max`/`memory.current`/`memory.events`, or v1 `memory.limit_in_bytes`/
//! `memory.usage_in_bytes`/`memory.oom_control`) where they can be read.

use std::fs;
use std::path::PathBuf;

/// Memory available to new processes, and what says so.
#[derive(Clone, Debug, PartialEq)]
pub struct Room {
    pub bytes: u64,
    pub what: String,
}

/// The memory cgroup of this process: (its folder, v2?).
fn memory_cgroup() -> Option<(PathBuf, bool)> {
    let s = fs::read_to_string("/proc/self/cgroup").ok()?;
    // v1: a `memory` controller line; v2: the one `0::` line.
    if let Some(p) = s.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        controllers
            .split(',')
            .any(|c| c == "memory")
            .then(|| path.to_string())
    }) {
        return Some((PathBuf::from(format!("/sys/fs/cgroup/memory{p}")), false));
    }
    let p = s.lines().find_map(|l| l.strip_prefix("0::"))?;
    Some((
        PathBuf::from(format!("/sys/fs/cgroup{}", p.trim_end_matches('/'))),
        true,
    ))
}

fn read_u64(path: PathBuf) -> Option<u64> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// `MemAvailable` from /proc/meminfo, in bytes.
pub fn mem_available() -> Option<u64> {
    let m = fs::read_to_string("/proc/meminfo").ok()?;
    let kb = m
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))?
        .split_whitespace()
        .next()?
        .parse::<u64>()
        .ok()?;
    Some(kb * 1024)
}

/// The least room of the machine's `MemAvailable` and the memory cgroup's limit less its
/// usage.
pub fn room() -> Option<Room> {
    let mut best = mem_available().map(|b| Room {
        bytes: b,
        what: "the machine's MemAvailable".into(),
    });
    if let Some((dir, v2)) = memory_cgroup() {
        let (limit, usage) = match v2 {
            true => (
                read_u64(dir.join("memory.max")),
                read_u64(dir.join("memory.current")),
            ),
            false => (
                read_u64(dir.join("memory.limit_in_bytes")),
                read_u64(dir.join("memory.usage_in_bytes")),
            ),
        };
        if let (Some(limit), Some(usage)) = (limit, usage) {
            let left = limit.saturating_sub(usage);
            if best.as_ref().is_none_or(|b| left < b.bytes) {
                best = Some(Room {
                    bytes: left,
                    what: format!("what its memory cgroup {} has left", dir.display()),
                });
            }
        }
    }
    best
}

/// How many processes of this process's memory cgroup the OOM killer has killed so far.
pub fn oom_kills() -> Option<u64> {
    let (dir, v2) = memory_cgroup()?;
    let (file, key) = match v2 {
        true => ("memory.events", "oom_kill "),
        false => ("memory.oom_control", "oom_kill "),
    };
    let text = fs::read_to_string(dir.join(file)).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_machine_has_room_and_it_is_below_its_memory() {
        let r = room().expect("Linux has /proc/meminfo");
        let total = fs::read_to_string("/proc/meminfo").unwrap();
        assert!(r.bytes > 0, "{r:?}");
        assert!(total.contains("MemTotal:"), "{total}");
    }
}
