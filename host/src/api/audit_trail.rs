//! Every privileged request leaves an audit entry: what an admin or a
//! supervisor changed, and which customer's data they read — with the
//! principal, the ids in the path, the client's address and the answer's
//! status. Merges are audited by the core itself (with their reason).

use std::sync::{Arc, Mutex};

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;
use serde::Serialize;

use super::AppState;
use super::auth::Principal;
use super::client::client_ip;
use crate::clock::now_ms;
use crate::core::AuditEntry;

/// Where the [`Principal`] extractor leaves who made the request, for the
/// audit to read once the handler has answered.
#[derive(Clone, Default)]
pub struct AuditSlot(Arc<Mutex<Option<Principal>>>);

impl AuditSlot {
    /// Remembers the caller.
    pub fn set(&self, who: &Principal) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(who.clone());
    }

    fn take(&self) -> Option<Principal> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// What a request changed, as its handler saw it: carried on the response
/// for the audit entry's `before` and `after`.
#[derive(Clone, Debug)]
struct Change {
    before: serde_json::Value,
    after: serde_json::Value,
}

/// `response`, telling the audit that the request changed `before` into
/// `after` (each `null` when there was, or is, nothing).
pub fn changed(
    response: impl IntoResponse,
    before: &impl Serialize,
    after: &impl Serialize,
) -> Response {
    let mut response = response.into_response();
    response.extensions_mut().insert(Change {
        before: serde_json::to_value(before).unwrap_or_default(),
        after: serde_json::to_value(after).unwrap_or_default(),
    });
    response
}

/// Reads of a customer's data that supervisors and admins leave a trace of.
const AUDITED_READS: &[&str] = &[
    "/api/customers/{id}",
    "/api/customers/{id}/timeline",
    "/api/customers/{id}/export",
    "/api/conversations/{id}",
    "/api/messages/{id}/attachments/{index}",
];

/// Changes the core audits itself (with more to say).
const AUDITED_BY_CORE: &[(Method, &str)] = &[
    (Method::POST, "/api/customers/{id}/merge"),
    (Method::DELETE, "/api/customers/{id}"),
];

/// Whether `method` on route `route` is audited when an admin or a
/// supervisor makes it (known before the handler runs, so every other
/// request — every webhook — passes through untouched).
fn audited_route(method: &Method, route: &str) -> bool {
    if AUDITED_BY_CORE
        .iter()
        .any(|(m, r)| m == method && *r == route)
    {
        return false;
    }
    match *method {
        Method::GET | Method::HEAD => AUDITED_READS.contains(&route),
        Method::OPTIONS => false,
        _ => true,
    }
}

/// Whether `who`'s `method` on route `route` is audited.
fn audited(who: &Principal, method: &Method, route: &str) -> bool {
    who.sees_all() && audited_route(method, route)
}

fn role(who: &Principal) -> &'static str {
    match who {
        Principal::Admin => "admin",
        Principal::Supervisor(_) => "supervisor",
        Principal::Agent(_) => "agent",
    }
}

/// The values of the route's `{params}` in `path`.
fn targets(route: &str, path: &str) -> Vec<String> {
    route
        .split('/')
        .zip(path.split('/'))
        .filter(|(r, _)| r.starts_with('{'))
        .map(|(_, p)| percent_decode_str(p).decode_utf8_lossy().into_owned())
        .collect()
}

/// The middleware: lets the request through, then audits it.
pub async fn record(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .filter(|route| audited_route(&method, route));
    let Some(route) = route else {
        return next.run(request).await;
    };
    let path = request.uri().path().to_string();
    let address = client_ip(
        request.extensions(),
        request.headers(),
        &state.http.trusted_proxies,
    );
    let slot = AuditSlot::default();
    request.extensions_mut().insert(slot.clone());
    let mut response = next.run(request).await;
    let change = response.extensions_mut().remove::<Change>();
    if let Some(who) = slot.take()
        && audited(&who, &method, &route)
    {
        let mut entry = AuditEntry::new(
            format!("{method} {route}"),
            who.actor(),
            role(&who),
            now_ms(),
        );
        entry.targets = targets(&route, &path);
        entry.address = address.map(|a| a.to_string());
        entry.status = Some(response.status().as_u16());
        if let Some(change) = change {
            entry.before = Some(change.before);
            entry.after = Some(change.after);
        }
        if let Err(e) = state.core.audit(entry).await {
            tracing::error!(error = %e, %route, "could not write the audit entry");
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_params_are_the_targets() {
        assert_eq!(
            targets("/api/agents/{id}/token", "/api/agents/ana%20b/token"),
            ["ana b"]
        );
        assert_eq!(
            targets(
                "/api/messages/{id}/attachments/{index}",
                "/api/messages/m1/attachments/0"
            ),
            ["m1", "0"]
        );
    }

    #[test]
    fn writes_by_supervisors_and_reads_of_customers_are_audited() {
        let sue = Principal::Supervisor("sue".into());
        let ana = Principal::Agent("ana".into());
        assert!(audited(&sue, &Method::PUT, "/api/agents/{id}/status"));
        assert!(audited(
            &Principal::Admin,
            &Method::GET,
            "/api/customers/{id}"
        ));
        assert!(!audited(&sue, &Method::GET, "/api/queue"));
        assert!(!audited(&ana, &Method::POST, "/api/tasks/{id}/accept"));
        assert!(!audited(
            &Principal::Admin,
            &Method::POST,
            "/api/customers/{id}/merge"
        ));
    }
}
