//! The processes a run starts, as /proc shows them.

use std::path::PathBuf;

/// Every process id in /proc now.
pub fn pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect()
}

/// The fields of /proc/PID/stat after the command name (its state first, then its parent);
/// None once the process is gone.
fn stat(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    Some(rest.split(' ').map(str::to_string).collect())
}

/// The parent of `pid`.
pub fn parent(pid: u32) -> Option<u32> {
    stat(pid)?.get(1)?.parse().ok()
}

/// Alive and not a zombie.
pub fn alive(pid: u32) -> bool {
    stat(pid).is_some_and(|s| !s[0].starts_with('Z'))
}

/// The command line of `pid`, its arguments each followed by a NUL (empty once it is
/// gone).
pub fn cmdline(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default()
}

/// The executable `pid` runs.
pub fn exe(pid: u32) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/exe")).ok()
}

/// The children of `parent` whose command line contains all of `words`.
pub fn children_with(parent: u32, words: &[&str]) -> Vec<u32> {
    pids()
        .into_iter()
        .filter(|&pid| self::parent(pid) == Some(parent))
        .filter(|&pid| {
            let cmdline = cmdline(pid);
            words.iter().all(|w| cmdline.contains(w))
        })
        .collect()
}

/// The first child of `parent` whose command line contains all of `words`.
pub fn child_with(parent: u32, words: &[&str]) -> Option<u32> {
    children_with(parent, words).first().copied()
}
