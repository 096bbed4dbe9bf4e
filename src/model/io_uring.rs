//! `io-uring`: C tasks on one completion-based event loop (tokio-uring: a tokio
//! current-thread runtime whose sockets and files submit their operations to an io_uring
//! and own their buffers until the kernel completes them). For tcp-echo, disk-read and
//! disk-write only. Unlike the readiness runtimes' file APIs, a read or write of a file is
//! one submission to the ring, with no thread pool behind it.
//!
//! # Why it has its own loop
//! tokio-uring's sockets and files are not `Send` and take owned buffers, so they do not
//! fit `AsyncRt`. The three ops are written here against the same protocol pieces as the
//! other models (`EchoExchange`, the read set's manifest and CRC-32s, the written size),
//! and the task loop is the async driver's (`driver::async_loop`) step for step: the same
//! pacing, two clock reads around the op, `observe` into a recorder shard.
//!
//! # When the kernel refuses
//! `probe` makes an `io_uring_setup` call at the start of a run; where the kernel, a
//! sysctl (`kernel.io_uring_disabled`) or a seccomp filter refuses it, the model's cells
//! are recorded as skipped with that reason.

use std::rc::Rc;
use std::time::Duration;

use tokio_uring::buf::BoundedBuf as _;
use tokio_uring::fs::File;
use tokio_uring::net::TcpStream;

use super::driver::{OwnedShard, Pace, Schedule, async_ops, open_sessions};
use crate::measure::Window;
use crate::measure::counters::CONNECTS;
use crate::model::ctx::TrialCtx;
use crate::op::{ErrorKind, OpError};
use crate::rt::drop_cached_pages;
use crate::workload::disk::{Cache, DiskRead, DiskWrite, ReadSession, WriteSession};
use crate::workload::stream::{Exchange, Progress, closed, read_buf_len, resolve, timed_out};
use crate::workload::tcp_echo::{EchoExchange, TcpEcho};
use crate::workload::{Bound, WorkloadSpec};

/// The workloads this model runs.
pub use crate::plan::IO_URING_WORKLOADS as WORKLOADS;

/// `None` when this process may set up an io_uring; otherwise why not.
pub fn probe() -> Option<String> {
    // struct io_uring_params is 120 bytes; zeroed, it asks for the defaults.
    let mut params = [0u8; 120];
    // SAFETY: io_uring_setup reads and writes the params buffer we own; on success it
    // returns a descriptor, which we close.
    let fd = unsafe { libc::syscall(libc::SYS_io_uring_setup, 4u32, params.as_mut_ptr()) };
    if fd >= 0 {
        // SAFETY: `fd` is the descriptor io_uring_setup just returned.
        unsafe { libc::close(fd as i32) };
        return None;
    }
    let e = std::io::Error::last_os_error();
    let sysctl = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
        .map(|v| format!(" (kernel.io_uring_disabled = {})", v.trim()))
        .unwrap_or_default();
    Some(format!(
        "io_uring is refused on this machine: io_uring_setup failed with {e}{sysctl}; a container's seccomp filter often blocks it"
    ))
}

/// An op written for io_uring's owned-buffer, not-`Send` world.
trait UringOp: 'static {
    type Session: 'static;
    async fn open(&self) -> Result<Self::Session, OpError>;
    async fn op(&self, s: &mut Self::Session) -> Result<(), OpError>;
}

/// A worker's echo connection; reconnected by the next op after an error.
struct Echo {
    addr: std::net::SocketAddr,
    stream: Option<TcpStream>,
    proto: EchoExchange,
    /// The request's bytes (handed to the kernel and back each op) and the read buffer.
    request: Vec<u8>,
    buf: Vec<u8>,
}

async fn connect(addr: std::net::SocketAddr, timeout: Duration) -> Result<TcpStream, OpError> {
    CONNECTS.note();
    let s = tokio::time::timeout(timeout, TcpStream::connect(addr))
        .await
        .map_err(|_| {
            OpError::new(
                ErrorKind::Timeout,
                format!("no connection within {timeout:?}"),
            )
        })??;
    s.set_nodelay(true)?;
    Ok(s)
}

impl Echo {
    async fn exchange(&mut self) -> Result<(), OpError> {
        // A timed-out op dropped its write or read with the buffer in the kernel's hands:
        // start again from fresh ones.
        if self.request.is_empty() {
            self.request = self.proto.request().to_vec();
        }
        if self.buf.capacity() == 0 {
            self.buf = read_buf(&self.proto);
        }
        if self.stream.is_none() {
            // Under the op's deadline (see `op`), like every model's connect within an op.
            CONNECTS.note();
            let s = TcpStream::connect(self.addr).await?;
            s.set_nodelay(true)?;
            self.stream = Some(s);
        }
        let stream = self.stream.as_ref().expect("connected above");
        let request = std::mem::take(&mut self.request);
        let (written, request) = stream.write_all(request).await;
        self.request = request;
        written?;
        self.proto.reset();
        loop {
            let mut buf = std::mem::take(&mut self.buf);
            buf.clear();
            let (n, b) = stream.read(buf).await;
            self.buf = b;
            let n = n?;
            if n == 0 {
                return Err(closed());
            }
            if let Progress::Done(r) = self.proto.feed(&self.buf[..n]) {
                return r;
            }
        }
    }
}

/// The read buffer every model gets for this echo (`stream::read_buf_len`), zeroed as
/// theirs are; it is handed to the kernel empty, and each read fills it from the start.
fn read_buf(proto: &EchoExchange) -> Vec<u8> {
    let mut buf = vec![0; read_buf_len(proto.reply_size())];
    buf.clear();
    buf
}

impl UringOp for Bound<TcpEcho> {
    type Session = Echo;

    async fn open(&self) -> Result<Echo, OpError> {
        let addr = resolve(self.run.target.as_deref())?;
        let proto = self.proto();
        Ok(Echo {
            addr,
            stream: Some(connect(addr, self.timeout.0).await?),
            request: proto.request().to_vec(),
            buf: read_buf(&proto),
            proto,
        })
    }

    async fn op(&self, s: &mut Echo) -> Result<(), OpError> {
        let timeout = self.timeout.0;
        // One timer for the whole op (connecting when it must, writing, reading), as the
        // other async models have.
        let result = match tokio::time::timeout(timeout, s.exchange()).await {
            Ok(r) => r,
            Err(_) => Err(timed_out(timeout)),
        };
        if result.is_err() {
            // The next op starts on a fresh connection.
            s.stream = None;
        }
        result
    }
}

impl UringOp for Bound<DiskRead> {
    type Session = ReadSession;

    async fn open(&self) -> Result<ReadSession, OpError> {
        self.session()
    }

    async fn op(&self, s: &mut ReadSession) -> Result<(), OpError> {
        let i = self.pick(s);
        let path = &s.files[i].0;
        if self.cache == Cache::Cold {
            drop_cached_pages(path)?;
        }
        // What `std::fs::read` does, as ring operations: open, statx for the size, a fresh
        // buffer of that size, reads until one returns nothing, close.
        let f = File::open(path).await?;
        let result = async {
            let size = f.statx().await?.stx_size as usize;
            let mut buf = Vec::with_capacity(size + 1);
            loop {
                let at = buf.len();
                if buf.capacity() == at {
                    buf.reserve(4096);
                }
                let (n, b) = f.read_at(buf.slice(at..), at as u64).await;
                buf = b.into_inner();
                if n? == 0 {
                    return Ok::<_, OpError>(buf);
                }
            }
        }
        .await;
        let closed = f.close().await;
        s.buf = result?;
        closed?;
        self.check(s, i)
    }
}

impl UringOp for Bound<DiskWrite> {
    type Session = WriteSession;

    async fn open(&self) -> Result<WriteSession, OpError> {
        self.session()
    }

    async fn op(&self, s: &mut WriteSession) -> Result<(), OpError> {
        let f = File::create(&s.path).await?;
        let (written, data) = f.write_all_at(std::mem::take(&mut s.data), 0).await;
        s.data = data;
        written?;
        if self.fsync {
            f.sync_data().await?;
        }
        let size = f.statx().await?.stx_size;
        f.close().await?;
        self.check(s, size)
    }
}

/// The async driver's loop (`driver::async_loop`), on this runtime's timer.
async fn task_loop<W: UringOp>(
    workload: Rc<W>,
    mut session: W::Session,
    window: Window,
    pace: Pace,
    mut sink: OwnedShard,
) -> W::Session {
    let mut schedule = Schedule::new(pace);
    async_ops!(
        &window,
        schedule,
        &mut sink,
        tokio::time::sleep,
        workload.op(&mut session)
    );
    session
}

/// Runs the cell's workload; `run` is reached only for the workloads in [`WORKLOADS`].
pub fn run(ctx: &mut TrialCtx) -> anyhow::Result<u64> {
    match ctx.cell.workload.clone() {
        WorkloadSpec::TcpEcho(t) => run_op(Bound::new(t, &ctx.cell.resolved), ctx),
        WorkloadSpec::DiskRead(d) => run_op(Bound::new(d, &ctx.cell.resolved), ctx),
        WorkloadSpec::DiskWrite(d) => run_op(Bound::new(d, &ctx.cell.resolved), ctx),
        other => anyhow::bail!(
            "the io-uring model runs tcp-echo, disk-read and disk-write, not {}",
            other.kind().name()
        ),
    }
}

fn run_op<W: UringOp>(workload: W, ctx: &mut TrialCtx) -> anyhow::Result<u64> {
    if let Some(why) = probe() {
        anyhow::bail!(why);
    }
    let (c, rate) = (ctx.cell.concurrency, ctx.cell.rate);
    // A submission queue deep enough for every task's op in flight at once.
    let entries = (2 * c).next_power_of_two().clamp(64, 4096);
    tokio_uring::builder().entries(entries).start(async move {
        // The runtime and its ring exist; tick the timer once, as the other models do.
        tokio::time::sleep(Duration::from_millis(1)).await;
        ctx.mark_idle();
        let workload = Rc::new(workload);
        let sessions = open_sessions(c, || workload.open()).await?;
        let window = ctx.open_window();
        window.start.sleep_until();
        let handles: Vec<_> = sessions
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                let sink = OwnedShard {
                    recorder: ctx.recorder.clone(),
                    index: i,
                };
                let pace = Pace::of_worker(rate, &window, i, c as usize);
                tokio_uring::spawn(task_loop(workload.clone(), s, window, pace, sink))
            })
            .collect();
        for h in handles {
            h.await.map_err(|e| anyhow::anyhow!("a task failed: {e}"))?;
        }
        Ok(u64::from(c))
    })
}
