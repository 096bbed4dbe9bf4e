//! A protocol's client side without I/O ([`Exchange`]: the request's bytes and a parser fed
//! whatever arrives), the read buffer's length, and the error of a closed connection.

use crate::op::{ErrorKind, OpError};

/// Whether a reply is complete.
#[derive(Debug, PartialEq, Eq)]
pub enum Progress {
    NeedMore,
    Done(Result<(), OpError>),
}

/// A protocol's client side without I/O: the request's bytes and a reply parser.
pub trait Exchange {
    /// The bytes of one request.
    fn request(&self) -> &[u8];
    /// Prepares to parse a new reply.
    fn reset(&mut self);
    /// Feeds received bytes; says when the reply is complete, and whether it was right.
    fn feed(&mut self, data: &[u8]) -> Progress;
    /// Whether the last reply said that the server closes the connection after it
    /// (HTTP's `Connection: close`): the next op then opens a new one.
    fn peer_closes(&self) -> bool {
        false
    }
    /// The longest reply this op expects, in bytes: the read buffer's length (at most
    /// [`MAX_READ_BUF`]).
    fn reply_size(&self) -> usize;
}

/// The longest read buffer a connection gets; a longer reply is read in pieces.
pub const MAX_READ_BUF: usize = 16 * 1024;

/// The read buffer's length for replies (or requests, on a server) of at most `largest`
/// bytes.
pub fn read_buf_len(largest: usize) -> usize {
    largest.clamp(64, MAX_READ_BUF)
}

/// The error of a read that found the connection closed.
pub(crate) fn closed() -> OpError {
    OpError::new(ErrorKind::Reset, "the target closed the connection")
}
