//! The `processes` server: `process_cap` pre-forked worker processes sharing the listening
//! socket, each accepting a connection and serving it to its end (one request without
//! keep-alive, as gunicorn's sync workers do).

use crate::server::{Serving, serve_blocking};

pub fn serve(serving: Serving) -> anyhow::Result<()> {
    serving.prefork(serving.spec.processes, |serving, ready| {
        ready();
        loop {
            match serving.accept_blocking() {
                Ok(s) => serve_blocking(s, &serving.spec),
                Err(_) => return,
            }
        }
    })?;
    serving.ready();
    serving.wait_workers()
}
