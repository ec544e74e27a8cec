//! `metrics-addr`: while replication is supervised (`replicate -exec`, `spawn_replicate`), the
//! metrics Litestream 0.5.17 does not export (replica TXID and lag, the recovery window, bytes
//! per level, the last verify/scrub/drill) served over HTTP at `/metrics`, as the Prometheus
//! text `cargo litestream check --format prometheus` prints. Beside Litestream's own `addr`
//! metrics, which stay litestream's.
//!
//! On the small blocking HTTP/1.1 server of [`crate::httpd`] (the status page's too): each scrape
//! is answered with a fresh check of every database (one listing each, no restore). 127.0.0.1
//! unless the address names another host.

use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use cargo_litestream_config::{Env, Project};
use cargo_litestream_runner::Litestream;

use crate::httpd::{self, Request, Response};

/// The running endpoint; dropping it stops it.
pub struct MetricsServer {
    server: httpd::Server,
}

impl std::fmt::Debug for MetricsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MetricsServer({})", self.addr())
    }
}

impl MetricsServer {
    /// Where it listens (the port chosen when the address said 0).
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }
}

/// `PORT`, `:PORT` or `HOST:PORT` (IPv6 in brackets), the host 127.0.0.1 when not given.
pub fn normalize(addr: &str) -> String {
    let addr = addr.trim();
    if addr.bytes().all(|b| b.is_ascii_digit()) {
        format!("127.0.0.1:{addr}")
    } else if let Some(port) = addr.strip_prefix(':') {
        format!("127.0.0.1:{port}")
    } else {
        addr.to_owned()
    }
}

/// Serves `project`'s metrics at `addr` (see [`normalize`]) until dropped.
pub fn serve(
    project: &Project,
    env: &Env,
    litestream: &Litestream,
    addr: &str,
) -> std::io::Result<MetricsServer> {
    let addr = normalize(addr);
    let bind = addr
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other(format!("{addr} names no address")))?;
    let listener = TcpListener::bind(bind)?;
    let (project, env, litestream) = (project.clone(), env.clone(), litestream.clone());
    let handler = Arc::new(move |request: &Request| answer(request, &project, &env, &litestream));
    Ok(MetricsServer { server: httpd::serve(listener, "cargo-litestream metrics", handler)? })
}

fn answer(request: &Request, project: &Project, env: &Env, litestream: &Litestream) -> Response {
    const PROMETHEUS: &str = "text/plain; version=0.0.4; charset=utf-8";
    if request.method != "GET" && request.method != "HEAD" {
        return Response::plain(405, "the metrics are read with GET /metrics");
    }
    match request.path.as_str() {
        "/metrics" => {
            match crate::check::check_project(project, env, Some(litestream), Duration::from_secs(5)) {
                Ok((reports, now)) => {
                    Response::new(200, PROMETHEUS, crate::check::prometheus::render(&reports, now))
                }
                Err(error) => {
                    Response::new(500, PROMETHEUS, format!("# cargo-litestream could not check: {error}\n"))
                }
            }
        }
        "/" => Response::plain(200, "cargo-litestream: the metrics are at /metrics"),
        _ => Response::plain(404, "not found: the metrics are at /metrics"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(normalize("9200"), "127.0.0.1:9200");
        assert_eq!(normalize(":9200"), "127.0.0.1:9200");
        assert_eq!(normalize("0.0.0.0:9200"), "0.0.0.0:9200");
        assert_eq!(normalize("[::1]:9200"), "[::1]:9200");
    }
}
