//! The machine stamp: what a run was measured on, so figures are never read without it.

use std::fs;

use serde::{Deserialize, Serialize};

use super::rusage::soft_limit;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    pub cpu_model: Option<String>,
    /// Logical CPUs this process may run on.
    pub cores: usize,
    pub memory_bytes: Option<u64>,
    pub kernel: Option<String>,
    pub os: String,
    pub rustc: Option<String>,
    pub iobench_version: String,
    /// Commit the binary was built from, `-dirty` when the tree had changes.
    pub git_commit: Option<String>,
    /// Soft limit on open files (after iobench raised it), `None` when unlimited.
    pub limit_nofile: Option<u64>,
    /// Soft limit on processes and threads of this user, `None` when unlimited.
    pub limit_nproc: Option<u64>,
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

fn kernel_release() -> Option<String> {
    fs::read_to_string("/proc/sys/kernel/osrelease")
        .ok()
        .map(|s| s.trim().to_string())
}

impl Machine {
    pub fn detect() -> Machine {
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string());
        let memory_bytes = fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                m.lines()
                    .find(|l| l.starts_with("MemTotal:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|kb| kb.parse::<u64>().ok())
            })
            .map(|kb| kb * 1024);
        Machine {
            cpu_model,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_bytes,
            kernel: kernel_release(),
            os: std::env::consts::OS.to_string(),
            rustc: non_empty(env!("IOBENCH_RUSTC_VERSION")),
            iobench_version: env!("CARGO_PKG_VERSION").to_string(),
            git_commit: non_empty(env!("IOBENCH_GIT_COMMIT")),
            limit_nofile: soft_limit(libc::RLIMIT_NOFILE),
            limit_nproc: soft_limit(libc::RLIMIT_NPROC),
        }
    }
}
