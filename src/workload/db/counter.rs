//! Counting a trial's connections on the server: [`app_name`] (the name they carry) and
//! [`ConnCounter`] (`db_connections`).

use std::time::Duration;

use super::service::Service;
use crate::measure::{Mono, Window};
use crate::workload::{WorkloadSpec, trial_tag};

/// The name this process's connections carry: its trial's ([`trial_tag`]).
pub fn app_name() -> String {
    trial_tag()
}

/// A connection to the server that counts the trial's connections on it.
enum Counting {
    Postgres(postgres::Client),
    Redis(redis::Connection),
}

impl Counting {
    fn open(service: Service, url: &str) -> Result<Counting, String> {
        let limit = Duration::from_secs(5);
        match service {
            Service::Postgres => {
                let mut cfg: postgres::Config = url.parse().map_err(|e| format!("{e}"))?;
                cfg.connect_timeout(limit)
                    .application_name("iobench-counter");
                cfg.connect(postgres::NoTls)
                    .map(Counting::Postgres)
                    .map_err(|e| e.to_string())
            }
            Service::Redis => {
                let c = redis::Client::open(url)
                    .and_then(|c| c.get_connection_with_timeout(limit))
                    .map_err(|e| e.to_string())?;
                c.set_read_timeout(Some(limit)).map_err(|e| e.to_string())?;
                Ok(Counting::Redis(c))
            }
        }
    }

    /// The connections named `name` open on the server now, this one left out.
    fn count(&mut self, name: &str) -> Result<u64, String> {
        match self {
            Counting::Postgres(c) => {
                let row = c
                    .query_one(
                        "SELECT count(*) FROM pg_stat_activity \
                         WHERE application_name = $1 AND pid <> pg_backend_pid()",
                        &[&name],
                    )
                    .map_err(|e| e.to_string())?;
                Ok(row.get::<_, i64>(0) as u64)
            }
            Counting::Redis(c) => {
                let list: String = redis::cmd("CLIENT")
                    .arg("LIST")
                    .query(c)
                    .map_err(|e| e.to_string())?;
                Ok(count_named(&list, name))
            }
        }
    }
}

/// Lines of a Redis `CLIENT LIST` reply whose `name` field is `name`.
fn count_named(list: &str, name: &str) -> u64 {
    let field = format!("name={name}");
    list.lines()
        .filter(|l| l.split(' ').any(|f| f == field))
        .count() as u64
}

/// Counts a database trial's connections on the server, once, near the window's end.
///
/// # How it works
/// [`ConnCounter::start`] opens its own connection and starts a thread, both before the
/// idle footprint, so that neither is charged to the model's memory per op. The thread
/// waits for the window ([`ConnCounter::begin`]), sleeps until a little before its end
/// (a tenth of the window, at most 50 ms), while every worker is still inside its loop
/// and its pool is alive, and asks the server once. A counted window has no known end,
/// and is not counted.
pub struct ConnCounter {
    window: std::sync::mpsc::Sender<Window>,
    thread: std::thread::JoinHandle<Option<u64>>,
}

impl ConnCounter {
    /// For a database workload, a counter of the connections named [`app_name`]; `None`
    /// for any other workload, or where the server cannot be reached now (the trial will
    /// say why).
    pub fn start(workload: &WorkloadSpec) -> Option<ConnCounter> {
        let (service, url) = match workload {
            WorkloadSpec::Postgres(p) => (Service::Postgres, p.url.clone()),
            WorkloadSpec::Redis(r) => (Service::Redis, r.url.clone()),
            _ => return None,
        };
        let url = url.unwrap_or_else(|| service.url_from_env());
        let name = app_name();
        let mut conn = Counting::open(service, &url).ok()?;
        let (window, rx) = std::sync::mpsc::channel::<Window>();
        let thread = std::thread::Builder::new()
            .name("db-counter".into())
            .spawn(move || {
                let w = rx.recv().ok().filter(|w| w.count.is_none())?;
                let len = w.measure_until.since(w.measure_from);
                let lead = (len / 10).min(Duration::from_millis(50));
                // Counted at the window's middle and shortly before its end; a count that
                // completes after the end (a busy machine woke this thread late, and the
                // workers may be gone) is not the window's. The most seen counts.
                let mut most = None;
                for at in [
                    w.measure_from.plus(len / 2),
                    Mono(w.measure_until.0 - lead.as_nanos() as u64),
                ] {
                    at.sleep_until();
                    if let Ok(n) = conn.count(&name) {
                        if Mono::now() < w.measure_until {
                            most = most.max(Some(n));
                        }
                    }
                }
                most
            })
            .ok()?;
        Some(ConnCounter { window, thread })
    }

    /// The window has been opened.
    pub fn begin(&self, w: Window) {
        let _ = self.window.send(w);
    }

    /// The count, once taken; `None` where it could not be.
    pub fn finish(self) -> Option<u64> {
        drop(self.window);
        self.thread.join().ok().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_list_lines_are_counted_by_exact_name() {
        let list = "id=3 addr=127.0.0.1:5 fd=8 name=iobench-7-0 age=1\n\
                    id=4 addr=127.0.0.1:6 fd=9 name=iobench-7-01 age=1\n\
                    id=5 addr=127.0.0.1:7 fd=10 name= age=1\n\
                    id=6 addr=127.0.0.1:8 fd=11 name=iobench-7-0 age=2\n";
        assert_eq!(count_named(list, "iobench-7-0"), 2);
        assert_eq!(count_named(list, "other"), 0);
    }
}
