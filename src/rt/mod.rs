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

/// The same file operations for the futures-io runtimes (async-std, smol), whose files
/// share the `futures-io` traits; `$unblock` is the runtime's own hand-off to its blocking
/// pool, the one its `fs::read` uses.
macro_rules! futures_io_files {
    ($fs:path, $unblock:path) => {
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

/// The wildcard address of `peer`'s family, port 0: where a client socket binds.
fn any_for(peer: SocketAddr) -> SocketAddr {
    match peer {
        SocketAddr::V4(_) => (std::net::Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
    }
}

/// tokio (current-thread and multi-thread runtimes share it).
pub struct Tokio;
/// async-std.
pub struct AsyncStd;
/// smol (async-io's reactor and timers).
pub struct Smol;

impl AsyncRt for Tokio {
    type Tcp = tokio::net::TcpStream;

    // An `async fn`, so the timer is created on first poll, inside the runtime's context.
    async fn sleep(d: Duration) {
        tokio::time::sleep(d).await
    }

    async fn timeout<F: Future + Send>(d: Duration, f: F) -> Option<F::Output> {
        tokio::time::timeout(d, f).await.ok()
    }

    async fn connect(addr: SocketAddr) -> io::Result<Self::Tcp> {
        let s = tokio::net::TcpStream::connect(addr).await?;
        s.set_nodelay(true)?;
        Ok(s)
    }

    async fn write_all<'a>(s: &'a mut Self::Tcp, buf: &'a [u8]) -> io::Result<()> {
        s.write_all(buf).await
    }

    async fn read<'a>(s: &'a mut Self::Tcp, buf: &'a mut [u8]) -> io::Result<usize> {
        s.read(buf).await
    }

    type Udp = tokio::net::UdpSocket;

    async fn udp_connect(addr: SocketAddr) -> io::Result<Self::Udp> {
        let s = tokio::net::UdpSocket::bind(any_for(addr)).await?;
        s.connect(addr).await?;
        Ok(s)
    }

    async fn send<'a>(s: &'a Self::Udp, buf: &'a [u8]) -> io::Result<usize> {
        s.send(buf).await
    }

    async fn recv<'a>(s: &'a Self::Udp, buf: &'a mut [u8]) -> io::Result<usize> {
        s.recv(buf).await
    }

    type Listener = tokio::net::TcpListener;

    fn listener(l: std::net::TcpListener) -> io::Result<Self::Listener> {
        l.set_nonblocking(true)?;
        tokio::net::TcpListener::from_std(l)
    }

    async fn accept(l: &Self::Listener) -> io::Result<Self::Tcp> {
        let (s, _) = l.accept().await?;
        s.set_nodelay(true)?;
        Ok(s)
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

/// The socket half of `AsyncRt` for the runtimes whose sockets implement `futures-io`
/// (async-std's and smol's, which share these signatures).
macro_rules! futures_io_sockets {
    ($tcp:ty, $udp:ty, $listener:ty) => {
        type Tcp = $tcp;
        type Udp = $udp;
        type Listener = $listener;
        type TokioIo = tokio_util::compat::Compat<$tcp>;

        fn tokio_io(s: Self::Tcp) -> Self::TokioIo {
            tokio_util::compat::FuturesAsyncReadCompatExt::compat(s)
        }

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

impl AsyncRt for AsyncStd {
    futures_io_sockets!(
        async_std::net::TcpStream,
        async_std::net::UdpSocket,
        async_std::net::TcpListener
    );

    fn listener(l: std::net::TcpListener) -> io::Result<Self::Listener> {
        Ok(async_std::net::TcpListener::from(l))
    }

    fn spawn_detached(f: impl Future<Output = ()> + Send + 'static) {
        drop(async_std::task::spawn_local(f));
    }

    futures_io_files!(async_std::fs, async_std::task::spawn_blocking);

    fn sleep(d: Duration) -> impl Future<Output = ()> + Send {
        async_std::task::sleep(d)
    }

    async fn timeout<F: Future + Send>(d: Duration, f: F) -> Option<F::Output> {
        race_timer(async_std::task::sleep(d), f).await
    }
}

impl AsyncRt for Smol {
    futures_io_sockets!(
        smol::net::TcpStream,
        smol::net::UdpSocket,
        smol::net::TcpListener
    );

    fn listener(l: std::net::TcpListener) -> io::Result<Self::Listener> {
        smol::net::TcpListener::try_from(l)
    }

    fn spawn_detached(f: impl Future<Output = ()> + Send + 'static) {
        crate::rt::spawn::EXECUTOR.with(|ex| ex.spawn(f).detach());
    }

    futures_io_files!(smol::fs, smol::unblock);

    async fn sleep(d: Duration) {
        smol::Timer::after(d).await;
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
