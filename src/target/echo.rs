//! The echo target: reads a request (8-byte header: payload length and delay in
//! microseconds, then the payload), waits the delay, writes the whole request back.
//!
//! A header declaring more than [`MAX_PAYLOAD`] (the most a tcp-echo scenario may ask for)
//! closes the connection, and the payload's buffer grows as its bytes arrive, so a header
//! alone cannot make the target hold memory.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::workload::tcp_echo::{HEADER, MAX_PAYLOAD};

/// The most a connection's buffer grows ahead of the bytes received.
const READ_STEP: usize = 64 << 10;

pub async fn run(listener: TcpListener) -> anyhow::Result<()> {
    loop {
        let stream = super::accept(&listener).await;
        tokio::spawn(async move {
            let _ = connection(stream).await;
        });
    }
}

async fn connection(mut s: TcpStream) -> std::io::Result<()> {
    let mut buf = Vec::new();
    loop {
        let mut header = [0u8; HEADER];
        if s.read_exact(&mut header).await.is_err() {
            return Ok(());
        }
        let len = u32::from_le_bytes(header[..4].try_into().expect("4 bytes")) as u64;
        let delay_us = u32::from_le_bytes(header[4..].try_into().expect("4 bytes"));
        if len > MAX_PAYLOAD {
            return Ok(());
        }
        let want = HEADER + len as usize;
        buf.clear();
        buf.extend_from_slice(&header);
        while buf.len() < want {
            let at = buf.len();
            buf.resize(want.min(at + READ_STEP), 0);
            s.read_exact(&mut buf[at..]).await?;
        }
        if delay_us > 0 {
            super::timer::sleep(Duration::from_micros(u64::from(delay_us))).await?;
        }
        s.write_all(&buf).await?;
        super::answered();
    }
}
