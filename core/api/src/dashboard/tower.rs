//! The status page as a tower [`Service`] (feature `dashboard-tower`), for an application to
//! mount behind its own authentication:
//!
//! ```ignore
//! let dashboard = Dashboard::new(project, env, litestream, Options {
//!     base_path: "/litestream".into(),
//!     ..Options::default()
//! })?;
//! let app = axum::Router::new().nest_service("/litestream", DashboardService::new(dashboard));
//! ```
//!
//! Each request is answered on tokio's blocking pool ([`Dashboard::handle`] lists replicas
//! and may restore), so the service needs a tokio runtime, as axum has. Bodies over 64 KiB
//! are refused.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http_body_util::BodyExt as _;
pub use tower_service::Service;

use super::{Dashboard, Request, Response};

const MAX_BODY: usize = 64 * 1024;

/// [`Dashboard::handle`] as a `Service<http::Request<B>>` answering `http::Response<String>`.
#[derive(Clone, Debug)]
pub struct DashboardService {
    dashboard: Arc<Dashboard>,
}

impl DashboardService {
    pub fn new(dashboard: Dashboard) -> DashboardService {
        DashboardService { dashboard: Arc::new(dashboard) }
    }
}

impl<B> Service<http::Request<B>> for DashboardService
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = http::Response<String>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let dashboard = self.dashboard.clone();
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let body = match http_body_util::Limited::new(body, MAX_BODY).collect().await {
                Ok(collected) => collected.to_bytes().to_vec(),
                Err(_) => {
                    return Ok(convert(Response::plain(413, "the request's body is over 64 KiB or broken")));
                }
            };
            let request = Request {
                method: parts.method.as_str().to_owned(),
                path: parts.uri.path().to_owned(),
                query: parts.uri.query().map(str::to_owned),
                headers: parts
                    .headers
                    .iter()
                    .map(|(name, value)| {
                        (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned())
                    })
                    .collect(),
                body,
            };
            let head = request.method == "HEAD";
            let response = match tokio::task::spawn_blocking(move || dashboard.handle(&request)).await {
                Ok(mut response) => {
                    if head {
                        response.body.clear();
                    }
                    response
                }
                Err(_) => Response::plain(500, "the status page failed while answering"),
            };
            Ok(convert(response))
        })
    }
}

fn convert(response: Response) -> http::Response<String> {
    let mut builder = http::Response::builder().status(response.status);
    for (name, value) in &response.headers {
        builder = builder.header(*name, value.as_str());
    }
    builder.body(response.body).unwrap_or_else(|_| {
        let mut fallback = http::Response::new("the status page built an invalid response\n".to_owned());
        *fallback.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
        fallback
    })
}
