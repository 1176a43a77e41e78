//! Authentication and roles.
//!
//! Two ways in: a bearer token (API clients: the admin token configured or
//! generated at start, agents' and supervisors' from `PUT /api/agents/{id}`)
//! or the session cookie a browser got by signing in with a password
//! (`api/session.rs`). A cookie alone never authorizes a change: every
//! request but GET/HEAD/OPTIONS must also carry the session's
//! `X-CSRF-Token`, which another site's page cannot read. A missing or
//! unknown credential is 401; a valid one without the right role or
//! ownership is 403.

use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use sha2::{Digest, Sha256};

use crate::core::Role;

use super::client::client_ip;
use super::{ApiError, AppState};
use crate::clock::now_ms;

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The admin token: everything.
    Admin,
    /// A supervisor: reads everything, manages agents' status.
    Supervisor(String),
    /// An agent: its own tasks, their conversations and customers.
    Agent(String),
}

impl Principal {
    /// Admins and supervisors see everything.
    pub fn sees_all(&self) -> bool {
        matches!(self, Principal::Admin | Principal::Supervisor(_))
    }

    /// The agent id behind the token, if it is an agent's or supervisor's.
    pub fn agent_id(&self) -> Option<&str> {
        match self {
            Principal::Admin => None,
            Principal::Supervisor(id) | Principal::Agent(id) => Some(id),
        }
    }

    /// The agent id when the caller is a plain agent (whose view is limited
    /// to its own work); none for supervisors and the admin.
    pub fn agent_only(&self) -> Option<&str> {
        match self {
            Principal::Agent(id) => Some(id),
            _ => None,
        }
    }

    /// Who is acting, as task histories and notes name them: the agent or
    /// supervisor id, or `admin`.
    pub fn actor(&self) -> &str {
        self.agent_id().unwrap_or("admin")
    }

    /// As the routing core sees the caller.
    pub fn as_actor(&self) -> crate::core::Actor<'_> {
        crate::core::Actor {
            id: self.actor(),
            supervisor: self.sees_all(),
        }
    }

    /// 403 unless an admin or supervisor.
    pub fn require_supervisor(&self) -> Result<(), ApiError> {
        if self.sees_all() {
            Ok(())
        } else {
            Err(ApiError::forbidden("supervisors only"))
        }
    }

    /// 403 unless the agent `id` itself, a supervisor or the admin.
    pub fn require_self_or_supervisor(&self, id: &str) -> Result<(), ApiError> {
        if self.sees_all() || self.agent_id() == Some(id) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "an agent may act only for itself, not for agent {id}"
            )))
        }
    }

    /// 403 unless an agent or supervisor (the admin has no tasks).
    pub fn require_agent(&self) -> Result<&str, ApiError> {
        self.agent_id()
            .ok_or_else(|| ApiError::forbidden("only agents act on tasks; use an agent's token"))
    }
}

/// A request made with the admin token.
pub struct Admin;

/// The cookie a signed-in browser carries.
pub const SESSION_COOKIE: &str = "sb_session";

/// The CSRF token of the session a request came with (set by the
/// [`Principal`] extractor for cookie-authenticated requests).
#[derive(Debug, Clone)]
pub struct SessionCsrf(pub String);

/// The session token in a request's cookies, if any.
pub fn session_cookie(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|v| !v.is_empty())
}

/// Constant-time equality of two short secrets: compared through their
/// digests, as tokens are.
fn same_secret(given: &str, expected: &str) -> bool {
    token_matches(given, &Sha256::digest(expected.as_bytes()).into())
}

/// Who a session cookie belongs to; a change also needs the CSRF token.
fn from_session(parts: &mut Parts, state: &AppState, token: &str) -> Result<Principal, ApiError> {
    let Some((agent, session)) = state.core.session(token) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "session_ended",
            "the session has ended; sign in again",
        ));
    };
    if !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
        let given = parts
            .headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !same_secret(given, &session.csrf) {
            return Err(ApiError::forbidden(
                "a change made with a session cookie needs its X-CSRF-Token header",
            ));
        }
    }
    parts.extensions.insert(SessionCsrf(session.csrf));
    Ok(match agent.role {
        Role::Supervisor => Principal::Supervisor(agent.id),
        Role::Agent => Principal::Agent(agent.id),
    })
}

/// The bearer token of a request, if it carries one.
fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let header = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
        ApiError::unauthorized("missing bearer token (Authorization: Bearer <token>)")
    })?;
    let value = header
        .to_str()
        .map_err(|_| ApiError::unauthorized("malformed Authorization header"))?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::unauthorized("expected `Authorization: Bearer <token>`"))?;
    Ok(token)
}

/// Compares tokens through their digests, so the comparison's timing says
/// nothing about how much of the token was right.
pub(crate) fn token_matches(given: &str, expected_digest: &[u8; 32]) -> bool {
    let digest: [u8; 32] = Sha256::digest(given.as_bytes()).into();
    digest
        .iter()
        .zip(expected_digest)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

fn invalid_token() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::UNAUTHORIZED,
        "invalid_token",
        "the bearer token is not valid",
    )
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let who = identify(parts, state)?;
        // The audit trail learns who made the request.
        if let Some(slot) = parts.extensions.get::<super::audit_trail::AuditSlot>() {
            slot.set(&who);
        }
        Ok(who)
    }
}

/// Who the request's bearer token or session cookie belongs to.
fn identify(parts: &mut Parts, state: &AppState) -> Result<Principal, ApiError> {
    {
        if !parts.headers.contains_key(AUTHORIZATION)
            && let Some(token) = session_cookie(&parts.headers).map(str::to_string)
        {
            return from_session(parts, state, &token);
        }
        let token = bearer(parts)?;
        if token_matches(token, &state.admin_token_digest) {
            return Ok(Principal::Admin);
        }
        // Agent tokens are looked up by digest in a map.
        match state.core.agent_by_token(token) {
            Some(agent) => Ok(match agent.role {
                Role::Supervisor => Principal::Supervisor(agent.id),
                Role::Agent => Principal::Agent(agent.id),
            }),
            None => {
                // Guessing tokens is slowed per client address; valid
                // tokens from the same address are not.
                let ip = client_ip(
                    &parts.extensions,
                    &parts.headers,
                    &state.http.trusted_proxies,
                );
                match ip.and_then(|ip| state.auth_failures.hit(ip, now_ms())) {
                    Some(retry_ms) => Err(ApiError::too_many(
                        "too many failed sign-ins from this address; try again later",
                        retry_ms,
                    )),
                    None => Err(invalid_token()),
                }
            }
        }
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match Principal::from_request_parts(parts, state).await? {
            Principal::Admin => Ok(Admin),
            _ => Err(ApiError::forbidden("admin only")),
        }
    }
}
