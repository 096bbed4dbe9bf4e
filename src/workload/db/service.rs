//! Where the database servers are: their URLs (the defaults and the environment's),
//! probing that one is reachable, and a URL's address.

use std::net::SocketAddr;
use std::time::Duration;

use crate::op::{ErrorKind, OpError};

/// The default addresses: the ports `scripts/services.sh` starts its servers on.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://iobench@127.0.0.1:54329/iobench";
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:63799/";

/// A database server a workload needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    Postgres,
    Redis,
}

impl Service {
    pub fn name(self) -> &'static str {
        match self {
            Service::Postgres => "PostgreSQL",
            Service::Redis => "Redis",
        }
    }

    /// The URL from the environment (`IOBENCH_POSTGRES_URL`, `IOBENCH_REDIS_URL`), or the
    /// default.
    pub fn url_from_env(self) -> String {
        let (var, default) = match self {
            Service::Postgres => ("IOBENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
            Service::Redis => ("IOBENCH_REDIS_URL", DEFAULT_REDIS_URL),
        };
        std::env::var(var)
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| default.to_string())
    }

    /// `None` when a TCP connection to the server's address succeeds, else why not, with
    /// the command that starts the servers.
    pub fn unreachable(self, url: &str) -> Option<String> {
        let hint = "start it with `scripts/services.sh up`, or set the workload's `url`";
        let addr = match host_port(url) {
            Some(a) => a,
            None => {
                return Some(format!(
                    "{} URL `{url}` has no host:port; {hint}",
                    self.name()
                ));
            }
        };
        let resolved = std::net::ToSocketAddrs::to_socket_addrs(&addr)
            .ok()
            .and_then(|mut a| a.next());
        let Some(sa) = resolved else {
            return Some(format!("cannot resolve {} at {addr}; {hint}", self.name()));
        };
        match std::net::TcpStream::connect_timeout(&sa, Duration::from_secs(2)) {
            Ok(_) => None,
            Err(e) => Some(format!(
                "{} is not reachable at {addr} ({e}); {hint}",
                self.name()
            )),
        }
    }
}

/// `host:port` of a `scheme://[user@]host:port/...` URL.
pub fn host_port(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next()?;
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    hostport.contains(':').then(|| hostport.to_string())
}

/// Resolves a URL's `host:port` to a socket address.
pub fn socket_addr(url: &str) -> Result<SocketAddr, OpError> {
    let hp = host_port(url)
        .ok_or_else(|| OpError::new(ErrorKind::Other, format!("`{url}` has no host:port")))?;
    std::net::ToSocketAddrs::to_socket_addrs(&hp)
        .map_err(|e| OpError::new(ErrorKind::Other, format!("cannot resolve {hp}: {e}")))?
        .next()
        .ok_or_else(|| OpError::new(ErrorKind::Other, format!("{hp} has no address")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_of_urls() {
        assert_eq!(
            host_port("postgres://iobench@127.0.0.1:54329/iobench").as_deref(),
            Some("127.0.0.1:54329")
        );
        assert_eq!(
            host_port("redis://127.0.0.1:63799/").as_deref(),
            Some("127.0.0.1:63799")
        );
        assert_eq!(host_port("redis://localhost/"), None);
    }

    #[test]
    fn an_unreachable_service_names_the_command() {
        let why = Service::Redis.unreachable("redis://127.0.0.1:9/").unwrap();
        assert!(why.contains("scripts/services.sh up"), "{why}");
    }
}
