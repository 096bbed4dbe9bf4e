//! An op's deadline: [`past_deadline`] for blocking ops, [`within`] for async ones, and
//! `boxed_in_debug!` (how an async op's future is awaited).

use std::future::Future;
use std::time::{Duration, Instant};

use crate::op::{ErrorKind, OpError};
use crate::rt::AsyncRt;

/// A blocking op that `started` and ended after `timeout`: a timeout error, as the same op
/// is in an async model, whose timer abandons it at the deadline.
pub fn past_deadline(started: Instant, timeout: Duration) -> Result<(), OpError> {
    let took = started.elapsed();
    if took > timeout {
        return Err(OpError::new(
            ErrorKind::Timeout,
            format!("the op took {took:?}, past its deadline of {timeout:?}"),
        ));
    }
    Ok(())
}

/// Runs `f` on runtime `R` within `timeout`; past it, a timeout error.
pub async fn within<R: AsyncRt, T>(
    timeout: Duration,
    f: impl Future<Output = Result<T, OpError>> + Send,
) -> Result<T, OpError> {
    R::timeout(timeout, f).await.unwrap_or_else(|| {
        Err(OpError::new(
            ErrorKind::Timeout,
            format!("not done within {timeout:?}"),
        ))
    })
}

/// Awaits an async op's whole future: in place in optimised builds, so that an op costs
/// no allocation; boxed in debug builds, where the nested driver futures are hundreds of
/// KiB, too large to hold inside every task and move around on an executor's stack.
macro_rules! boxed_in_debug {
    ($f:expr) => {{
        #[cfg(debug_assertions)]
        let r = Box::pin($f).await;
        #[cfg(not(debug_assertions))]
        let r = $f.await;
        r
    }};
}
pub(crate) use boxed_in_debug;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_op_past_its_deadline_is_a_timeout() {
        let t = Instant::now();
        assert!(past_deadline(t, Duration::from_secs(60)).is_ok());
        std::thread::sleep(Duration::from_millis(5));
        let e = past_deadline(t, Duration::from_millis(1)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Timeout);
    }
}
