//! Stamps the binary with the compiler's version and the git commit it was built from,
//! for the machine stamp of every run.

use std::process::Command;

fn output(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = output(&rustc, &["--version"]).unwrap_or_default();
    println!("cargo:rustc-env=IOBENCH_RUSTC_VERSION={version}");
    let commit = output("git", &["rev-parse", "HEAD"]).unwrap_or_default();
    let dirty = output("git", &["status", "--porcelain", "--untracked-files=no"])
        .map(|_| "-dirty")
        .unwrap_or("");
    let commit = if commit.is_empty() {
        commit
    } else {
        format!("{commit}{dirty}")
    };
    println!("cargo:rustc-env=IOBENCH_GIT_COMMIT={commit}");
    for path in [".git/HEAD", ".git/index", ".git/refs/heads"] {
        if std::path::Path::new(path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    // A position-dependent executable: its relocated read-only data (`.data.rel.ro`, some
    // 180 KB of vtables and string tables) is fixed at link time, so a `processes` worker,
    // an exec'd copy of this binary, shares those pages with the others instead of writing
    // a private copy of each at start (+173 KiB per worker, measured by bare_loops).
    println!("cargo:rustc-link-arg-bins=-no-pie");
    println!("cargo:rerun-if-changed=build.rs");
}
