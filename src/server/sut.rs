//! The trial's handle on its server under test ([`Sut`]): `iobench sut` for iobench's own
//! models, or an external model's command (a scenario's `[[model]]` with `command`),
//! started in its own process group, waited for until it is ready (within its bound), and
//! killed, its whole group, when the trial is done.

use std::io::BufRead;
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::command::{dies_with_parent, last_lines};
use super::spec::ServerSpec;
use crate::plan::{External, ModelKind, Ready, Role};

/// The trial's handle on its server under test: started, listening, killed on drop.
pub struct Sut {
    child: std::process::Child,
    /// Kept open: the server never writes again, but must not meet a closed pipe if it did.
    _stdout: Option<std::process::ChildStdout>,
    /// An external server's stdout and stderr (removed on drop); it leads its own process
    /// group, which is killed whole.
    log: Option<PathBuf>,
    pub addr: std::net::SocketAddr,
}

impl Sut {
    /// Starts `iobench sut` and waits until it listens.
    pub fn start(model: ModelKind, spec: &ServerSpec) -> anyhow::Result<Sut> {
        let mut child = Command::new(std::env::current_exe()?)
            .args(["sut", "--model", model.name(), "--spec"])
            .arg(serde_json::to_string(spec)?)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| anyhow::anyhow!("could not start the server under test: {e}"))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let mut reader = std::io::BufReader::new(stdout);
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let port = line
            .trim()
            .strip_prefix("ready ")
            .and_then(|p| p.parse::<u16>().ok());
        let Some(port) = port else {
            let _ = child.kill();
            let status = child.wait()?;
            anyhow::bail!("the {} server did not start ({status})", model.name());
        };
        Ok(Sut {
            child,
            _stdout: Some(reader.into_inner()),
            log: None,
            addr: ([127, 0, 0, 1], port).into(),
        })
    }

    /// Starts an external model's server command in its own process group, on a free
    /// loopback port, and waits until it is ready (its port accepts, or it printed its
    /// ready line), within its `ready_timeout`. A command that cannot start, exits, or is
    /// not ready in time is an error naming the command and its last output lines.
    pub fn start_external(e: &External, spec: &ServerSpec) -> anyhow::Result<Sut> {
        let Role::Server {
            command,
            ready,
            ready_timeout,
        } = &e.role
        else {
            anyhow::bail!("`{}` is a client model, not a server", e.name);
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let host = e.host.as_deref().unwrap_or("127.0.0.1");
        let addr = std::net::ToSocketAddrs::to_socket_addrs(&(host, port))
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| {
                anyhow::anyhow!("the server `{}`: host `{host}` does not resolve", e.name)
            })?;
        let argv: Vec<String> = fill(command, spec, port)
            .into_iter()
            .map(|w| w.replace("{host}", host))
            .collect();
        let shown = argv.join(" ");
        let log =
            std::env::temp_dir().join(format!("iobench-server-{}-{port}.log", std::process::id()));
        let out = std::fs::File::create(&log)?;
        let mut c = Command::new(&argv[0]);
        c.args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .process_group(0);
        dies_with_parent(&mut c);
        let child = match c.spawn() {
            Ok(child) => child,
            Err(err) => {
                let _ = std::fs::remove_file(&log);
                anyhow::bail!("the server `{}` could not start: `{shown}`: {err}", e.name);
            }
        };
        let mut sut = Sut {
            child,
            _stdout: None,
            log: Some(log.clone()),
            addr,
        };
        let deadline = Instant::now() + ready_timeout.0;
        loop {
            let is_ready = match ready {
                Ready::Port => {
                    std::net::TcpStream::connect_timeout(&sut.addr, Duration::from_millis(100))
                        .is_ok()
                }
                Ready::Line(text) => std::fs::read_to_string(&log)
                    .is_ok_and(|s| s.lines().any(|l| l.contains(text.as_str()))),
            };
            if is_ready {
                return Ok(sut);
            }
            if let Some(status) = sut.exited() {
                anyhow::bail!(
                    "the server `{}` exited before it was ready ({status}): `{shown}`; {}",
                    e.name,
                    last_lines(&log, "output")
                );
            }
            if Instant::now() >= deadline {
                let waited = match ready {
                    Ready::Port => format!("for its port {} to accept", sut.addr),
                    Ready::Line(t) => format!("for a line holding `{t}`"),
                };
                anyhow::bail!(
                    "the server `{}` was not ready within {ready_timeout} (waited {waited}): `{shown}`; {}",
                    e.name,
                    last_lines(&log, "output")
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `None` while the server runs, else how it ended.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for Sut {
    fn drop(&mut self) {
        if let Some(log) = &self.log {
            // SAFETY: killpg signals the group the server leads (process_group(0)).
            unsafe { libc::killpg(self.child.id() as i32, libc::SIGKILL) };
            let _ = std::fs::remove_file(log);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An external server's command with this trial's placeholders filled: `{port}`,
/// `{delay}` (seconds, e.g. 0.01), `{delay_ms}`, `{keep_alive}` (true or false),
/// `{workers}` (the processes model's count), `{threads}` (the thread-pool's).
fn fill(command: &[String], spec: &ServerSpec, port: u16) -> Vec<String> {
    let secs = spec.delay.as_secs_f64();
    command
        .iter()
        .map(|w| {
            w.replace("{port}", &port.to_string())
                .replace("{delay_ms}", &(secs * 1e3).to_string())
                .replace("{delay}", &secs.to_string())
                .replace("{keep_alive}", &spec.keep_alive.to_string())
                .replace("{workers}", &spec.processes.to_string())
                .replace("{threads}", &spec.pool_size.to_string())
        })
        .collect()
}
