//! The async runtimes' own primitives, behind one trait so that a workload's async op is
//! written once and waits through whichever runtime runs it.
//!
//! Each runtime family uses its own timer (and, as workloads grow, its own sockets); no
//! runtime borrows another's reactor.

use std::future::Future;
use std::time::Duration;

/// An async runtime family: tokio, async-std or smol.
pub trait AsyncRt: Send + Sync + 'static {
    /// The runtime's own timer.
    fn sleep(d: Duration) -> impl Future<Output = ()> + Send;
}

/// tokio (current-thread and multi-thread runtimes share it).
pub struct Tokio;
/// async-std.
pub struct AsyncStd;
/// smol (async-io's reactor and timers).
pub struct Smol;

impl AsyncRt for Tokio {
    // An `async fn`, so the timer is created on first poll, inside the runtime's context.
    async fn sleep(d: Duration) {
        tokio::time::sleep(d).await
    }
}

impl AsyncRt for AsyncStd {
    fn sleep(d: Duration) -> impl Future<Output = ()> + Send {
        async_std::task::sleep(d)
    }
}

impl AsyncRt for Smol {
    async fn sleep(d: Duration) {
        smol::Timer::after(d).await;
    }
}
