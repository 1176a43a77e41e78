//! CORS: which browser pages may call the endpoints (see "CORS" in the
//! crate docs).

use switchboard_sdk::{HttpRequest, HttpResponse, PluginError, config};

const ALLOW_HEADERS: &str = "content-type, x-webchat-secret";
/// The methods the endpoints answer.
pub const ALLOW_METHODS: &str = "GET, POST, OPTIONS";

/// The CORS verdict for one request.
pub enum Cors {
    /// No `Origin` header: not a cross-origin browser request.
    None,
    /// An allowed origin, echoed back.
    Allow(String),
}

impl Cors {
    /// Allows a request without `Origin`, or from an allowed origin;
    /// refuses any other origin (403).
    pub fn check(request: &HttpRequest) -> Result<Cors, PluginError> {
        let Some(origin) = request.header("origin").map(str::trim) else {
            return Ok(Cors::None);
        };
        if origin_allowed(origin, request) {
            Ok(Cors::Allow(origin.to_string()))
        } else {
            Err(PluginError::forbidden(format!(
                "origin `{}` is not allowed to use web chat",
                origin.chars().take(200).collect::<String>()
            )))
        }
    }

    /// Adds the CORS headers for an allowed origin.
    pub fn apply(&self, mut response: HttpResponse) -> HttpResponse {
        response = response.header("vary", "origin");
        if let Cors::Allow(origin) = self {
            response = response
                .header("access-control-allow-origin", origin.clone())
                .header("access-control-allow-headers", ALLOW_HEADERS)
                .header("access-control-allow-methods", ALLOW_METHODS)
                .header("access-control-max-age", "600");
        }
        response
    }

    /// The allowed origin, if the request had one.
    pub fn origin(&self) -> Option<&str> {
        match self {
            Cors::None => None,
            Cors::Allow(o) => Some(o),
        }
    }
}

/// Whether a browser origin may call the endpoints: listed in
/// `allowed_origins` (or `*` is), or the host's own origin.
fn origin_allowed(origin: &str, request: &HttpRequest) -> bool {
    let listed = config::list("allowed_origins").iter().any(|allowed| {
        let allowed = allowed.trim().trim_end_matches('/');
        allowed == "*" || allowed.eq_ignore_ascii_case(origin)
    });
    listed || same_origin(origin, request)
}

/// Whether `origin` names the host the request was sent to (a page served
/// by the host itself, such as the demo page: browsers send `Origin` on
/// same-origin POSTs too).
fn same_origin(origin: &str, request: &HttpRequest) -> bool {
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    if !matches!(scheme, "http" | "https") || authority.is_empty() {
        return false;
    }
    // The host passes `X-Forwarded-Host` on only from a trusted reverse
    // proxy (`http.trusted_proxies`); from anyone else it never gets here.
    ["host", "x-forwarded-host"]
        .iter()
        .filter_map(|h| request.header(h))
        .filter_map(|v| v.split(',').next())
        .any(|host| host.trim().eq_ignore_ascii_case(authority))
}
