//! Commands iobench starts but did not write (an external model's server or worker): they
//! die with the process that started them, and their last lines explain a failure.

use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::Command;

/// Lines of a command's output shown when it fails.
const LAST_LINES: usize = 12;

/// Has the kernel kill the command's process when the process that starts it dies.
pub fn dies_with_parent(c: &mut Command) {
    // SAFETY: prctl only sets this child's parent-death signal, between fork and exec; it
    // allocates nothing.
    unsafe {
        c.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        })
    };
}

/// The last lines of the file a command wrote its `what` ("stderr", "output") to, for a
/// failure's reason.
pub fn last_lines(path: &Path, what: &str) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    match lines.len() {
        0 => format!("it wrote no {what}"),
        n => format!(
            "its last {what} lines:\n{}",
            lines[n.saturating_sub(LAST_LINES)..].join("\n")
        ),
    }
}
