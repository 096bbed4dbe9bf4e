//! How many more threads and processes this machine lets the trial start, and which limit
//! says so: read before a model starts C threads or processes, so that a cell past the
//! limit fails at once with the limit named, not after it has started thousands of them.
//!
//! The kernel counts threads and processes alike as tasks, each with an id from one
//! space: `kernel.pid_max` and `kernel.threads-max` bound them all, the cgroup's
//! `pids.max` those of the trial's cgroup, and `RLIMIT_NPROC` those of its user (not for
//! root). A thread's stack is also a mapping of its process, so `vm.max_map_count` bounds
//! the threads of one process.

use std::fmt;
use std::fs;

use super::rusage::soft_limit;

/// One limit on tasks: its name as a user would look it up, how many it allows, and how
/// many it already counts.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskLimit {
    pub name: String,
    pub limit: u64,
    pub used: u64,
}

impl TaskLimit {
    /// How many more it allows.
    pub fn room(&self) -> u64 {
        self.limit.saturating_sub(self.used)
    }
}

impl fmt::Display for TaskLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} allows {} and {} are in use",
            self.name, self.limit, self.used
        )
    }
}

/// What the new tasks are: threads of this process, or processes (each with its threads).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tasks {
    Threads,
    Processes,
}

/// Mappings a Rust thread adds to its process: its stack and the guard page below it, and
/// the signal stack the standard library gives it and that one's guard page. (Past the
/// limit a thread's start aborts the process: "failed to set up alternative stack guard
/// page".)
const MAPS_PER_THREAD: u64 = 4;

fn read_u64(path: &str) -> Option<u64> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Every limit that bounds new tasks of `kind` here (those that cannot be read are left
/// out).
pub fn task_limits(kind: Tasks) -> Vec<TaskLimit> {
    let mut out = Vec::new();
    // The fourth field of /proc/loadavg, "running/total": every task on the machine.
    let all_tasks = fs::read_to_string("/proc/loadavg").ok().and_then(|s| {
        let (_, total) = s.split_whitespace().nth(3)?.split_once('/')?;
        total.parse::<u64>().ok()
    });
    if let Some(used) = all_tasks {
        for (name, path) in [
            ("kernel.pid_max", "/proc/sys/kernel/pid_max"),
            ("kernel.threads-max", "/proc/sys/kernel/threads-max"),
        ] {
            if let Some(limit) = read_u64(path) {
                out.push(TaskLimit {
                    name: name.into(),
                    limit,
                    used,
                });
            }
        }
    }
    if let Some(cgroup) = own_cgroup() {
        let dir = format!("/sys/fs/cgroup{cgroup}");
        let (max, current) = (
            read_u64(&format!("{dir}/pids.max")),
            read_u64(&format!("{dir}/pids.current")),
        );
        if let (Some(limit), Some(used)) = (max, current) {
            out.push(TaskLimit {
                name: format!("the cgroup's pids.max ({dir}/pids.max)"),
                limit,
                used,
            });
        }
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        if let Some(limit) = soft_limit(libc::RLIMIT_NPROC) {
            out.push(TaskLimit {
                name: "RLIMIT_NPROC (ulimit -u)".into(),
                limit,
                used: own_user_tasks(),
            });
        }
    }
    if kind == Tasks::Threads {
        let maps = fs::read_to_string("/proc/self/maps").map(|m| m.lines().count() as u64);
        if let (Some(limit), Ok(used)) = (read_u64("/proc/sys/vm/max_map_count"), maps) {
            out.push(TaskLimit {
                name: format!("vm.max_map_count ({limit} mappings, {MAPS_PER_THREAD} a thread)"),
                limit: limit / MAPS_PER_THREAD,
                used: used.div_ceil(MAPS_PER_THREAD),
            });
        }
    }
    out
}

/// The limit with the least room for new tasks of `kind`, if any can be read.
pub fn tightest(kind: Tasks) -> Option<TaskLimit> {
    task_limits(kind).into_iter().min_by_key(TaskLimit::room)
}

/// Why `n` new tasks of `kind`, each `per` tasks (a process and its threads), cannot start
/// here, or `None` if every limit has room for them.
pub fn short_of(kind: Tasks, n: u64, per: u64) -> Option<TaskLimit> {
    tightest(kind).filter(|l| n.saturating_mul(per) > l.room())
}

/// `reason` (why a trial failed), with the limit on open files where it says a call ran
/// out of them (EMFILE), so that the reader knows which limit to raise.
pub fn explain(reason: String) -> String {
    if !(reason.contains("os error 24") || reason.contains("Too many open files")) {
        return reason;
    }
    format!("{reason}: {}", too_many_files())
}

/// Open files a process keeps for itself beside its sockets: the binary, the runtime's
/// epoll and event descriptors, /proc readings, pipes to its workers.
const FILES_RESERVED: u64 = 64;

/// Why `sockets` sockets cannot be open at once in one process here, or `None`.
pub fn short_of_files(sockets: u64) -> Option<String> {
    let (soft, _) = nofile();
    (sockets + FILES_RESERVED > soft).then(|| {
        format!(
            "cannot hold {sockets} sockets open in one process: {}",
            too_many_files()
        )
    })
}

fn nofile() -> (u64, u64) {
    // SAFETY: getrlimit on a struct we own.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        (lim.rlim_cur as u64, lim.rlim_max as u64)
    }
}

fn too_many_files() -> String {
    let (soft, hard) = nofile();
    format!(
        "too many open files (limit {soft}, hard limit {hard}; `ulimit -Hn` as root raises it, and each op in flight holds one)"
    )
}

/// The cgroup (v2) this process is in: `/proc/self/cgroup`'s `0::PATH` line.
fn own_cgroup() -> Option<String> {
    let s = fs::read_to_string("/proc/self/cgroup").ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(|p| p.trim_end_matches('/').to_string())
}

/// Tasks (threads) of processes whose real user is this process's.
fn own_user_tasks() -> u64 {
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() }.to_string();
    let Ok(dir) = fs::read_dir("/proc") else {
        return 0;
    };
    dir.flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| fs::read_to_string(e.path().join("status")).ok())
        .filter(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|v| v.split_whitespace().next())
                == Some(uid.as_str())
        })
        .filter_map(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|v| v.trim().parse::<u64>().ok())
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limits_of_this_machine_are_read_and_leave_room() {
        let limits = task_limits(Tasks::Threads);
        // Linux always has these two, and this test's own threads are counted.
        for name in ["kernel.pid_max", "kernel.threads-max"] {
            let l = limits.iter().find(|l| l.name == name).expect(name);
            assert!(l.used >= 1 && l.limit > l.used, "{l}");
        }
        assert!(short_of(Tasks::Threads, 1, 1).is_none());
        let past = short_of(Tasks::Processes, u64::MAX / 2, 1).expect("past every limit");
        assert!(past.to_string().contains(" allows "), "{past}");
    }
}
