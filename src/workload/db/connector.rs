//! How a workload opens one connection: [`Connector`], blocking and on each async runtime.

use std::future::Future;

use crate::op::OpError;
use crate::rt::AsyncRt;

/// How a workload opens one connection: blocking, and on each async runtime.
pub trait Connector: Clone + Send + Sync + 'static {
    type Blocking: Send + 'static;
    type Async<R: AsyncRt>: Send + 'static;

    fn connect_blocking(&self) -> Result<Self::Blocking, OpError>;

    fn connect_async<R: AsyncRt>(
        &self,
    ) -> impl Future<Output = Result<Self::Async<R>, OpError>> + Send;

    /// One-time setup before the pool exists (a table to fill, keys to preload), on a
    /// connection of its own.
    fn setup_blocking(&self) -> Result<(), OpError> {
        Ok(())
    }

    /// The same on runtime `R`.
    fn setup_async<R: AsyncRt>(&self) -> impl Future<Output = Result<(), OpError>> + Send {
        async { Ok(()) }
    }
}
