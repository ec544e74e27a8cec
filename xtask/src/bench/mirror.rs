//! A loopback release mirror for measurement 3: files under a folder served over HTTP/1.1 on
//! 127.0.0.1 (one thread per connection, `Content-Length`, the body copied from the file in
//! 256 KiB writes), as `CARGO_LITESTREAM_MIRROR` and `curl` expect. No other features.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub struct Mirror {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl Mirror {
    /// Serves `root` (URL `/a/b` → `root/a/b`).
    pub fn start(root: &Path) -> Result<Mirror, String> {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind 127.0.0.1:0: {e}"))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let (root, flag) = (root.to_path_buf(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if flag.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let root = root.clone();
                std::thread::spawn(move || {
                    let _ = serve(stream, &root);
                });
            }
        });
        Ok(Mirror { port, stop })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve(stream: TcpStream, root: &Path) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    loop {
        let mut request = String::new();
        if reader.read_line(&mut request)? == 0 {
            return Ok(());
        }
        let mut close = false;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header)? == 0 || header == "\r\n" || header == "\n" {
                break;
            }
            if header.to_ascii_lowercase().starts_with("connection:")
                && header.to_ascii_lowercase().contains("close")
            {
                close = true;
            }
        }
        let mut parts = request.split_whitespace();
        let (method, target) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
        let mut out = stream.try_clone()?;
        match resolve(root, target).filter(|_| method == "GET" || method == "HEAD") {
            Some(path) => {
                let mut file = std::fs::File::open(&path)?;
                let length = file.metadata()?.len();
                write!(
                    out,
                    "HTTP/1.1 200 OK\r\nContent-Length: {length}\r\nContent-Type: application/octet-stream\r\n\r\n"
                )?;
                if method == "GET" {
                    let mut buffer = vec![0u8; 256 * 1024];
                    loop {
                        let n = file.read(&mut buffer)?;
                        if n == 0 {
                            break;
                        }
                        out.write_all(&buffer[..n])?;
                    }
                }
            }
            None => out.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")?,
        }
        out.flush()?;
        if close {
            return Ok(());
        }
    }
}

/// The file for a request target, refusing anything that could leave `root`.
fn resolve(root: &Path, target: &str) -> Option<PathBuf> {
    let path = target.split(['?', '#']).next()?.strip_prefix('/')?;
    if path.split('/').any(|part| part.is_empty() || part == "." || part == "..") {
        return None;
    }
    let full = root.join(path);
    full.is_file().then_some(full)
}
