//! The status page behind `cargo litestream dashboard`: every database of a project with its
//! replication state and lag, its restore points drawn as an SVG timeline, the last verify,
//! scrub and drill, and "restore to a copy" for a chosen point (never over the database).
//!
//! One implementation, [`Dashboard::handle`], over plain [`Request`] and [`Response`] structs:
//! [`serve`] puts it on the small blocking HTTP/1.1 server `metrics-addr` uses too (the CLI's), and with the
//! `dashboard-tower` feature `tower::DashboardService` makes it a tower `Service` an
//! application mounts behind its own authentication (the axum example does).
//!
//! A page load is one [`check::inspect_project`]: one replica listing per database, whose
//! files give both the check's figures and the timeline.
//!
//! Guards, in [`auth`]: with a token every request presents it (`Authorization: Bearer`, or
//! `?token=` once, which sets an HttpOnly session cookie); without one, the `Host` must be a
//! loopback name when [`Options::loopback_hosts_only`] (no DNS rebinding onto a local page);
//! every POST carries the page's form token and, when the browser sends them, a same-origin
//! `Origin` and `Sec-Fetch-Site`.

pub mod auth;
mod copy;
mod page;
mod timeline;
#[cfg(feature = "dashboard-tower")]
pub mod tower;

use std::collections::BTreeSet;
use std::time::Duration;

use cargo_litestream_config::{Env, Project};
use cargo_litestream_runner::Litestream;

use crate::backups::{self, RestorePoints};
use crate::check::{self, Report};
use crate::httpd::form_value;
pub use crate::httpd::{Request, Response};
use crate::json::parse_txid;
pub use copy::{CopyError, RestoredCopy, restore_copy};

/// The running page ([`serve`]); dropping it stops it.
pub type DashboardServer = crate::httpd::Server;

/// Serves `dashboard` on `listener` (see [`listen`]) until the returned server is dropped.
pub fn serve(
    dashboard: std::sync::Arc<Dashboard>,
    listener: std::net::TcpListener,
) -> std::io::Result<DashboardServer> {
    crate::httpd::serve(
        listener,
        "cargo-litestream dashboard",
        std::sync::Arc::new(move |request: &Request| dashboard.handle(request)),
    )
}

/// How a [`Dashboard`] guards itself.
#[derive(Clone, Default)]
pub struct Options {
    /// When set, every request must present it. `None` leaves authentication to whoever
    /// mounts the service, or to the loopback interface.
    pub token: Option<String>,
    /// Refuse requests whose `Host` is not a loopback name or address (what a page served on
    /// 127.0.0.1 without a token needs against DNS rebinding).
    pub loopback_hosts_only: bool,
    /// Where the page is mounted (`/litestream`), so its links and form point there; empty for
    /// the root.
    pub base_path: String,
    /// How long the control socket and a replica listed by litestream may take (default 5 s).
    pub timeout: Option<Duration>,
}

impl std::fmt::Debug for Options {
    /// The token as `Some("…")`: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("token", &self.token.as_ref().map(|_| "…"))
            .field("loopback_hosts_only", &self.loopback_hosts_only)
            .field("base_path", &self.base_path)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The status page of one project.
pub struct Dashboard {
    project: Project,
    env: Env,
    litestream: Litestream,
    options: Options,
    /// Per process, random: the cookie a token login sets, and the token every form carries.
    session: String,
    form_token: String,
    /// One restore at a time: each is a litestream process and a file, and two at once could
    /// pick the same new name.
    restoring: std::sync::Mutex<()>,
}

impl std::fmt::Debug for Dashboard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Dashboard({})", self.project.manifest_path.display())
    }
}

/// One database as the page shows it.
pub(crate) struct DatabaseView {
    pub report: Report,
    pub points: Result<Points, check::ReplicaListError>,
}

/// A replica's restore points, and which of them a snapshot ends at.
pub(crate) struct Points {
    pub points: RestorePoints,
    pub snapshots: BTreeSet<u64>,
    /// The newest file's time: where the timeline ends.
    pub newest_file: Option<jiff::Timestamp>,
}

impl Points {
    fn of(files: &[backups::ReplicaFile]) -> Points {
        Points {
            points: backups::restore_points(files),
            snapshots: files.iter().filter(|f| f.level == 9).map(|f| f.max_txid).collect(),
            newest_file: files.iter().map(|f| f.created).max(),
        }
    }
}

impl Dashboard {
    pub fn new(
        project: Project,
        env: Env,
        litestream: Litestream,
        options: Options,
    ) -> std::io::Result<Dashboard> {
        let mut options = options;
        options.base_path = options.base_path.trim_end_matches('/').to_owned();
        Ok(Dashboard {
            project,
            env,
            litestream,
            options,
            session: auth::random()?,
            form_token: auth::random()?,
            restoring: std::sync::Mutex::new(()),
        })
    }

    fn timeout(&self) -> Duration {
        self.options.timeout.unwrap_or(Duration::from_secs(5))
    }

    /// Answers one request. Never panics on what a client sends; refusals are 4xx with one
    /// plain line.
    pub fn handle(&self, request: &Request) -> Response {
        let base = &self.options.base_path;
        let path = match request.path.strip_prefix(base.as_str()) {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => rest,
            // Mounted by a framework that already removed the prefix.
            _ => request.path.as_str(),
        };
        if let Err(refusal) = auth::admit(request, &self.options, &self.session) {
            return refusal;
        }
        if let Some(login) = auth::token_login(request, path, &self.options, &self.session) {
            return login;
        }
        match (request.method.as_str(), path) {
            ("GET" | "HEAD", "" | "/") => self.page(request),
            ("POST", "/restore") => self.restore(request),
            (_, "" | "/" | "/restore") => {
                Response::plain(405, format!("{} is not accepted here", request.method))
            }
            _ => Response::plain(404, format!("not found: the status page is at {base}/")),
        }
    }

    fn page(&self, request: &Request) -> Response {
        let selected = match (request.query_param("db"), request.query_param("txid")) {
            (Some(db), Some(txid)) => match parse_txid(&txid) {
                Some(txid) => Some((db, txid)),
                None => {
                    return Response::plain(
                        400,
                        format!("txid {txid:?} is not a TXID (16 hexadecimal digits)"),
                    );
                }
            },
            _ => None,
        };
        let (inspections, now) =
            match check::inspect_project(&self.project, &self.env, Some(&self.litestream), self.timeout()) {
                Ok(found) => found,
                Err(error) => return Response::plain(500, format!("cannot check the project: {error}")),
            };
        let databases: Vec<DatabaseView> = inspections
            .into_iter()
            .map(|i| DatabaseView { points: i.files.map(|files| Points::of(&files)), report: i.report })
            .collect();
        let view = page::PageView {
            package: self.package(),
            base: &self.options.base_path,
            form_token: &self.form_token,
            now,
            databases: &databases,
            selected: selected.as_ref().map(|(db, txid)| (db.as_str(), *txid)),
        };
        Response::html(200, page::render(&view))
    }

    fn restore(&self, request: &Request) -> Response {
        if let Err(refusal) = auth::same_origin(request) {
            return refusal;
        }
        let field = |name: &str| form_value(&request.body, name);
        if !field("csrf").is_some_and(|t| auth::same_secret(&t, &self.form_token)) {
            return Response::plain(
                403,
                "the form token is missing or stale: reload the status page and try again",
            );
        }
        let Some(database) = field("db") else {
            return Response::plain(400, "the form names no database (db)");
        };
        let Some(text) = field("txid") else {
            return Response::plain(400, "the form names no restore point (txid)");
        };
        let Some(txid) = parse_txid(&text) else {
            return Response::plain(400, format!("txid {text:?} is not a TXID (16 hexadecimal digits)"));
        };
        let _one_at_a_time = self.restoring.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match restore_copy(&self.project, &self.env, &self.litestream, &database, txid) {
            Ok(copy) => {
                Response::html(200, page::render_copy(&self.package(), &self.options.base_path, &copy))
            }
            // The page is the only place the error is told: with its causes.
            Err(error) => Response::plain(error.status(), crate::replicate::plan::one_line(&error)),
        }
    }

    fn package(&self) -> String {
        self.project.state_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    }
}

/// Where `cargo litestream dashboard` listens unless told otherwise.
pub const DEFAULT_ADDR: &str = "127.0.0.1:9851";

/// Why the page cannot listen where it was asked to.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ListenError {
    #[error("invalid address {0:?}: expected HOST:PORT, :PORT or PORT (port 0 picks a free one)")]
    Invalid(String),
    #[error(
        "{0} is not a loopback address: the status page can restore from your backups, so it binds elsewhere only with a token (--token TOKEN or CARGO_LITESTREAM_DASHBOARD_TOKEN)"
    )]
    NeedsToken(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
}

/// A listener on `addr` (`HOST:PORT`, `:PORT`, `PORT`; the host 127.0.0.1 when not given),
/// refused before binding when it is not a loopback address and there is no token.
pub fn listen(addr: &str, has_token: bool) -> Result<std::net::TcpListener, ListenError> {
    use std::net::ToSocketAddrs as _;
    let normalized = crate::metrics::normalize(addr);
    let resolved: Vec<std::net::SocketAddr> =
        normalized.to_socket_addrs().map_err(|_| ListenError::Invalid(addr.to_owned()))?.collect();
    let Some(first) = resolved.first() else { return Err(ListenError::Invalid(addr.to_owned())) };
    if !has_token && !resolved.iter().all(|a| a.ip().is_loopback()) {
        return Err(ListenError::NeedsToken(normalized));
    }
    std::net::TcpListener::bind(first).map_err(|source| ListenError::Bind { addr: normalized, source })
}

#[cfg(test)]
mod tests;
