//! Outbound HTTP through `wasi:http/outgoing-handler`.
//!
//! Only hosts listed in the manifest's `outbound_http` (and granted by the
//! admin) are reachable; a request to any other host fails with
//! [`HttpError::denied`] set, and the host fails the whole plugin call.
//!
//! ```no_run
//! use switchboard_sdk::http::{self, Request};
//!
//! let response = http::send(
//!     Request::post("https://api.example.com/v1/notes")
//!         .bearer("token")
//!         .json(&serde_json::json!({"text": "hello"})),
//! )?;
//! if !response.is_success() { /* ... */ }
//! # Ok::<(), switchboard_sdk::http::HttpError>(())
//! ```

use base64::Engine as _;
use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
};
use wasip2::io::streams::StreamError;

/// Responses larger than this are cut off with an error.
const MAX_RESPONSE_BYTES: usize = 8 * 1024 * 1024;

/// An outgoing HTTP request.
#[derive(Debug, Clone)]
pub struct Request {
    /// Upper-case method.
    pub method: String,
    /// Absolute `http://` or `https://` URL.
    pub url: String,
    /// Headers to send.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
    /// Give up waiting for the first response byte after this long.
    pub timeout_ms: Option<u64>,
}

impl Request {
    /// A request with the given method and URL.
    pub fn new(method: &str, url: impl Into<String>) -> Self {
        Request {
            method: method.to_ascii_uppercase(),
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout_ms: None,
        }
    }
    /// A `GET` request.
    pub fn get(url: impl Into<String>) -> Self {
        Self::new("GET", url)
    }
    /// A `POST` request.
    pub fn post(url: impl Into<String>) -> Self {
        Self::new("POST", url)
    }
    /// A `PUT` request.
    pub fn put(url: impl Into<String>) -> Self {
        Self::new("PUT", url)
    }
    /// A `PATCH` request.
    pub fn patch(url: impl Into<String>) -> Self {
        Self::new("PATCH", url)
    }
    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
    /// Adds `Authorization: Bearer <token>`.
    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", format!("Bearer {token}"))
    }
    /// Adds HTTP basic authentication.
    pub fn basic_auth(self, user: &str, password: &str) -> Self {
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        self.header("authorization", format!("Basic {encoded}"))
    }
    /// Sets a JSON body and its content type.
    pub fn json<T: serde::Serialize>(mut self, value: &T) -> Self {
        self.body = serde_json::to_vec(value).unwrap_or_default();
        self.header("content-type", "application/json")
    }
    /// Sets a form-encoded body and its content type.
    pub fn form(mut self, pairs: &[(&str, &str)]) -> Self {
        self.body = serde_urlencoded::to_string(pairs)
            .unwrap_or_default()
            .into_bytes();
        self.header("content-type", "application/x-www-form-urlencoded")
    }
    /// Sets a `multipart/form-data` body of text `fields` and `files`
    /// (e.g. an email with attachments), and its content type.
    pub fn multipart(mut self, fields: &[(&str, &str)], files: &[FilePart<'_>]) -> Self {
        let boundary = format!(
            "switchboard-{}",
            crate::random_bytes(16)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        self.body = multipart_body(&boundary, fields, files);
        self.header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
    }
    /// Sets a raw body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }
    /// Sets the time to wait for the first response byte.
    pub fn timeout_ms(mut self, ms: u64) -> Self {
        self.timeout_ms = Some(ms);
        self
    }
}

/// A file in a [`Request::multipart`] body.
#[derive(Debug, Clone, Copy)]
pub struct FilePart<'a> {
    /// The form field, e.g. `attachment`.
    pub field: &'a str,
    /// The file name the receiver sees.
    pub filename: &'a str,
    /// Its MIME type.
    pub content_type: &'a str,
    /// The content.
    pub data: &'a [u8],
}

/// Quotes and line breaks would end a header parameter early.
fn header_param(value: &str) -> String {
    value
        .chars()
        .filter(|c| !matches!(c, '"' | '\r' | '\n' | '\\'))
        .collect()
}

fn multipart_body(boundary: &str, fields: &[(&str, &str)], files: &[FilePart<'_>]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"\r\n\r\n",
                header_param(name)
            )
            .as_bytes(),
        );
        body.extend_from_slice(value.as_bytes());
        body.extend_from_slice(b"\r\n");
    }
    for file in files {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\nContent-Type: {}\r\n\r\n",
                header_param(file.field),
                header_param(file.filename),
                header_param(file.content_type),
            )
            .as_bytes(),
        );
        body.extend_from_slice(file.data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    body
}

/// A response to an outgoing request.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Response headers; names are lower-case.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// The body parsed as JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, HttpError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| HttpError::new(format!("invalid JSON response: {e}")))
    }
    /// The body as (lossy) UTF-8 text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Why an outgoing request failed before a response arrived.
#[derive(Debug, Clone)]
pub struct HttpError {
    /// What went wrong.
    pub message: String,
    /// True when the host refused the destination (not granted).
    pub denied: bool,
}

impl HttpError {
    fn new(message: impl Into<String>) -> Self {
        HttpError {
            message: message.into(),
            denied: false,
        }
    }
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HttpError {}

impl From<HttpError> for crate::DeliveryError {
    /// Transport failures may be temporary; denials never go away.
    fn from(e: HttpError) -> Self {
        if e.denied {
            crate::DeliveryError::permanent(e.message)
        } else {
            crate::DeliveryError::retryable(e.message)
        }
    }
}

impl From<HttpError> for crate::PluginError {
    fn from(e: HttpError) -> Self {
        if e.denied {
            crate::PluginError::forbidden(e.message)
        } else {
            crate::PluginError::unavailable(e.message)
        }
    }
}

/// The parts of an absolute URL that `wasi:http` wants separately.
struct Target<'a> {
    https: bool,
    authority: &'a str,
    path_with_query: &'a str,
}

fn split_url(url: &str) -> Result<Target<'_>, HttpError> {
    let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else {
        return Err(HttpError::new(format!("not an http(s) URL: {url}")));
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    if authority.is_empty() {
        return Err(HttpError::new(format!("URL has no host: {url}")));
    }
    Ok(Target {
        https,
        authority,
        path_with_query: if path.is_empty() { "/" } else { path },
    })
}

fn method(name: &str) -> Method {
    match name {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "PATCH" => Method::Patch,
        "OPTIONS" => Method::Options,
        other => Method::Other(other.to_string()),
    }
}

fn describe(code: &ErrorCode) -> HttpError {
    match code {
        ErrorCode::HttpRequestDenied => HttpError {
            message: "the host denied this destination (not in the granted outbound_http list)"
                .into(),
            denied: true,
        },
        other => HttpError::new(format!("request failed: {other:?}")),
    }
}

/// Sends a request and waits for the whole response.
pub fn send(request: Request) -> Result<Response, HttpError> {
    let target = split_url(&request.url)?;
    let entries: Vec<(String, Vec<u8>)> = request
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.as_bytes().to_vec()))
        .collect();
    let headers = Fields::from_list(&entries)
        .map_err(|e| HttpError::new(format!("invalid request header: {e:?}")))?;
    let outgoing = OutgoingRequest::new(headers);
    let bad = |what: &str| HttpError::new(format!("invalid request {what}"));
    outgoing
        .set_method(&method(&request.method))
        .map_err(|_| bad("method"))?;
    let scheme = if target.https {
        Scheme::Https
    } else {
        Scheme::Http
    };
    outgoing
        .set_scheme(Some(&scheme))
        .map_err(|_| bad("scheme"))?;
    outgoing
        .set_authority(Some(target.authority))
        .map_err(|_| bad("host"))?;
    outgoing
        .set_path_with_query(Some(target.path_with_query))
        .map_err(|_| bad("path"))?;
    let body = outgoing.body().map_err(|_| bad("body"))?;

    let options = RequestOptions::new();
    if let Some(ms) = request.timeout_ms {
        let _ = options.set_first_byte_timeout(Some(ms * 1_000_000));
    }
    // Hand the request over before writing the body: the host streams the body
    // as it is written, so a large body never has to fit in its buffer.
    let pending = outgoing_handler::handle(outgoing, Some(options)).map_err(|e| describe(&e))?;
    write_body(body, &request.body);

    pending.subscribe().block();
    let response = match pending.get() {
        Some(Ok(Ok(response))) => response,
        Some(Ok(Err(code))) => return Err(describe(&code)),
        Some(Err(())) | None => return Err(HttpError::new("response future lost")),
    };
    let status = response.status();
    let headers = response
        .headers()
        .entries()
        .into_iter()
        .map(|(k, v)| {
            (
                k.to_ascii_lowercase(),
                String::from_utf8_lossy(&v).into_owned(),
            )
        })
        .collect();
    let incoming = response
        .consume()
        .map_err(|_| HttpError::new("response body unavailable"))?;
    let body = read_body(&incoming)?;
    drop(IncomingBody::finish(incoming));
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// Writes the request body; errors surface through the response future (a
/// denied or failed request closes the stream), so they are not reported here.
fn write_body(body: OutgoingBody, bytes: &[u8]) {
    if let Ok(stream) = body.write() {
        for chunk in bytes.chunks(4096) {
            if stream.blocking_write_and_flush(chunk).is_err() {
                break;
            }
        }
        drop(stream);
    }
    let _ = OutgoingBody::finish(body, None);
}

fn read_body(incoming: &IncomingBody) -> Result<Vec<u8>, HttpError> {
    let stream = incoming
        .stream()
        .map_err(|_| HttpError::new("response body unavailable"))?;
    let mut out = Vec::new();
    loop {
        match stream.blocking_read(64 * 1024) {
            Ok(chunk) => {
                out.extend_from_slice(&chunk);
                if out.len() > MAX_RESPONSE_BYTES {
                    return Err(HttpError::new("response body too large"));
                }
            }
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(e)) => {
                return Err(HttpError::new(format!(
                    "reading response failed: {}",
                    e.to_debug_string()
                )));
            }
        }
    }
    Ok(out)
}

/// Sends a provider API request on behalf of a channel's `deliver`:
/// transport failures come back retryable (a denied destination
/// permanent), and a non-2xx answer is classified by
/// [`DeliveryError::from_status`](crate::DeliveryError::from_status) (408,
/// 425, 429 and 5xx retryable, other statuses permanent).
pub fn deliver(request: Request) -> Result<Response, crate::DeliveryError> {
    let response = send(request)?;
    if !response.is_success() {
        return Err(crate::DeliveryError::from_status(
            response.status,
            &response.body,
        ));
    }
    Ok(response)
}

/// `GET url`.
pub fn get(url: &str) -> Result<Response, HttpError> {
    send(Request::get(url))
}

/// Sends a provider API request on behalf of a call that answers with a
/// [`PluginError`](crate::PluginError) (e.g. `fetch_media`): transport
/// failures are `unavailable` (a denied destination `forbidden`), and a
/// non-2xx answer becomes `not-found` (404, 410), `unavailable` (408, 425,
/// 429, 5xx), `forbidden` (401, 403) or `bad-request`.
pub fn fetch(request: Request) -> Result<Response, crate::PluginError> {
    checked(send(request)?)
}

/// A response that arrived, as [`fetch`] judges it: 2xx passes, anything
/// else becomes the [`PluginError`](crate::PluginError) `fetch` would give
/// (for callers that look at a redirect first).
pub fn checked(response: Response) -> Result<Response, crate::PluginError> {
    if response.is_success() {
        return Ok(response);
    }
    let message = format!("the provider answered {}", response.status);
    Err(match response.status {
        404 | 410 => crate::PluginError::new(crate::ErrorKind::NotFound, message),
        408 | 425 | 429 | 500..=599 => crate::PluginError::unavailable(message),
        401 | 403 => crate::PluginError::forbidden(message),
        _ => crate::PluginError::bad_request(message),
    })
}

/// The lower-case `host[:port]` of an absolute http(s) URL, for checking
/// where credentials may go before sending them.
pub fn authority(url: &str) -> Option<String> {
    let target = split_url(url).ok()?;
    // Userinfo would let `https://trusted@evil/` pass a naive check.
    (!target.authority.contains('@')).then(|| target.authority.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_wasi_parts() {
        let t = split_url("https://graph.facebook.com/v21.0/123/messages?x=1").unwrap();
        assert!(t.https);
        assert_eq!(t.authority, "graph.facebook.com");
        assert_eq!(t.path_with_query, "/v21.0/123/messages?x=1");
        let t = split_url("http://127.0.0.1:8081").unwrap();
        assert!(!t.https);
        assert_eq!(t.authority, "127.0.0.1:8081");
        assert_eq!(t.path_with_query, "/");
        assert!(split_url("ftp://x").is_err());
        assert!(split_url("http:///path").is_err());
    }

    #[test]
    fn multipart_bodies_carry_fields_and_files_and_no_header_injection() {
        let body = multipart_body(
            "b0",
            &[("to", "a@b.c"), ("subject", "Hi")],
            &[FilePart {
                field: "attachment",
                filename: "in\"voice\r\n.pdf",
                content_type: "application/pdf",
                data: b"%PDF",
            }],
        );
        let text = String::from_utf8(body).unwrap();
        assert!(
            text.starts_with(
                "--b0\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\na@b.c\r\n"
            )
        );
        assert!(text.contains("name=\"attachment\"; filename=\"invoice.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF\r\n"));
        assert!(text.ends_with("--b0--\r\n"));
    }

    #[test]
    fn authorities_are_compared_lower_case_and_userinfo_is_refused() {
        assert_eq!(
            authority("https://Graph.Facebook.com/v21.0/1").as_deref(),
            Some("graph.facebook.com")
        );
        assert_eq!(authority("https://graph.facebook.com@evil.example/x"), None);
        assert_eq!(authority("file:///etc/passwd"), None);
    }
}
