//! `metrics-addr`: while replication is supervised (`replicate -exec`, `spawn_replicate`), the
//! metrics Litestream 0.5.17 does not export (replica TXID and lag, the recovery window, bytes
//! per level, the last verify/scrub/drill) served over HTTP at `/metrics`, as the Prometheus
//! text `cargo litestream check --format prometheus` prints. Beside Litestream's own `addr`
//! metrics, which stay litestream's.
//!
//! A small blocking HTTP/1.1 server on one thread: a scrape every 15 s is one request at a time,
//! each answered with a fresh check of every database (one listing each, no restore). 127.0.0.1
//! unless the address names another host.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use cargo_litestream_config::{Env, Project};
use cargo_litestream_runner::Litestream;

/// The running endpoint; dropping it stops it.
pub struct MetricsServer {
    addr: SocketAddr,
    stopping: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for MetricsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MetricsServer({})", self.addr)
    }
}

impl MetricsServer {
    /// Where it listens (the port chosen when the address said 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Wakes the accept; it then sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
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
    let addr = listener.local_addr()?;
    let stopping = Arc::new(AtomicBool::new(false));
    let (project, env, litestream, flag) =
        (project.clone(), env.clone(), litestream.clone(), stopping.clone());
    let thread =
        std::thread::Builder::new().name("cargo-litestream metrics".to_owned()).spawn(move || {
            for stream in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    return;
                }
                if let Ok(stream) = stream {
                    answer(stream, &project, &env, &litestream);
                }
            }
        })?;
    Ok(MetricsServer { addr, stopping, thread: Some(thread) })
}

fn answer(mut stream: TcpStream, project: &Project, env: &Env, litestream: &Litestream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    let Some(path) = request_path(&mut stream) else { return };
    let (status, body) = match path.as_str() {
        "/metrics" => {
            match crate::check::check_project(project, env, Some(litestream), Duration::from_secs(5)) {
                Ok((reports, now)) => ("200 OK", crate::check::prometheus::render(&reports, now)),
                Err(error) => {
                    ("500 Internal Server Error", format!("# cargo-litestream could not check: {error}\n"))
                }
            }
        }
        "/" => ("200 OK", "cargo-litestream: the metrics are at /metrics\n".to_owned()),
        _ => ("404 Not Found", "not found: the metrics are at /metrics\n".to_owned()),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body.as_bytes()));
}

/// The path of a `GET` request's line (the headers read up to 8 KiB and ignored).
fn request_path(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
        let n = stream.read(&mut buf).ok().filter(|n| *n > 0)?;
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    let mut words = line.lines().next()?.split_whitespace();
    (words.next()? == "GET").then(|| words.next().map(|p| p.split('?').next().unwrap_or(p).to_owned()))?
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
