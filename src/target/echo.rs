//! The echo target: reads a request (8-byte header: payload length and delay in
//! microseconds, then the payload), waits the delay, writes the whole request back.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::workload::tcp_echo::HEADER;

/// Largest payload the target accepts.
const MAX_PAYLOAD: usize = 64 << 20;

pub async fn run(listener: TcpListener) -> anyhow::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
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
        let len = u32::from_le_bytes(header[..4].try_into().expect("4 bytes")) as usize;
        let delay_us = u32::from_le_bytes(header[4..].try_into().expect("4 bytes"));
        if len > MAX_PAYLOAD {
            return Ok(());
        }
        buf.resize(HEADER + len, 0);
        buf[..HEADER].copy_from_slice(&header);
        s.read_exact(&mut buf[HEADER..]).await?;
        if delay_us > 0 {
            super::timer::sleep(Duration::from_micros(u64::from(delay_us))).await?;
        }
        s.write_all(&buf).await?;
        super::answered();
    }
}
