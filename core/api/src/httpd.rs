//! A small blocking HTTP/1.1 server on a std `TcpListener`, for the status page and the
//! `metrics-addr` endpoint: a thread per connection, at most 32 at once (a
//! browser opens several, some only speculatively, and a restore may take a while), one request
//! per connection (`Connection: close`), bounded heads and bodies, no chunked bodies. No async
//! runtime: one person's page and a scrape every 15 s need none.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// An HTTP request, as much of it as the handlers read.
#[derive(Clone, Debug, Default)]
pub struct Request {
    /// `GET`, `POST`, … as sent.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    pub query: Option<String>,
    /// Names in any case, as sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The first query parameter called `name`, decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        form_value(self.query.as_deref()?.as_bytes(), name)
    }
}

/// An HTTP response.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Response {
    /// A response with the headers every answer carries (no caching, no sniffing, no script,
    /// never framed).
    pub fn new(status: u16, content_type: &str, body: String) -> Response {
        Response {
            status,
            headers: vec![
                ("Content-Type", content_type.to_owned()),
                ("Cache-Control", "no-store".to_owned()),
                ("X-Content-Type-Options", "nosniff".to_owned()),
                // `same-origin`, not `no-referrer`: with no referrer a browser posts `Origin: null`, which
                // the same-origin check refuses.
                ("Referrer-Policy", "same-origin".to_owned()),
                // No script at all; forms post only to this page; never framed (clickjacking).
                (
                    "Content-Security-Policy",
                    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
                        .to_owned(),
                ),
            ],
            body,
        }
    }

    pub(crate) fn html(status: u16, body: String) -> Response {
        Response::new(status, "text/html; charset=utf-8", body)
    }

    /// A refusal or failure in one plain line.
    pub fn plain(status: u16, message: impl Into<String>) -> Response {
        let mut body = message.into();
        body.push('\n');
        Response::new(status, "text/plain; charset=utf-8", body)
    }

    pub(crate) fn see_other(location: String) -> Response {
        let mut response = Response::plain(303, format!("see {location}"));
        response.headers.push(("Location", location));
        response
    }

    /// The reason phrase of the status code.
    pub fn reason(&self) -> &'static str {
        match self.status {
            200 => "OK",
            303 => "See Other",
            400 => "Bad Request",
            401 => "Unauthorized",
            403 => "Forbidden",
            404 => "Not Found",
            405 => "Method Not Allowed",
            409 => "Conflict",
            411 => "Length Required",
            413 => "Content Too Large",
            431 => "Request Header Fields Too Large",
            500 => "Internal Server Error",
            503 => "Service Unavailable",
            _ => "",
        }
    }
}

/// The first value of `name` in an `application/x-www-form-urlencoded` body or query.
pub(crate) fn form_value(encoded: &[u8], name: &str) -> Option<String> {
    encoded.split(|b| *b == b'&').find_map(|pair| {
        let (key, value) = match pair.iter().position(|b| *b == b'=') {
            Some(at) => (&pair[..at], &pair[at + 1..]),
            None => (pair, &b""[..]),
        };
        (decode_form(key) == name).then(|| decode_form(value))
    })
}

fn decode_form(bytes: &[u8]) -> String {
    let spaced: Vec<u8> = bytes.iter().map(|b| if *b == b'+' { b' ' } else { *b }).collect();
    percent_encoding::percent_decode(&spaced).decode_utf8_lossy().into_owned()
}

const MAX_CONNECTIONS: usize = 32;
const MAX_HEAD: usize = 16 * 1024;
const MAX_BODY: usize = 64 * 1024;

/// The running server; dropping it stops accepting (connections in flight finish).
pub struct Server {
    addr: SocketAddr,
    stopping: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Server({})", self.addr)
    }
}

impl Server {
    /// Where it listens (the port chosen when the address said 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until the process ends.
    pub fn wait(mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Wakes the accept; it then sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// What answers each request.
pub type Handler = Arc<dyn Fn(&Request) -> Response + Send + Sync>;

/// Serves `handler` on `listener` (its thread called `name`) until the returned server is
/// dropped.
pub fn serve(listener: TcpListener, name: &str, handler: Handler) -> std::io::Result<Server> {
    let addr = listener.local_addr()?;
    let stopping = Arc::new(AtomicBool::new(false));
    let flag = stopping.clone();
    let busy = Arc::new(AtomicUsize::new(0));
    let thread = std::thread::Builder::new().name(name.to_owned()).spawn(move || {
        for stream in listener.incoming() {
            if flag.load(Ordering::SeqCst) {
                return;
            }
            let Ok(mut stream) = stream else { continue };
            if busy.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
                busy.fetch_sub(1, Ordering::SeqCst);
                write_response(&mut stream, &Response::plain(503, "too many connections at once: try again"));
                continue;
            }
            let (handler, done) = (handler.clone(), busy.clone());
            let spawned = std::thread::Builder::new().name("http request".to_owned()).spawn(move || {
                answer(stream, &*handler);
                done.fetch_sub(1, Ordering::SeqCst);
            });
            if spawned.is_err() {
                // The stream went with the closure: nothing to answer on.
                busy.fetch_sub(1, Ordering::SeqCst);
            }
        }
    })?;
    Ok(Server { addr, stopping, thread: Some(thread) })
}

fn answer(mut stream: TcpStream, handler: &(dyn Fn(&Request) -> Response + Send + Sync)) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
    let response = match read_request(&mut stream) {
        Ok(Some(request)) => {
            let head = request.method == "HEAD";
            let mut response = handler(&request);
            if head {
                response.body.clear();
            }
            response
        }
        // Closed before a request (a speculative connection): nothing to say.
        Ok(None) => return,
        Err(refusal) => refusal,
    };
    write_response(&mut stream, &response);
}

fn write_response(stream: &mut TcpStream, response: &Response) {
    let mut head = format!("HTTP/1.1 {} {}\r\n", response.status, response.reason());
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", response.body.len()));
    let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(response.body.as_bytes()));
    let _ = stream.flush();
}

/// One request from `stream`: `Ok(None)` when it closes before sending one; a 4xx response
/// for one that is malformed or too large.
pub fn read_request(stream: &mut impl Read) -> Result<Option<Request>, Response> {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let end = loop {
        let found = data.windows(4).position(|w| w == b"\r\n\r\n");
        if found.unwrap_or(data.len()) > MAX_HEAD {
            return Err(Response::plain(431, "the request's head is over 16 KiB"));
        }
        if let Some(at) = found {
            break at;
        }
        match stream.read(&mut buf) {
            Ok(0) if data.is_empty() => return Ok(None),
            Ok(0) => return Err(Response::plain(400, "the request ended before its head did")),
            Ok(n) => data.extend_from_slice(&buf[..n]),
            Err(_) if data.is_empty() => return Ok(None),
            Err(_) => return Err(Response::plain(400, "the request's head did not arrive in time")),
        }
    };
    let head = std::str::from_utf8(&data[..end])
        .map_err(|_| Response::plain(400, "the request's head is not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let line = lines.next().unwrap_or("");
    let mut words = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return Err(Response::plain(400, "malformed request line"));
    };
    if !version.starts_with("HTTP/1.") || method.is_empty() || !target.starts_with('/') {
        return Err(Response::plain(400, "malformed request line"));
    }
    let mut headers = Vec::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(Response::plain(400, "malformed header line"));
        };
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path.to_owned(), Some(query.to_owned())),
        None => (target.to_owned(), None),
    };
    let mut request = Request { method: method.to_owned(), path, query, headers, body: Vec::new() };
    if request.header("transfer-encoding").is_some() {
        return Err(Response::plain(411, "chunked request bodies are not accepted: send Content-Length"));
    }
    let length = match request.header("content-length") {
        None => 0,
        Some(text) => {
            text.parse::<usize>().map_err(|_| Response::plain(400, "Content-Length is not a number"))?
        }
    };
    if length > MAX_BODY {
        return Err(Response::plain(413, "the request's body is over 64 KiB"));
    }
    let mut body = data[end + 4..].to_vec();
    while body.len() < length {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => {
                return Err(Response::plain(400, "the request's body is shorter than its Content-Length"));
            }
            Ok(n) => body.extend_from_slice(&buf[..n]),
        }
    }
    body.truncate(length);
    request.body = body;
    Ok(Some(request))
}
