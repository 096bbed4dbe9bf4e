//! The `processes` server: `process_cap` pre-forked worker processes sharing the listening
//! socket, each accepting a connection and serving it to its end (one request without
//! keep-alive, as gunicorn's sync workers do).

use crate::server::Serving;

pub fn serve(serving: Serving) -> anyhow::Result<()> {
    serving.prefork(serving.spec.processes, |serving, ready| {
        ready();
        let _ = serving.serve_in_turn();
    })?;
    serving.ready();
    serving.wait_workers()
}
