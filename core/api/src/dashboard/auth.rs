//! Who may see the page and restore from it.
//!
//! - A token (`Options::token`): every request presents it as `Authorization: Bearer TOKEN`,
//!   or once as `?token=TOKEN`, which answers with a redirect to the same page without it and
//!   an HttpOnly, SameSite=Strict session cookie (a random value of this process, not the
//!   token), so the token stays out of the address bar, the history and later requests.
//! - No token, on loopback: the `Host` must name a loopback host, or a page on some other
//!   site could resolve its own name to 127.0.0.1 and read this one (DNS rebinding).
//! - Every POST: the form token of the page (a random value of this process the page embeds),
//!   and, where the browser says where it comes from, the same origin.

use super::{Options, Request, Response};

/// The session cookie's name.
pub const COOKIE: &str = "cargo_litestream_dashboard";

/// 128 random bits as 32 hex digits.
pub fn random() -> std::io::Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(format!("no randomness: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Compares two secrets in time independent of where they differ.
pub fn same_secret(given: &str, expected: &str) -> bool {
    let (a, b) = (given.as_bytes(), expected.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether the request may be answered at all.
pub fn admit(request: &Request, options: &Options, session: &str) -> Result<(), Response> {
    let Some(token) = &options.token else {
        if options.loopback_hosts_only && !request.header("host").is_some_and(is_loopback_host) {
            return Err(Response::plain(
                403,
                format!(
                    "Host {:?} is not a loopback name: this dashboard serves 127.0.0.1 only (give it a --token to serve other names)",
                    request.header("host").unwrap_or("")
                ),
            ));
        }
        return Ok(());
    };
    if let Some(given) = request.query_param("token") {
        return if same_secret(&given, token) {
            Ok(())
        } else {
            Err(Response::plain(401, "bad token: the ?token= given is not this dashboard's"))
        };
    }
    if let Some(auth) = request.header("authorization") {
        let bearer = auth.strip_prefix("Bearer ").map(str::trim);
        return if bearer.is_some_and(|given| same_secret(given, token)) {
            Ok(())
        } else {
            Err(Response::plain(401, "bad token: the Authorization header does not carry this dashboard's"))
        };
    }
    if cookie(request, COOKIE).is_some_and(|value| same_secret(&value, session)) {
        return Ok(());
    }
    let mut refusal = Response::plain(
        401,
        "this dashboard needs its token: open it once with ?token=TOKEN, or send Authorization: Bearer TOKEN",
    );
    refusal.headers.push(("WWW-Authenticate", "Bearer".to_owned()));
    Err(refusal)
}

/// A `GET` with a valid `?token=` (see [`admit`]): the same page without it, and the cookie.
/// `path` is the request's path below [`Options::base_path`].
pub fn token_login(request: &Request, path: &str, options: &Options, session: &str) -> Option<Response> {
    options.token.as_ref()?;
    request.query_param("token")?;
    if request.method != "GET" && request.method != "HEAD" {
        return None;
    }
    let rest: Vec<&str> = request
        .query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty() && !pair.starts_with("token=") && *pair != "token")
        .collect();
    let mut location = format!("{}{path}", options.base_path);
    if path.is_empty() {
        location.push('/');
    }
    if !rest.is_empty() {
        location = format!("{location}?{}", rest.join("&"));
    }
    let mut response = Response::see_other(location);
    let path = if options.base_path.is_empty() { "/" } else { options.base_path.as_str() };
    response
        .headers
        .push(("Set-Cookie", format!("{COOKIE}={session}; Path={path}; HttpOnly; SameSite=Strict")));
    Some(response)
}

/// A POST that a browser says comes from another site is refused (the form token is the
/// defence that does not depend on the browser; this one costs nothing).
pub fn same_origin(request: &Request) -> Result<(), Response> {
    if let Some(site) = request.header("sec-fetch-site")
        && site != "same-origin"
        && site != "none"
    {
        return Err(Response::plain(403, format!("cross-site request refused (Sec-Fetch-Site: {site})")));
    }
    if let (Some(origin), Some(host)) = (request.header("origin"), request.header("host")) {
        let ours = [format!("http://{host}"), format!("https://{host}")];
        if !ours.iter().any(|o| o.eq_ignore_ascii_case(origin)) {
            return Err(Response::plain(403, format!("cross-origin request refused (Origin: {origin})")));
        }
    }
    Ok(())
}

/// The value of the cookie `name`.
fn cookie(request: &Request, name: &str) -> Option<String> {
    request
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("cookie"))
        .flat_map(|(_, v)| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(name)?.strip_prefix('=').map(str::to_owned))
}

/// `localhost`, `127.x.y.z`, `[::1]`, with or without a port.
pub fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}
