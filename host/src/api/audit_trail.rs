//! Every privileged request leaves an audit entry: what an admin or a
//! supervisor changed, and which customer's data they read — with the
//! principal, the ids in the path, the client's address and the answer's
//! status. Merges are audited by the core itself (with their reason).

use std::sync::{Arc, Mutex};

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;

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

/// Whether `who`'s `method` on route `route` is audited.
fn audited(who: &Principal, method: &Method, route: &str) -> bool {
    if !who.sees_all()
        || AUDITED_BY_CORE
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
        .map(|(_, p)| percent_decode(p))
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = text.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The middleware: lets the request through, then audits it.
pub async fn record(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string());
    let path = request.uri().path().to_string();
    let address = client_ip(
        request.extensions(),
        request.headers(),
        &state.http.trusted_proxies,
    );
    let slot = AuditSlot::default();
    request.extensions_mut().insert(slot.clone());
    let response = next.run(request).await;
    if let (Some(who), Some(route)) = (slot.take(), route)
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
