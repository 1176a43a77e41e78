//! The web UI: static files from `host/ui/`, embedded at build time and
//! served at `/` (the page) and `/ui/<file>` (its scripts and styles). The
//! page signs in with a bearer token and talks to the same JSON API as
//! everyone else; nothing here needs authentication.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

mod files {
    include!(concat!(env!("OUT_DIR"), "/ui.rs"));
}

use super::ApiError;
use super::openapi::ErrorBody;

/// Only scripts, styles and connections of this origin: the UI loads
/// nothing from anywhere else. `blob:` pictures are customers' photos the
/// page downloaded itself, signed in.
const CSP: &str = "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; \
                   frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

fn serve(name: &str) -> Result<Response, ApiError> {
    let (_, content_type, bytes) = files::FILES
        .iter()
        .find(|(n, _, _)| *n == name)
        .ok_or_else(|| ApiError::not_found(format!("no UI file `{name}`")))?;
    let mut response = (StatusCode::OK, *bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Small files, and a new build must show at once.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    Ok(response)
}

/// `GET /`: the page.
#[utoipa::path(operation_id = "ui_index", get, path = "/", tag = "host", responses((status = 200, description = "The web UI", content_type = "text/html", body = String)))]
pub async fn index() -> Result<Response, ApiError> {
    serve("index.html")
}

/// `GET /ui/{file}`: a script, style sheet or image of the page.
#[utoipa::path(operation_id = "ui_asset", get, path = "/ui/{file}", tag = "host", params(("file" = String, Path, description = "A file of the web UI")), responses((status = 200, description = "The file", content_type = "*/*", body = String), (status = 404, description = "No such file", body = ErrorBody)))]
pub async fn asset(Path(file): Path<String>) -> Result<Response, ApiError> {
    serve(&file)
}
