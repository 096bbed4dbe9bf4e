//! The async runtimes' own primitives, behind one trait so that a workload's async op is
//! written once and waits through whichever runtime runs it.
//!
//! Each runtime family uses its own timer and its own sockets; no runtime borrows another's
//! reactor. async-std and smol sockets both implement the `futures-io` traits, tokio's its
//! own.

pub mod spawn;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use smol::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// An async runtime family: tokio, async-std or smol.
pub trait AsyncRt: Send + Sync + 'static {
    /// The runtime's TCP stream.
    type Tcp: Send + 'static;

    /// The runtime's own timer.
    fn sleep(d: Duration) -> impl Future<Output = ()> + Send;

    /// Runs `f`, giving up after `d` (`None`), with the runtime's own timer.
    fn timeout<F: Future + Send>(
        d: Duration,
        f: F,
    ) -> impl Future<Output = Option<F::Output>> + Send;

    fn connect(addr: SocketAddr) -> impl Future<Output = io::Result<Self::Tcp>> + Send;

    fn write_all<'a>(
        s: &'a mut Self::Tcp,
        buf: &'a [u8],
    ) -> impl Future<Output = io::Result<()>> + Send + 'a;

    fn read<'a>(
        s: &'a mut Self::Tcp,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a;

    /// The runtime's UDP socket, connected to one peer.
    type Udp: Send + Sync + 'static;

    fn udp_connect(addr: SocketAddr) -> impl Future<Output = io::Result<Self::Udp>> + Send;

    fn send<'a>(
        s: &'a Self::Udp,
        buf: &'a [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a;

    fn recv<'a>(
        s: &'a Self::Udp,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a;

    /// The runtime's TCP listener.
    type Listener: Send + Sync + 'static;

    /// Adopts a bound, listening socket; called inside the runtime.
    fn listener(l: std::net::TcpListener) -> io::Result<Self::Listener>;

    /// The next connection (with `TCP_NODELAY`, as every stream here has).
    fn accept(l: &Self::Listener) -> impl Future<Output = io::Result<Self::Tcp>> + Send + '_;

    /// The runtime's stream seen through tokio's I/O traits, which the database drivers
    /// (tokio-postgres, redis) are written against; for async-std and smol a compatibility
    /// wrapper over their own socket, so no tokio reactor is involved.
    type TokioIo: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static;

    fn tokio_io(s: Self::Tcp) -> Self::TokioIo;

    /// Runs `f` on this runtime, on the calling thread's event loop (a driver's connection
    /// task).
    fn spawn_detached(f: impl Future<Output = ()> + Send + 'static);

    /// Reads the whole file at `path` as the runtime's own whole-file read does (tokio and
    /// async-std hand `std::fs::read` to their blocking pools, smol to the `blocking`
    /// crate's), dropping its cached pages first in the same job when `cold`, so that the
    /// event loop never blocks on the drop.
    fn read_file(path: &Path, cold: bool) -> impl Future<Output = io::Result<Vec<u8>>> + Send + '_;

    /// Writes `data` to `path` (created or truncated) through the runtime's own file API,
    /// `fsync`s it when `sync`, and returns the file's size as the file system reports it.
    fn write_file<'a>(
        path: &'a Path,
        data: &'a [u8],
        sync: bool,
    ) -> impl Future<Output = io::Result<u64>> + Send + 'a;
}

/// Drops the file's pages from the page cache (`POSIX_FADV_DONTNEED` on a descriptor
/// opened for it), so that the next read comes from the device. Clean pages only: the
/// read set is synced when it is written. Blocking: a model calls it where it makes its
/// other blocking file calls (see `workload::disk`).
pub fn drop_cached_pages(path: &Path) -> io::Result<()> {
    use std::os::fd::AsRawFd as _;
    let f = std::fs::File::open(path)?;
    // SAFETY: posix_fadvise only reads its arguments; the descriptor is open for the call.
    match unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) } {
        0 => Ok(()),
        e => Err(io::Error::from_raw_os_error(e)),
    }
}

/// What `fs::read` runs on a blocking pool, with the cold read's page drop first.
fn read_blocking(path: &Path, cold: bool) -> io::Result<Vec<u8>> {
    if cold {
        drop_cached_pages(path)?;
    }
    std::fs::read(path)
}

/// The wildcard address of `peer`'s family, port 0: where a client socket binds.
fn any_for(peer: SocketAddr) -> SocketAddr {
    match peer {
        SocketAddr::V4(_) => (std::net::Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
    }
}

/// The socket half of `AsyncRt`, written once for every runtime: tokio's sockets and the
/// `futures-io` ones (async-std's, smol's) have methods of the same names and meanings
/// (through `tokio::io`'s and `futures-io`'s extension traits, both imported above; each
/// socket type implements only one family's traits).
macro_rules! sockets {
    ($tcp:ty, $udp:ty, $listener:ty) => {
        type Tcp = $tcp;
        type Udp = $udp;
        type Listener = $listener;

        async fn accept(l: &Self::Listener) -> io::Result<Self::Tcp> {
            let (s, _) = l.accept().await?;
            s.set_nodelay(true)?;
            Ok(s)
        }

        async fn connect(addr: SocketAddr) -> io::Result<Self::Tcp> {
            let s = <$tcp>::connect(addr).await?;
            s.set_nodelay(true)?;
            Ok(s)
        }

        async fn write_all<'a>(s: &'a mut Self::Tcp, buf: &'a [u8]) -> io::Result<()> {
            s.write_all(buf).await
        }

        async fn read<'a>(s: &'a mut Self::Tcp, buf: &'a mut [u8]) -> io::Result<usize> {
            s.read(buf).await
        }

        async fn udp_connect(addr: SocketAddr) -> io::Result<Self::Udp> {
            let s = <$udp>::bind(any_for(addr)).await?;
            s.connect(addr).await?;
            Ok(s)
        }

        async fn send<'a>(s: &'a Self::Udp, buf: &'a [u8]) -> io::Result<usize> {
            s.send(buf).await
        }

        async fn recv<'a>(s: &'a Self::Udp, buf: &'a mut [u8]) -> io::Result<usize> {
            s.recv(buf).await
        }
    };
}

/// tokio (current-thread and multi-thread runtimes share it).
pub struct Tokio;
/// tokio's two runtimes: one event loop on the calling thread, or the work-stealing pool
/// (a worker thread per core, tokio's default).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokioFlavor {
    CurrentThread,
    MultiThread,
}

impl TokioFlavor {
    /// The runtime, with its I/O and time drivers.
    pub fn build(self) -> io::Result<tokio::runtime::Runtime> {
        let mut builder = match self {
            TokioFlavor::CurrentThread => tokio::runtime::Builder::new_current_thread(),
            TokioFlavor::MultiThread => tokio::runtime::Builder::new_multi_thread(),
        };
        builder.enable_all().build()
    }
}

/// async-std.
pub struct AsyncStd;
/// smol (async-io's reactor and timers).
pub struct Smol;

impl AsyncRt for Tokio {
    sockets!(
        tokio::net::TcpStream,
        tokio::net::UdpSocket,
        tokio::net::TcpListener
    );

    /// tokio's `Sleep` itself, not an `async fn` around it (which would hold the duration
    /// too, in every task's state). Made where it is called, which must be inside the
    /// runtime: `rt.block_on(async { Tokio::sleep(d).await })`.
    fn sleep(d: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(d)
    }

    async fn timeout<F: Future + Send>(d: Duration, f: F) -> Option<F::Output> {
        tokio::time::timeout(d, f).await.ok()
    }

    fn listener(l: std::net::TcpListener) -> io::Result<Self::Listener> {
        l.set_nonblocking(true)?;
        tokio::net::TcpListener::from_std(l)
    }

    type TokioIo = tokio::net::TcpStream;

    fn tokio_io(s: Self::Tcp) -> Self::TokioIo {
        s
    }

    fn spawn_detached(f: impl Future<Output = ()> + Send + 'static) {
        drop(tokio::spawn(f));
    }

    async fn read_file(path: &Path, cold: bool) -> io::Result<Vec<u8>> {
        // What tokio::fs::read does: std::fs::read on the blocking pool.
        let path = path.to_owned();
        match tokio::task::spawn_blocking(move || read_blocking(&path, cold)).await {
            Ok(r) => r,
            Err(e) => Err(io::Error::other(e)),
        }
    }

    async fn write_file<'a>(path: &'a Path, data: &'a [u8], sync: bool) -> io::Result<u64> {
        if sync {
            let mut f = tokio::fs::File::create(path).await?;
            f.write_all(data).await?;
            // tokio's file writes in the background: flush waits for the write to land.
            f.flush().await?;
            f.sync_data().await?;
        } else {
            tokio::fs::write(path, data).await?;
        }
        Ok(tokio::fs::metadata(path).await?.len())
    }
}

/// `f` raced against a timer: the shared timeout of the futures-io runtimes.
async fn race_timer<F: Future>(timer: impl Future<Output = ()>, f: F) -> Option<F::Output> {
    smol::future::or(async { Some(f.await) }, async {
        timer.await;
        None
    })
    .await
}

/// What the futures-io runtimes (async-std, smol) share of `AsyncRt`, given the runtime's
/// `net` and `fs` modules and `unblock`, its own hand-off to its blocking pool (the one its
/// `fs::read` uses):
/// - the sockets ([`sockets`]), and tokio's I/O traits through a compatibility wrapper;
/// - the file operations, through the `futures-io` traits their files share.
macro_rules! futures_io {
    ($($net:ident)::+, $fs:path, $unblock:path) => {
        sockets!(
            $($net)::+::TcpStream,
            $($net)::+::UdpSocket,
            $($net)::+::TcpListener
        );

        type TokioIo = tokio_util::compat::Compat<$($net)::+::TcpStream>;

        fn tokio_io(s: Self::Tcp) -> Self::TokioIo {
            tokio_util::compat::FuturesAsyncReadCompatExt::compat(s)
        }

        fn read_file(
            path: &Path,
            cold: bool,
        ) -> impl Future<Output = io::Result<Vec<u8>>> + Send + '_ {
            let path = path.to_owned();
            $unblock(move || read_blocking(&path, cold))
        }

        async fn write_file<'a>(path: &'a Path, data: &'a [u8], sync: bool) -> io::Result<u64> {
            use $fs as fs;
            if sync {
                let mut f = fs::File::create(path).await?;
                smol::io::AsyncWriteExt::write_all(&mut f, data).await?;
                smol::io::AsyncWriteExt::flush(&mut f).await?;
                f.sync_data().await?;
            } else {
                fs::write(path, data).await?;
            }
            Ok(fs::metadata(path).await?.len())
        }
    };
}

impl AsyncRt for AsyncStd {
    futures_io!(
        async_std::net,
        async_std::fs,
        async_std::task::spawn_blocking
    );

    fn listener(l: std::net::TcpListener) -> io::Result<Self::Listener> {
        Ok(async_std::net::TcpListener::from(l))
    }

    fn spawn_detached(f: impl Future<Output = ()> + Send + 'static) {
        drop(async_std::task::spawn_local(f));
    }

    fn sleep(d: Duration) -> impl Future<Output = ()> + Send {
        async_std::task::sleep(d)
    }

    async fn timeout<F: Future + Send>(d: Duration, f: F) -> Option<F::Output> {
        race_timer(async_std::task::sleep(d), f).await
    }
}

impl AsyncRt for Smol {
    futures_io!(smol::net, smol::fs, smol::unblock);

    fn listener(l: std::net::TcpListener) -> io::Result<Self::Listener> {
        smol::net::TcpListener::try_from(l)
    }

    fn spawn_detached(f: impl Future<Output = ()> + Send + 'static) {
        crate::rt::spawn::EXECUTOR.with(|ex| ex.spawn(f).detach());
    }

    /// The timer itself, made at once: an `async fn` would hold the duration too, and an
    /// `async` block awaiting the timer would hold it twice.
    fn sleep(d: Duration) -> impl Future<Output = ()> + Send {
        Fired(smol::Timer::after(d))
    }

    async fn timeout<F: Future + Send>(d: Duration, f: F) -> Option<F::Output> {
        race_timer(
            async move {
                smol::Timer::after(d).await;
            },
            f,
        )
        .await
    }
}

/// A smol timer that resolves to `()` once it has fired, and holds nothing but the timer.
struct Fired(smol::Timer);

impl Future for Fired {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        std::pin::Pin::new(&mut self.0).poll(cx).map(drop)
    }
}
