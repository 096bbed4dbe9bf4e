//! The load generator and its target on two hosts: two network namespaces joined by a
//! veth pair (as root, with `ip`), `iobench serve http` in one and `iobench run --target`
//! in the other. Where namespaces cannot be made (not root, no `ip`) the test is skipped
//! with the reason; on CI (`CI` set), as root, it must run.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use common::{assert_exit, read_records};

/// Two namespaces, `a` (10.231.0.1) and `b` (10.231.0.2), and the veth pair between them;
/// removed on drop (the pair goes with its namespaces).
struct Hosts {
    a: String,
    b: String,
}

const A_ADDR: &str = "10.231.0.1";

fn ip(args: &[&str]) -> Result<(), String> {
    let o = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run `ip`: {e}"))?;
    match o.status.success() {
        true => Ok(()),
        false => Err(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr).trim()
        )),
    }
}

impl Hosts {
    fn make() -> Result<Hosts, String> {
        // SAFETY: geteuid only reads this process's user id.
        if unsafe { libc::geteuid() } != 0 {
            return Err("not root: network namespaces need CAP_SYS_ADMIN".into());
        }
        // Tests run side by side: each pair of hosts has names of its own.
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let id = (std::process::id() % 10_000) * 10 + n;
        let hosts = Hosts {
            a: format!("iob-a-{id}"),
            b: format!("iob-b-{id}"),
        };
        let (va, vb) = (format!("iva{id}"), format!("ivb{id}"));
        ip(&["netns", "add", &hosts.a])?;
        ip(&["netns", "add", &hosts.b])?;
        ip(&["link", "add", &va, "type", "veth", "peer", "name", &vb])?;
        ip(&["link", "set", &va, "netns", &hosts.a])?;
        ip(&["link", "set", &vb, "netns", &hosts.b])?;
        for (ns, dev, addr) in [(&hosts.a, &va, A_ADDR), (&hosts.b, &vb, "10.231.0.2")] {
            ip(&["-n", ns, "addr", "add", &format!("{addr}/24"), "dev", dev])?;
            ip(&["-n", ns, "link", "set", dev, "up"])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
        }
        Ok(hosts)
    }

    /// Two hosts, or `None` (the test then passes, saying why) where they cannot be made;
    /// on CI they must be.
    fn or_skip() -> Option<Hosts> {
        match Hosts::make() {
            Ok(h) => Some(h),
            Err(why) => {
                common::skip_unless_ci(&why);
                None
            }
        }
    }

    /// `iobench ARGS` on host `ns`.
    fn iobench(ns: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns, env!("CARGO_BIN_EXE_iobench")]);
        c
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        let _ = ip(&["netns", "del", &self.a]);
        let _ = ip(&["netns", "del", &self.b]);
    }
}

/// A target that is killed with the test.
struct Serving(Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_target_on_another_host_is_driven_across_the_link() {
    let Some(hosts) = Hosts::or_skip() else {
        return;
    };
    let mut serve = Hosts::iobench(&hosts.a)
        .args(["serve", "http", "--listen", &format!("{A_ADDR}:0")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(serve.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _serving = Serving(serve);
    let addr = line.trim().to_string();
    assert!(
        addr.starts_with(A_ADDR),
        "the target listens on host a: {addr}"
    );
    let (_dir, scenario, out) = common::scenario(
        r#"name = "two-hosts"
[run]
trials = 1
warmup = "100ms"
duration = "400ms"
models = ["threads", "tokio-current-thread"]
concurrency = [16]
[[workload]]
kind = "http-get"
path = "/ana"
server_delay = "10ms"
"#,
    );
    let o = Hosts::iobench(&hosts.b)
        .arg("run")
        .arg(&scenario)
        .arg("--out")
        .arg(&out)
        .args(["--target", &addr])
        .output()
        .unwrap();
    assert_exit(&o, 0);
    let records = read_records(&out);
    assert_eq!(records.len(), 2);
    for r in &records {
        assert_eq!(r["status"], "ok", "{r}");
        assert_eq!(r["cell"]["workload"]["target"], addr.as_str(), "{r}");
        // The target is not this host's: its CPU is not measured, and says so.
        assert!(r["target_cpu_secs"].is_null(), "{r}");
        assert_eq!(r["failed_ops"], 0, "{r}");
        // 16 in flight, 10 ms each: about 1,600 ops/s; the link adds little.
        let t = r["throughput_ops_per_sec"].as_f64().unwrap();
        assert!(t > 1600.0 * 0.5 && t <= 1600.0 * 1.01, "{t} ops/s: {r}");
    }
}

#[test]
fn a_server_under_test_on_another_host_is_driven_and_not_measured() {
    let Some(hosts) = Hosts::or_skip() else {
        return;
    };
    // The server under test is started on host a by the trial on host b (here through
    // `ip netns exec`; between machines, e.g. ssh), and found at `host`.
    let toml = format!(
        r#"name = "remote-server"
[run]
trials = 1
warmup = "100ms"
duration = "400ms"
models = ["remote"]
concurrency = [16]

[[model]]
name = "remote"
command = ["ip", "netns", "exec", "{a}", "{exe}", "serve", "http", "--listen", "{{host}}:{{port}}"]
host = "{A_ADDR}"

[[workload]]
kind = "http-serve"
path = "/ana"
"#,
        a = hosts.a,
        exe = env!("CARGO_BIN_EXE_iobench"),
    );
    let (_dir, scenario, out) = common::scenario(&toml);
    let o = Hosts::iobench(&hosts.b)
        .arg("run")
        .arg(&scenario)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_exit(&o, 0);
    let records = read_records(&out);
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(r["status"], "ok", "{r}");
    assert!(r["ops"].as_u64().unwrap() > 100, "{r}");
    assert_eq!(r["failed_ops"], 0, "{r}");
    // The client is this host's and measured; the server is not.
    assert!(r["client_cpu_secs"].as_f64().unwrap() > 0.0, "{r}");
    for f in [
        "cpu_secs",
        "peak_pss_bytes",
        "mem_per_op_bytes",
        "peak_threads",
    ] {
        assert!(r[f].is_null(), "`{f}` of a server on another host: {r}");
    }
}
