//! A client for the control socket of a running `litestream replicate`: HTTP/1.1 over a Unix
//! socket (Litestream 0.5.17 reference §7), spoken directly rather than through a `litestream`
//! child, which would cost a process start and leave only its stderr to tell "no daemon" from
//! "the replica failed".

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// What went wrong talking to the daemon.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// Nothing listens on the socket: no `replicate` is running (or it runs without a socket).
    #[error("no replicate is running: nothing answers on the control socket {} ({source})", socket.display())]
    NotRunning { socket: PathBuf, source: std::io::Error },

    /// The daemon did not answer in time (or said its own deadline passed).
    #[error("timed out after {} s", .0.as_secs())]
    TimedOut(Duration),

    /// The daemon answered with an error.
    #[error("{message}")]
    Refused { status: u16, message: String },

    /// The exchange broke down (a reset connection, an answer that is not HTTP or JSON).
    #[error("the control socket {}: {problem}", socket.display())]
    Protocol { socket: PathBuf, problem: String },

    /// This platform has no Unix sockets in the standard library.
    #[error("talking to the control socket needs Unix domain sockets, which this platform lacks")]
    Unsupported,
}

impl ControlError {
    /// The daemon does not know the database (404) or has stopped replicating it (409).
    pub fn is_not_replicated(&self) -> bool {
        matches!(self, ControlError::Refused { status: 404 | 409, .. })
    }
}

/// `POST /sync` answer.
#[derive(Clone, Debug, Deserialize)]
pub struct SyncReply {
    /// `synced`, `no_change` (the daemon had already shipped it) or `synced_local`.
    pub status: String,
    /// The database, as the daemon knows it.
    pub path: PathBuf,
    /// The database's local TXID after the sync.
    pub txid: u64,
    /// The replica's TXID after the sync.
    #[serde(rename = "replicated_txid")]
    pub replica_txid: u64,
}

/// One database of `GET /list`.
#[derive(Clone, Debug, Deserialize)]
pub struct Listed {
    pub path: PathBuf,
    /// `replicating`, `open` (monitor off: syncs only on request) or `stopped`.
    pub status: String,
}

#[derive(Deserialize)]
struct ListReply {
    databases: Vec<Listed>,
}

#[derive(Deserialize)]
struct ErrorReply {
    error: String,
}

/// `GET /info`: the daemon itself.
#[derive(Clone, Debug, Deserialize)]
pub struct Info {
    pub version: String,
    pub pid: u32,
    #[serde(default)]
    pub uptime_seconds: f64,
    #[serde(default)]
    pub database_count: usize,
}

/// Who answers on the socket.
pub fn info(socket: &Path, timeout: Duration) -> Result<Info, ControlError> {
    let body = request(socket, "GET", "/info", None, timeout)?;
    parse(socket, &body)
}

/// The databases the daemon holds.
pub fn list(socket: &Path, timeout: Duration) -> Result<Vec<Listed>, ControlError> {
    let body = request(socket, "GET", "/list", None, timeout)?;
    let reply: ListReply = parse(socket, &body)?;
    Ok(reply.databases)
}

/// The database's local TXID as the daemon knows it (`GET /txid?path=`): the newest
/// transaction it has copied from the WAL, uploaded or not.
pub fn txid(socket: &Path, db: &Path, timeout: Duration) -> Result<u64, ControlError> {
    #[derive(Deserialize)]
    struct TxidReply {
        txid: u64,
    }
    let path = db.to_string_lossy();
    let query = percent_encoding::utf8_percent_encode(&path, percent_encoding::NON_ALPHANUMERIC);
    let body = request(socket, "GET", &format!("/txid?path={query}"), None, timeout)?;
    Ok(parse::<TxidReply>(socket, &body)?.txid)
}

/// How far a sync goes before it answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncUntil {
    /// The WAL is copied into a new LTX file beside the database (`sync` without `-wait`);
    /// the upload follows at the replica's next `sync-interval`.
    Local,
    /// The replica holds everything committed before the call (`sync -wait`).
    Replica,
}

/// Syncs `db` now through the daemon on `socket`, bounded by `timeout` on our side.
///
/// Every request says `"timeout": -1`, never a positive timeout as `litestream sync` does.
/// Litestream 0.5.17 runs a socket sync under a context of its own making: with a positive
/// timeout (or `wait` and none, which it turns into 30 s) that context is cancelled as soon
/// as the answer is sent, otherwise it is the server's, which lives as long as replication.
/// When that sync is the one that initialises the database (the first after a start: the
/// monitor's first tick comes a `monitor-interval` later) or runs a checkpoint, Litestream
/// opens its long-running read transaction, the lock that keeps the application's own
/// checkpoints from restarting the WAL under it, under that context (`db.go`: `init` and
/// `execCheckpoint` call `acquireReadLock(ctx)`), and Go's `database/sql` rolls a
/// transaction back when its context ends. From then until Litestream's next checkpoint
/// the application's `wal_autocheckpoint` may restart the WAL over frames Litestream has
/// not copied yet, and those commits are missing from the backup while every command
/// exits 0 (RELIABILITY.md). A negative timeout is Litestream's "no deadline": the server's
/// context, the one its own monitor's lifetime matches.
///
/// The price: when we stop waiting (our `timeout`), Litestream does not; the request goes on
/// until the upload ends, as its monitor's own would.
pub fn sync(
    socket: &Path,
    db: &Path,
    until: SyncUntil,
    timeout: Duration,
) -> Result<SyncReply, ControlError> {
    let wait = until == SyncUntil::Replica;
    let body = serde_json::json!({ "path": db, "wait": wait, "timeout": -1 }).to_string();
    parse(socket, &request(socket, "POST", "/sync", Some(&body), timeout)?)
}

/// [`sync`] until the replica has everything written so far (`sync -wait`).
pub fn sync_wait(socket: &Path, db: &Path, timeout: Duration) -> Result<SyncReply, ControlError> {
    sync(socket, db, SyncUntil::Replica, timeout)
}

fn parse<T: serde::de::DeserializeOwned>(socket: &Path, body: &[u8]) -> Result<T, ControlError> {
    serde_json::from_slice(body).map_err(|error| ControlError::Protocol {
        socket: socket.to_path_buf(),
        problem: format!("unexpected answer ({error}): {}", String::from_utf8_lossy(body).trim()),
    })
}

/// One HTTP exchange; the body of a 2xx answer, else [`ControlError::Refused`].
#[cfg(unix)]
fn request(
    socket: &Path,
    method: &str,
    target: &str,
    body: Option<&str>,
    timeout: Duration,
) -> Result<Vec<u8>, ControlError> {
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;

    let protocol = |problem: String| ControlError::Protocol { socket: socket.to_path_buf(), problem };
    let mut stream = UnixStream::connect(socket)
        .map_err(|source| ControlError::NotRunning { socket: socket.to_path_buf(), source })?;
    stream.set_read_timeout(Some(timeout)).map_err(|e| protocol(e.to_string()))?;
    stream.set_write_timeout(Some(timeout)).map_err(|e| protocol(e.to_string()))?;

    let body = body.unwrap_or("");
    let head = format!(
        "{method} {target} HTTP/1.1\r\nHost: litestream\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body.as_bytes()))
        .map_err(|e| protocol(format!("could not send the request: {e}")))?;

    let mut answer = Vec::new();
    if let Err(error) = stream.read_to_end(&mut answer) {
        return Err(match error.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => ControlError::TimedOut(timeout),
            _ => protocol(format!("could not read the answer: {error}")),
        });
    }
    let (status, body) = split_response(&answer).map_err(protocol)?;
    if (200..300).contains(&status) {
        return Ok(body);
    }
    let message = serde_json::from_slice::<ErrorReply>(&body)
        .map(|e| e.error)
        .unwrap_or_else(|_| String::from_utf8_lossy(&body).trim().to_owned());
    Err(ControlError::Refused { status, message })
}

#[cfg(not(unix))]
fn request(
    _socket: &Path,
    _method: &str,
    _target: &str,
    _body: Option<&str>,
    _timeout: Duration,
) -> Result<Vec<u8>, ControlError> {
    Err(ControlError::Unsupported)
}

/// The status code and the (de-chunked) body of an HTTP/1.1 response.
fn split_response(answer: &[u8]) -> Result<(u16, Vec<u8>), String> {
    let end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("an incomplete HTTP answer ({} bytes)", answer.len()))?;
    let head = String::from_utf8_lossy(&answer[..end]);
    let body = &answer[end + 4..];
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| format!("not an HTTP answer: {:?}", head.lines().next().unwrap_or_default()))?;
    let chunked = lines.any(|line| {
        line.split_once(':').is_some_and(|(name, value)| {
            name.trim().eq_ignore_ascii_case("transfer-encoding")
                && value.trim().eq_ignore_ascii_case("chunked")
        })
    });
    let body = if chunked { dechunk(body)? } else { body.to_vec() };
    Ok((status, body))
}

fn dechunk(mut body: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n").ok_or("a truncated chunked body")?;
        let size_text = String::from_utf8_lossy(&body[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size =
            usize::from_str_radix(size_text, 16).map_err(|_| format!("a bad chunk size {size_text:?}"))?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if body.len() < size + 2 {
            return Err("a truncated chunk".to_owned());
        }
        out.extend_from_slice(&body[..size]);
        body = &body[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses() {
        let plain = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
        assert_eq!(split_response(plain).unwrap(), (200, b"{}".to_vec()));
        let chunked =
            b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n2\r\n\"}\r\n0\r\n\r\n";
        assert_eq!(split_response(chunked).unwrap(), (404, b"{\"a\"}".to_vec()));
        assert!(split_response(b"garbage").is_err());
    }

    #[cfg(unix)]
    #[test]
    fn no_listener_means_not_running() {
        let dir = tempfile::tempdir().unwrap();
        let error = list(&dir.path().join("none.sock"), Duration::from_secs(1)).unwrap_err();
        assert!(matches!(error, ControlError::NotRunning { .. }), "{error}");
    }
}
