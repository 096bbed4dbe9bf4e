//! Servers under test: for the server workloads (`http-serve`, `echo-serve`) the model is
//! the server, and the trial is its client.
//!
//! # How it works
//! 1. The trial starts `iobench sut --model M --spec JSON`, a process of its own. It binds
//!    127.0.0.1 on a free port, and the model's `serve` (in the model's own file) builds
//!    what it runs on (a runtime, a pool, worker processes), then calls [`Serving::ready`],
//!    which prints `ready PORT`. The trial takes the server tree's idle footprint then.
//! 2. Every server reads and answers requests through [`proto::ServerConn`] (parsing and
//!    writing, once for all) and one of the two connection loops here, [`serve_blocking`]
//!    and [`serve_async`], which differ only in how they wait. The handler's `delay` is a
//!    blocking sleep in blocking servers and the runtime's own timer in async ones.
//! 3. Every server obeys the workload's `keep_alive`. With true (the default) it serves a
//!    connection until the client closes it: a server with a fixed number of workers
//!    (sequential, thread-pool, processes) then holds a worker per connection, and clients
//!    beyond its workers wait for one (the model's real cost, seen as their latency or
//!    timeouts). With false every server closes after each reply, saying so (HTTP's
//!    `Connection: close`), and the client opens a new connection per op.
//! 5. A connection's read buffer is as long as the longest request of the workload
//!    (`ServerSpec::read_buf`), the same for every model.
//! 4. The server lives until the trial kills it; worker processes die with it
//!    (`PR_SET_PDEATHSIG`).

pub mod command;
pub mod proto;
pub mod spec;
pub mod sut;
pub mod wrk;

pub use spec::ServerSpec;
pub use sut::Sut;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Duration;

use crate::measure::rusage::raise_nofile_limit;
use crate::rt::AsyncRt;
use crate::rt::spawn::Spawner;
use proto::{Next, ServerConn};

/// Connections waiting to be accepted: enough for every client to connect at once.
const BACKLOG: i32 = 4096;

/// A bound listener and what to serve on it.
pub struct Serving {
    pub listener: TcpListener,
    pub spec: Arc<ServerSpec>,
}

impl Serving {
    /// Tells the trial that the server is built and listening (`ready PORT`).
    pub fn ready(&self) {
        let port = self.listener.local_addr().map(|a| a.port()).unwrap_or(0);
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "ready {port}");
        let _ = out.flush();
    }

    /// The next connection, blocking; transient failures (the peer gave up, the process
    /// is out of file descriptors for a moment) are waited out.
    pub fn accept_blocking(&self) -> anyhow::Result<TcpStream> {
        loop {
            match self.listener.accept() {
                Ok((s, _)) => {
                    let _ = s.set_nodelay(true);
                    return Ok(s);
                }
                Err(e) => wait_out(e)?,
            }
        }
    }

    /// Serves one connection after another on this thread, each to its end.
    pub fn serve_in_turn(&self) -> anyhow::Result<()> {
        loop {
            let s = self.accept_blocking()?;
            serve_blocking(s, &self.spec);
        }
    }

    /// An async server's life on runtime `R`, inside its `block_on`: ticks the runtime's
    /// timer once (so that no connection starts it), calls `ready`, then accepts
    /// connections forever, a task per connection.
    pub async fn accept_loop<R: AsyncRt, S: Spawner>(
        &self,
        spawner: &S,
        ready: impl FnOnce(),
    ) -> anyhow::Result<()> {
        R::sleep(Duration::from_millis(1)).await;
        ready();
        let listener = R::listener(self.listener.try_clone()?)?;
        loop {
            match R::accept(&listener).await {
                Ok(s) => spawner.detach(serve_async::<R>(s, self.spec.clone())),
                Err(e) => {
                    wait_out(e)?;
                    R::sleep(Duration::from_millis(1)).await;
                }
            }
        }
    }

    /// Forks `k` worker processes that share the listener, each running `body` (which
    /// calls `ready` once it is set up). Returns once all are ready; the caller then
    /// waits on them with [`Serving::wait_workers`].
    pub fn prefork(&self, k: u32, body: impl Fn(&Serving, &dyn Fn())) -> anyhow::Result<()> {
        let mut fds = [0; 2];
        // SAFETY: pipe fills the two-int array we own.
        anyhow::ensure!(
            unsafe { libc::pipe(fds.as_mut_ptr()) } == 0,
            "pipe: {}",
            std::io::Error::last_os_error()
        );
        let parent = std::process::id() as i32;
        for i in 0..k {
            // SAFETY: this process has one thread when it forks (no runtime or pool is
            // built before), so the child is a consistent copy.
            let pid = unsafe { libc::fork() };
            if pid < 0 {
                anyhow::bail!(
                    "could not fork worker process {} of {k}: {}",
                    i + 1,
                    std::io::Error::last_os_error()
                );
            }
            if pid == 0 {
                // SAFETY: prctl and getppid have no preconditions; close of our pipe end.
                unsafe {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    if libc::getppid() != parent {
                        libc::_exit(1);
                    }
                    libc::close(fds[0]);
                }
                let ready = || {
                    // SAFETY: writes one byte from a local to the pipe's write end.
                    unsafe { libc::write(fds[1], b"r".as_ptr().cast(), 1) };
                };
                body(self, &ready);
                // SAFETY: leaves the worker without running the parent's exit handlers.
                unsafe { libc::_exit(1) };
            }
        }
        // SAFETY: closes the parent's copy of the write end.
        unsafe { libc::close(fds[1]) };
        let mut got = 0;
        let mut byte = [0u8; 64];
        while got < k as usize {
            // SAFETY: reads into the local buffer we own.
            let n = unsafe { libc::read(fds[0], byte.as_mut_ptr().cast(), byte.len()) };
            if n <= 0 {
                anyhow::bail!("a worker process exited before it was ready");
            }
            got += n as usize;
        }
        Ok(())
    }

    /// Waits on the worker processes; returns an error when one of them ends.
    pub fn wait_workers(&self) -> anyhow::Result<()> {
        let mut status = 0;
        // SAFETY: waitpid writes the status into the local we own.
        let pid = unsafe { libc::waitpid(-1, &mut status, 0) };
        anyhow::bail!("worker process {pid} ended (wait status {status})")
    }
}

/// Returns for accept errors worth retrying, after a short pause for resource errors.
fn wait_out(e: std::io::Error) -> anyhow::Result<()> {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::ConnectionAborted | K::Interrupted | K::WouldBlock => Ok(()),
        _ if matches!(
            e.raw_os_error(),
            Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
        ) =>
        {
            std::thread::sleep(Duration::from_millis(1));
            Ok(())
        }
        _ => Err(anyhow::anyhow!("accept failed: {e}")),
    }
}

/// One connection's loop, written once for [`serve_blocking`] and [`serve_async`], which
/// differ only in how they wait: `read` reads into `$buf`, `write` writes `$out` whole,
/// `wait` sleeps the handler's delay (each with its own `.await` where it has one; a
/// macro, so that the async one's state is what it would be written out). Serves until
/// the connection closes (or, without keep-alive, after one request).
macro_rules! serve_conn {
    (
        $spec:ident, $buf:ident, $out:ident,
        read: $read:expr, write: $write:expr, wait: $wait:expr
    ) => {{
        let mut conn = ServerConn::new($spec.protocol, !$spec.keep_alive);
        let (mut $buf, mut $out) = (vec![0u8; $spec.read_buf], Vec::with_capacity(1024));
        loop {
            match conn.next(&mut $out) {
                Next::NeedMore => match $read {
                    Ok(0) | Err(_) => return,
                    Ok(n) => conn.feed(&$buf[..n]),
                },
                Next::Reply { close } => {
                    if !$spec.delay.is_zero() {
                        $wait;
                    }
                    if $write.is_err() || close {
                        return;
                    }
                    $out.clear();
                }
                Next::Bad(_) => {
                    let _ = $write;
                    return;
                }
            }
        }
    }};
}

/// Serves one connection on a blocking socket until it closes (or, without keep-alive,
/// after one request).
pub fn serve_blocking(mut s: TcpStream, spec: &ServerSpec) {
    serve_conn!(spec, buf, out,
        read: s.read(&mut buf),
        write: s.write_all(&out),
        wait: std::thread::sleep(spec.delay)
    )
}

/// Serves one connection on runtime `R` until it closes (or, without keep-alive, after
/// one request).
pub async fn serve_async<R: AsyncRt>(mut s: R::Tcp, spec: Arc<ServerSpec>) {
    serve_conn!(spec, buf, out,
        read: R::read(&mut s, &mut buf).await,
        write: R::write_all(&mut s, &out).await,
        wait: R::sleep(spec.delay).await
    )
}

impl Serving {
    /// What `iobench sut` does before its model serves: dies with its parent, raises the
    /// file limit, binds a loopback port with a backlog for C connects at once.
    pub fn bind(spec: ServerSpec) -> anyhow::Result<Serving> {
        // SAFETY: prctl with PR_SET_PDEATHSIG only sets a signal for this process.
        unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
        raise_nofile_limit();
        let listener = TcpListener::bind("127.0.0.1:0")?;
        // std listens with a backlog of 128; a burst of C connects needs more. Calling listen
        // again on a listening socket changes its backlog.
        // SAFETY: listen on the fd the listener owns.
        unsafe { libc::listen(listener.as_raw_fd(), BACKLOG) };
        Ok(Serving {
            listener,
            spec: Arc::new(spec),
        })
    }
}
