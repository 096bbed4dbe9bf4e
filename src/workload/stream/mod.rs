//! Request–reply over a TCP stream: the sans-I/O protocol interface ([`Exchange`]) and
//! the two drivers that run it, one blocking and one async, which differ only in how they
//! wait. Both send the same bytes and feed the reply to the same parser.
//!
//! # How it works
//! - **Read buffer.** A connection reads into a buffer as long as the largest reply its op
//!   expects ([`Exchange::reply_size`]: the echoed frame, an HTTP reply's body and head), at
//!   most [`MAX_READ_BUF`]; a longer reply is read in pieces. Every model gets the same
//!   buffer for the same workload, zeroed once when the connection's session is made.
//! - **Timeout.** A workload's `timeout` is a deadline for the whole op: connecting (when
//!   the op must), sending, receiving, and a resend after a closed reused connection.
//!   - Async: one `R::timeout` around the whole op, so one timer per op.
//!   - Blocking: the socket's `SO_RCVTIMEO`/`SO_SNDTIMEO` bound each call. They are set
//!     to the full `timeout` when the socket is opened, and before a call they are lowered
//!     to the time the op has left only where the socket's would let the call run more than
//!     [`SLACK`] past the deadline (so only in ops that already took more than that), and
//!     raised back at the next op's start. A fast op pays no system call for its deadline.
//! - **Counts.** Every client connection opened notes `measure::counters::CONNECTS`, and
//!   every request sent again after a reused connection turned out closed notes `RETRIES`.

mod asynchronous;
mod blocking;
mod conn;
mod deadline;
mod exchange;

pub use asynchronous::connect_async;
pub use blocking::{Timed, connect_blocking};
pub use conn::{Conn, Endpoint, resolve};
pub(crate) use deadline::timed_out;
pub use deadline::{Deadline, SLACK};
pub(crate) use exchange::closed;
pub use exchange::{Exchange, MAX_READ_BUF, Progress, read_buf_len};
