//! Where bytes come from: the publisher's release downloads, or a mirror (the variable the
//! publisher names, e.g. `CARGO_LITESTREAM_MIRROR`: http, https or `file://`), through `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY` unless `NO_PROXY`
//! says otherwise. Only the *source* changes with a mirror; what is accepted is decided by the
//! pins, elsewhere.
//!
//! A download holds the cache entry's lock, so a server that answers slowly must not hold it
//! for long: as cargo does, `CARGO_HTTP_TIMEOUT` bounds connecting, the wait for the response
//! and each read, and a transfer that stays below `CARGO_HTTP_LOW_SPEED_LIMIT` bytes/s for that
//! long is abandoned (curl's `low_speed_limit`/`low_speed_time`, which cargo sets).

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use cargo_litestream_env::Env;

use crate::{FetchError, Publisher};

/// The base every asset URL is built on: `<base>/v<version>/<asset>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Base {
    Http(String),
    File(PathBuf),
}

impl Base {
    /// The mirror `publisher.mirror_var` names, else the publisher's own downloads.
    pub fn from_env(env: &Env, publisher: &Publisher) -> Result<Base, FetchError> {
        match env.non_empty(publisher.mirror_var) {
            Some(value) => Base::parse(publisher.mirror_var, value),
            None => Ok(Base::Http(publisher.releases.to_owned())),
        }
    }

    /// The mirror `value` of the variable `var` (named in the refusal).
    pub fn parse(var: &'static str, value: &str) -> Result<Base, FetchError> {
        let bad = |reason: &str| FetchError::BadMirror {
            var,
            value: redact_userinfo(value),
            reason: reason.to_owned(),
        };
        let trimmed = value.trim_end_matches('/');
        let lower = trimmed.to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            if trimmed.split_once("://").is_none_or(|(_, rest)| rest.is_empty()) {
                return Err(bad("it has no host"));
            }
            return Ok(Base::Http(trimmed.to_owned()));
        }
        if let Some(rest) = trimmed.strip_prefix("file://") {
            let decoded = percent_encoding::percent_decode_str(rest)
                .decode_utf8()
                .map_err(|_| bad("it is not valid UTF-8 once decoded"))?;
            // `file:///srv/mirror` (and `file://localhost/srv/mirror`).
            let path = decoded.strip_prefix("localhost").unwrap_or(&decoded);
            let path = PathBuf::from(windows_drive(path));
            if !path.is_absolute() {
                return Err(bad("a file:// mirror needs an absolute path: file:///srv/mirror"));
            }
            return Ok(Base::File(path));
        }
        Err(bad("it must start with https://, http:// or file://"))
    }

    /// Where `asset` of `version` is.
    pub fn locate(&self, version: &str, asset: &str) -> Location {
        match self {
            Base::Http(url) => Location::Http(format!("{url}/v{version}/{asset}")),
            Base::File(dir) => Location::File(dir.join(format!("v{version}")).join(asset)),
        }
    }

    /// Whether fetching from here needs the network (`--offline` allows a `file://` mirror).
    pub fn is_network(&self) -> bool {
        matches!(self, Base::Http(_))
    }
}

/// `/C:/mirror` → `C:/mirror` (a `file:///C:/mirror` URL on Windows).
fn windows_drive(path: &str) -> &str {
    let bytes = path.as_bytes();
    if cfg!(windows) && bytes.len() > 2 && bytes[0] == b'/' && bytes[2] == b':' { &path[1..] } else { path }
}

/// One file at the source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    Http(String),
    File(PathBuf),
}

impl Location {
    /// The URL, for messages and receipts: without its user info, which may hold a password
    /// (a mirror behind basic auth); requests use the whole URL.
    pub fn url(&self) -> String {
        match self {
            Location::Http(url) => redact_userinfo(url),
            Location::File(path) => format!("file://{}", path.display()),
        }
    }

    /// The file next to this one called `name` (the `.sha256` sidecar, `checksums.txt`).
    pub fn sibling(&self, name: &str) -> Location {
        match self {
            Location::Http(url) => {
                let dir = url.rsplit_once('/').map_or(url.as_str(), |(dir, _)| dir);
                Location::Http(format!("{dir}/{name}"))
            }
            Location::File(path) => Location::File(path.with_file_name(name)),
        }
    }
}

/// An open body and its announced length.
pub(crate) struct Opened {
    pub reader: Box<dyn Read>,
    pub length: Option<u64>,
    /// Why the transfer was abandoned as too slow, once it was: the reader's error itself may
    /// reach the caller wrapped (by gunzip, tar) or replaced, so the verdict is kept here.
    pub too_slow: TooSlowFlag,
}

/// Shared between a body's [`LowSpeed`] reader and whoever reads through it.
#[derive(Clone, Default)]
pub(crate) struct TooSlowFlag(Rc<RefCell<Option<String>>>);

impl TooSlowFlag {
    pub(crate) fn get(&self) -> Option<String> {
        self.0.borrow().clone()
    }

    fn set(&self, why: String) -> io::Error {
        *self.0.borrow_mut() = Some(why.clone());
        io::Error::new(io::ErrorKind::TimedOut, why)
    }
}

/// cargo's HTTP limits, from its environment variables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Limits {
    /// `CARGO_HTTP_TIMEOUT` (seconds, default 30; 0 = none): connecting, the response's
    /// headers, each read, and the low-speed window.
    pub timeout: u64,
    /// `CARGO_HTTP_LOW_SPEED_LIMIT` (bytes/s, default 10; 0 = none).
    pub low_speed_limit: u64,
}

impl Limits {
    pub(crate) fn from_env(env: &Env) -> Limits {
        let number = |key: &str, default: u64| {
            env.get(key).and_then(|v| v.trim().parse::<u64>().ok()).unwrap_or(default)
        };
        Limits {
            timeout: number("CARGO_HTTP_TIMEOUT", 30),
            low_speed_limit: number("CARGO_HTTP_LOW_SPEED_LIMIT", 10),
        }
    }

    fn timeout(&self) -> Option<Duration> {
        (self.timeout > 0).then(|| Duration::from_secs(self.timeout))
    }
}

/// Fails a body that stays below `limit` bytes/s for a whole `window` (curl's low-speed
/// check), and names ureq's own per-read timeout, so both end as "too slow".
struct LowSpeed<R> {
    inner: R,
    limit: u64,
    window: Option<Duration>,
    /// Start of the current window and the bytes received in it.
    since: Instant,
    received: u64,
    flag: TooSlowFlag,
}

impl<R: Read> LowSpeed<R> {
    fn new(inner: R, limits: Limits, flag: TooSlowFlag) -> LowSpeed<R> {
        let window = limits.timeout().filter(|_| limits.low_speed_limit > 0);
        LowSpeed { inner, limit: limits.low_speed_limit, window, since: Instant::now(), received: 0, flag }
    }
}

impl<R: Read> Read for LowSpeed<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = match self.inner.read(buf) {
            Ok(n) => n,
            Err(e) if is_ureq_timeout(&e) => {
                return Err(self.flag.set(format!("nothing arrived for {} s", self.window_secs())));
            }
            Err(e) => return Err(e),
        };
        let Some(window) = self.window else { return Ok(n) };
        if n == 0 {
            return Ok(0);
        }
        self.received += n as u64;
        // Enough for the whole window: the speed is fine so far; measure the next window.
        if self.received as f64 >= self.limit as f64 * window.as_secs_f64() {
            self.since = Instant::now();
            self.received = 0;
        } else if self.since.elapsed() >= window {
            return Err(self.flag.set(format!(
                "the transfer stayed below {} bytes/s for {} s",
                self.limit,
                window.as_secs()
            )));
        }
        Ok(n)
    }
}

impl<R> LowSpeed<R> {
    fn window_secs(&self) -> u64 {
        self.window.map_or(0, |w| w.as_secs())
    }
}

/// ureq reports a body read that timed out as `io::Error::other(ureq::Error::Timeout(_))`.
fn is_ureq_timeout(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::TimedOut
        || error
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<ureq::Error>())
            .is_some_and(|e| matches!(e, ureq::Error::Timeout(_)))
}

/// Why one attempt failed, and whether another attempt may help.
#[derive(Debug)]
pub(crate) enum AttemptError {
    /// 404/410 or a missing file: the asset does not exist there.
    NotFound(String),
    /// Worth retrying: 5xx, 408, 429, resets, short bodies.
    Transient(String),
    /// Worth retrying, as cargo does: no answer in time, or a body slower than the low-speed
    /// limit (the message says which and how long).
    TooSlow(String),
    /// Not worth retrying.
    Fatal(String),
}

impl AttemptError {
    pub(crate) fn io(error: &io::Error) -> AttemptError {
        AttemptError::Transient(describe_io(error))
    }
}

pub(crate) fn describe_io(error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::UnexpectedEof => "the connection closed before the whole file arrived".to_owned(),
        io::ErrorKind::ConnectionReset => "the connection was reset".to_owned(),
        _ => error.to_string(),
    }
}

/// The HTTP side: settings read once from the environment.
pub(crate) struct Http {
    env_proxy: ProxyEnv,
    pub(crate) limits: Limits,
    ca_bundle: Option<CaBundle>,
}

/// A PEM file of CA certificates trusted *instead of* the Mozilla roots compiled in: for a
/// mirror behind a private CA, or a proxy that re-signs TLS. Cargo's `CARGO_HTTP_CAINFO`, else
/// OpenSSL's `SSL_CERT_FILE` (which curl, git and pip honour too).
struct CaBundle {
    variable: &'static str,
    path: PathBuf,
    /// Read once, on the first HTTPS request.
    roots: std::sync::OnceLock<Result<ureq::tls::RootCerts, String>>,
}

impl CaBundle {
    fn from_env(env: &Env) -> Option<CaBundle> {
        let (variable, path) = ["CARGO_HTTP_CAINFO", "SSL_CERT_FILE"]
            .into_iter()
            .find_map(|variable| env.non_empty(variable).map(|path| (variable, path)))?;
        Some(CaBundle { variable, path: env.absolute(std::path::Path::new(path)), roots: Default::default() })
    }

    fn roots(&self) -> Result<ureq::tls::RootCerts, AttemptError> {
        let roots = self.roots.get_or_init(|| {
            let described = || format!("the CA bundle {} (from {})", self.path.display(), self.variable);
            let pem = std::fs::read(&self.path).map_err(|e| format!("cannot read {}: {e}", described()))?;
            let mut certificates = Vec::new();
            for item in ureq::tls::parse_pem(&pem) {
                match item {
                    Ok(ureq::tls::PemItem::Certificate(certificate)) => certificates.push(certificate),
                    Ok(_) => {} // keys and the like: not roots
                    Err(e) => return Err(format!("{} is not valid PEM: {e}", described())),
                }
            }
            if certificates.is_empty() {
                return Err(format!("{} holds no PEM certificate", described()));
            }
            Ok(ureq::tls::RootCerts::Specific(std::sync::Arc::new(certificates)))
        });
        roots.clone().map_err(AttemptError::Fatal)
    }
}

#[derive(Default)]
struct ProxyEnv {
    https: Option<String>,
    http: Option<String>,
    all: Option<String>,
    no_proxy: Option<String>,
}

impl Http {
    pub(crate) fn new(env: &Env) -> Http {
        let first = |keys: &[&str]| keys.iter().find_map(|k| env.non_empty(k)).map(str::to_owned);
        Http {
            env_proxy: ProxyEnv {
                https: first(&["HTTPS_PROXY", "https_proxy"]),
                http: first(&["HTTP_PROXY", "http_proxy"]),
                all: first(&["ALL_PROXY", "all_proxy"]),
                no_proxy: first(&["NO_PROXY", "no_proxy"]),
            },
            limits: Limits::from_env(env),
            ca_bundle: CaBundle::from_env(env),
        }
    }

    /// The proxy for `url`, as curl would choose it.
    pub(crate) fn proxy_for(&self, url: &str) -> Option<&str> {
        let host = host_of(url)?;
        if self.env_proxy.no_proxy.as_deref().is_some_and(|list| no_proxy_matches(list, &host)) {
            return None;
        }
        let scheme_proxy =
            if url.starts_with("https:") { &self.env_proxy.https } else { &self.env_proxy.http };
        scheme_proxy.as_deref().or(self.env_proxy.all.as_deref())
    }

    fn agent(&self, url: &str) -> Result<ureq::Agent, AttemptError> {
        let proxy = match self.proxy_for(url) {
            None => None,
            Some(value) => {
                let value = if value.contains("://") { value.to_owned() } else { format!("http://{value}") };
                Some(ureq::Proxy::new(&value).map_err(|e| {
                    AttemptError::Fatal(format!("the proxy {} is not usable: {e}", redact_userinfo(&value)))
                })?)
            }
        };
        let mut tls = ureq::tls::TlsConfig::builder();
        // Read only for HTTPS: a bad bundle must not break a plain-HTTP mirror.
        if let Some(bundle) = self.ca_bundle.as_ref().filter(|_| url.starts_with("https:")) {
            tls = tls.root_certs(bundle.roots()?);
        }
        let config = ureq::Agent::config_builder()
            .proxy(proxy)
            .tls_config(tls.build())
            .http_status_as_error(false)
            .user_agent(concat!("cargo-litestream/", env!("CARGO_PKG_VERSION")))
            // Connecting (after the name lookup, which gets its own budget), the response's
            // headers, and every read: each within cargo's timeout.
            .timeout_resolve(self.limits.timeout())
            .timeout_connect(self.limits.timeout())
            .timeout_recv_response(self.limits.timeout())
            .timeout_per_read(self.limits.timeout())
            .max_redirects(10)
            .build();
        Ok(ureq::Agent::new_with_config(config))
    }

    /// Opens `location` for reading (one attempt).
    pub(crate) fn open(&self, location: &Location, limit: u64) -> Result<Opened, AttemptError> {
        match location {
            Location::File(path) => {
                let file = File::open(path).map_err(|e| match e.kind() {
                    io::ErrorKind::NotFound => AttemptError::NotFound("no such file".to_owned()),
                    _ => AttemptError::Fatal(e.to_string()),
                })?;
                let length = file.metadata().ok().map(|m| m.len());
                Ok(Opened { reader: Box::new(file), length, too_slow: TooSlowFlag::default() })
            }
            Location::Http(url) => {
                let response = self.agent(url)?.get(url).call().map_err(|e| classify(e, self.limits))?;
                let status = response.status().as_u16();
                match status {
                    200 => {}
                    404 | 410 => return Err(AttemptError::NotFound(format!("HTTP {status}"))),
                    408 | 429 | 500..=599 => return Err(AttemptError::Transient(format!("HTTP {status}"))),
                    _ => return Err(AttemptError::Fatal(format!("HTTP {status}"))),
                }
                let body = response.into_body();
                let length = body.content_length();
                let reader = body.into_with_config().limit(limit).reader();
                let too_slow = TooSlowFlag::default();
                let reader = LowSpeed::new(reader, self.limits, too_slow.clone());
                Ok(Opened { reader: Box::new(reader), length, too_slow })
            }
        }
    }
}

const TLS_HINT: &str = " (a mirror or proxy with a private CA: point CARGO_HTTP_CAINFO at its PEM bundle)";

fn classify(error: ureq::Error, limits: Limits) -> AttemptError {
    match error {
        ureq::Error::Timeout(phase) => AttemptError::TooSlow(format!(
            "no {} within {} s",
            match phase {
                ureq::Timeout::Resolve => "answer to the host name lookup",
                ureq::Timeout::Connect => "connection",
                _ => "response",
            },
            limits.timeout
        )),
        ureq::Error::HostNotFound => AttemptError::Fatal("the host name did not resolve".to_owned()),
        ureq::Error::BadUri(uri) => AttemptError::Fatal(format!("bad URL {uri}")),
        ureq::Error::InvalidProxyUrl => AttemptError::Fatal("the proxy URL is not valid".to_owned()),
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) | ureq::Error::Pem(_) => {
            AttemptError::Fatal(format!("TLS failed: {error}{TLS_HINT}"))
        }
        ureq::Error::ConnectProxyFailed(why) => AttemptError::Transient(format!("the proxy refused: {why}")),
        // A certificate the roots do not vouch for fails the same way on every attempt.
        ureq::Error::Io(e) if e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()) => {
            AttemptError::Fatal(format!("TLS failed: {e}{TLS_HINT}"))
        }
        ureq::Error::Io(e) if e.kind() == io::ErrorKind::TimedOut => {
            AttemptError::TooSlow(format!("no response within {} s", limits.timeout))
        }
        ureq::Error::Io(e) => AttemptError::io(&e),
        other => AttemptError::Transient(other.to_string()),
    }
}

/// `user:secret@` never appears in a message.
fn redact_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let (authority, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
    match authority.rsplit_once('@') {
        Some((_, host)) => format!("{scheme}://<redacted>@{host}{path}"),
        None => url.to_owned(),
    }
}

/// The host of an http(s) URL, lower-cased, without user info, port or IPv6 brackets.
fn host_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        host_port.split(':').next()?
    };
    Some(host.to_ascii_lowercase())
}

/// curl's `NO_PROXY`: comma-separated; `*` matches all; `example.com` and `.example.com`
/// match the domain and its subdomains; entries may carry a port, which is ignored.
fn no_proxy_matches(list: &str, host: &str) -> bool {
    list.split(',').map(str::trim).filter(|e| !e.is_empty()).any(|entry| {
        if entry == "*" {
            return true;
        }
        let entry = entry.strip_prefix('[').map_or(entry, |e| e.split(']').next().unwrap_or(e));
        let entry =
            if entry.matches(':').count() == 1 { entry.split(':').next().unwrap_or(entry) } else { entry };
        let entry = entry.trim_start_matches('.').to_ascii_lowercase();
        host == entry || host.ends_with(&format!(".{entry}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirrors() {
        assert_eq!(
            Base::parse("M", "https://m.example/rel/").unwrap(),
            Base::Http("https://m.example/rel".into())
        );
        assert_eq!(
            Base::parse("M", "http://127.0.0.1:8080").unwrap(),
            Base::Http("http://127.0.0.1:8080".into())
        );
        if !cfg!(windows) {
            assert_eq!(
                Base::parse("M", "file:///srv/my%20mirror").unwrap(),
                Base::File("/srv/my mirror".into())
            );
            assert_eq!(Base::parse("M", "file://localhost/srv/m").unwrap(), Base::File("/srv/m".into()));
        }
        for bad in ["ftp://x", "file://relative/dir", "https://", "/srv/mirror"] {
            let error = Base::parse("MY_MIRROR", bad).unwrap_err().to_string();
            assert!(error.starts_with(&format!("MY_MIRROR=`{bad}`")), "{error}");
        }
        let base = Base::parse("M", "http://h/d").unwrap();
        let asset = base.locate("0.5.17", "litestream-0.5.17-linux-x86_64.tar.gz");
        assert_eq!(asset.url(), "http://h/d/v0.5.17/litestream-0.5.17-linux-x86_64.tar.gz");
        assert_eq!(asset.sibling("checksums.txt").url(), "http://h/d/v0.5.17/checksums.txt");
        // A password in the mirror's URL is sent, never shown.
        let secret = Base::parse("M", "http://ci:hunter2@h/d").unwrap().locate("0.5.17", "a.tar.gz");
        assert_eq!(secret, Location::Http("http://ci:hunter2@h/d/v0.5.17/a.tar.gz".to_owned()));
        assert_eq!(secret.url(), "http://<redacted>@h/d/v0.5.17/a.tar.gz");
        let error = Base::parse("M", "ftp://ci:hunter2@h/d").unwrap_err().to_string();
        assert!(error.contains("ftp://<redacted>@h/d") && !error.contains("hunter2"), "{error}");
    }

    #[test]
    fn the_publisher_unless_its_mirror_variable_is_set() {
        let publisher =
            Publisher { releases: "https://example.com/rel", mirror_var: "MY_MIRROR", pin_table: "[t]" };
        let base = Base::from_env(&Env::empty("/"), &publisher).unwrap();
        assert_eq!(base.locate("0.5.17", "a.tar.gz").url(), "https://example.com/rel/v0.5.17/a.tar.gz");
        let mirrored = Env::empty("/").with("MY_MIRROR", "http://m/d");
        let base = Base::from_env(&mirrored, &publisher).unwrap();
        assert_eq!(base.locate("0.5.17", "a.tar.gz").url(), "http://m/d/v0.5.17/a.tar.gz");
    }

    #[test]
    fn proxies_as_curl_picks_them() {
        let env = Env::empty("/")
            .with("HTTPS_PROXY", "http://proxy:3128")
            .with("http_proxy", "http://plain:3128")
            .with("NO_PROXY", "localhost, .internal.example,10.0.0.1:8080");
        let http = Http::new(&env);
        assert_eq!(http.proxy_for("https://github.com/x"), Some("http://proxy:3128"));
        assert_eq!(http.proxy_for("http://mirror.example/x"), Some("http://plain:3128"));
        assert_eq!(http.proxy_for("http://localhost:8000/x"), None);
        assert_eq!(http.proxy_for("https://a.internal.example/x"), None);
        assert_eq!(http.proxy_for("https://internal.example/x"), None);
        assert_eq!(http.proxy_for("https://notinternal.example/x"), Some("http://proxy:3128"));
        assert_eq!(http.proxy_for("http://10.0.0.1/x"), None);
        let all = Http::new(&Env::empty("/").with("ALL_PROXY", "socks5://s:1080").with("no_proxy", "*"));
        assert_eq!(all.proxy_for("https://github.com/x"), None);
        let all = Http::new(&Env::empty("/").with("ALL_PROXY", "socks5://s:1080"));
        assert_eq!(all.proxy_for("https://github.com/x"), Some("socks5://s:1080"));
    }

    #[test]
    fn limits_follow_cargo() {
        assert_eq!(Limits::from_env(&Env::empty("/")), Limits { timeout: 30, low_speed_limit: 10 });
        let env =
            Env::empty("/").with("CARGO_HTTP_TIMEOUT", " 5 ").with("CARGO_HTTP_LOW_SPEED_LIMIT", "1000");
        assert_eq!(Limits::from_env(&env), Limits { timeout: 5, low_speed_limit: 1000 });
        let env = Env::empty("/").with("CARGO_HTTP_TIMEOUT", "soon");
        assert_eq!(Limits::from_env(&env).timeout, 30);
        assert_eq!(Limits { timeout: 0, low_speed_limit: 10 }.timeout(), None);
    }

    /// Gives `chunk` bytes per call, sleeping `pause` before each.
    struct Trickle {
        chunk: usize,
        pause: Duration,
        left: usize,
    }

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            std::thread::sleep(self.pause);
            let n = self.chunk.min(self.left).min(buf.len());
            buf[..n].fill(b'x');
            self.left -= n;
            Ok(n)
        }
    }

    #[test]
    fn a_body_below_the_low_speed_limit_for_the_timeout_is_abandoned() {
        // 1 byte per 20 ms = 50 bytes/s, against a limit of 100 bytes/s over 1 s.
        let limits = Limits { timeout: 1, low_speed_limit: 100 };
        let flag = TooSlowFlag::default();
        let slow = Trickle { chunk: 1, pause: Duration::from_millis(20), left: 1000 };
        let error = io::copy(&mut LowSpeed::new(slow, limits, flag.clone()), &mut io::sink()).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert_eq!(flag.get().as_deref(), Some("the transfer stayed below 100 bytes/s for 1 s"));

        // Fast enough (10 bytes per 20 ms = 500 bytes/s), for longer than one window.
        let flag = TooSlowFlag::default();
        let fast = Trickle { chunk: 10, pause: Duration::from_millis(20), left: 800 };
        assert_eq!(io::copy(&mut LowSpeed::new(fast, limits, flag.clone()), &mut io::sink()).unwrap(), 800);
        assert_eq!(flag.get(), None);

        // CARGO_HTTP_LOW_SPEED_LIMIT=0: no check at all.
        let off = Limits { timeout: 1, low_speed_limit: 0 };
        let slow = Trickle { chunk: 1, pause: Duration::from_millis(20), left: 60 };
        assert_eq!(
            io::copy(&mut LowSpeed::new(slow, off, TooSlowFlag::default()), &mut io::sink()).unwrap(),
            60
        );
    }

    #[test]
    fn hosts() {
        assert_eq!(host_of("https://u:p@Example.COM:443/a").as_deref(), Some("example.com"));
        assert_eq!(host_of("http://[::1]:80/").as_deref(), Some("::1"));
        assert_eq!(redact_userinfo("http://user:pw@proxy:3128"), "http://<redacted>@proxy:3128");
        assert_eq!(redact_userinfo("http://proxy:3128"), "http://proxy:3128");
    }
}
