//! Signing in to the web UI with a password: `POST /api/session` (sets the
//! HttpOnly session cookie), `DELETE /api/session` (signs out), and the
//! admin's `PUT /api/agents/{id}/password`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::clock::now_ms;
use crate::core::{Agent, Failure};

use super::auth::{Admin, Principal, SESSION_COOKIE, session_cookie};
use super::body::JsonBody;
use super::client::client_ip;
use super::openapi::{ErrorBody, WriteErrors};
use super::{ApiError, AppState};

/// The sign-in form.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    /// The login email the admin set (or the agent id).
    login: String,
    /// The password.
    password: String,
}

/// A signed-in browser: who, and the token its page sends back in
/// `X-CSRF-Token` with every change.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SignedIn {
    /// `supervisor` or `agent`.
    #[schema(value_type = String)]
    role: &'static str,
    /// The agent.
    agent: Agent,
    /// For the `X-CSRF-Token` header.
    csrf: String,
}

/// `sb_session=…` with what keeps it to this site and out of scripts;
/// `Secure` when the host serves HTTPS itself.
fn cookie(state: &AppState, value: &str, max_age_s: u64) -> HeaderValue {
    let secure = if state.http.tls_cert.is_some() {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("sb_session=; Path=/; Max-Age=0"))
}

/// `POST /api/session` `{"login", "password"}`: signs in and sets the
/// session cookie. Wrong logins count against the client address like
/// wrong tokens (429 past the limit).
#[utoipa::path(operation_id = "session_sign_in", post, path = "/api/session", tag = "agents", request_body = SignIn, responses((status = 200, description = "Signed in; the `sb_session` cookie is set (HttpOnly, SameSite=Strict)", body = SignedIn), (status = 400, description = "Malformed body", body = ErrorBody), (status = 401, description = "Wrong login or password", body = ErrorBody), (status = 408, description = "The body did not arrive in time", body = ErrorBody), (status = 413, description = "The body is too large", body = ErrorBody), (status = 415, description = "Not `application/json`", body = ErrorBody), (status = 429, description = "Too many failed sign-ins from this address", body = ErrorBody)))]
pub async fn sign_in(
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let ip = client_ip(
        request.extensions(),
        request.headers(),
        &state.http.trusted_proxies,
    );
    let JsonBody(form) =
        <JsonBody<SignIn> as axum::extract::FromRequest<AppState>>::from_request(request, &state)
            .await?;
    let (token, session, agent) = match state.core.sign_in(&form.login, &form.password).await {
        Ok(signed_in) => signed_in,
        Err(e) if e.failure() == Failure::Unauthenticated => {
            // Password guessing is slowed per address, like token guessing.
            if let Some(retry_ms) = ip.and_then(|ip| state.auth_failures.hit(ip, now_ms())) {
                return Err(ApiError::too_many(
                    "too many failed sign-ins from this address; try again later",
                    retry_ms,
                ));
            }
            return Err(e.into());
        }
        Err(e) => return Err(e.into()),
    };
    let role = match agent.role {
        crate::core::Role::Supervisor => "supervisor",
        crate::core::Role::Agent => "agent",
    };
    let max_age = crate::accounts::SESSION_MS / 1000;
    let mut response = Json(SignedIn {
        role,
        agent,
        csrf: session.csrf,
    })
    .into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookie(&state, &token, max_age));
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `DELETE /api/session`: signs this browser out (the cookie is cleared and
/// its session ends at once).
#[utoipa::path(operation_id = "session_sign_out", delete, path = "/api/session", tag = "agents", responses((status = 204, description = "Signed out"), (status = 401, description = "Not signed in with a session", body = ErrorBody), (status = 403, description = "Missing X-CSRF-Token", body = ErrorBody)))]
pub async fn sign_out(
    _who: Principal,
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (parts, _) = request.into_parts();
    let Some(token) = session_cookie(&parts.headers) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "no_session",
            "this request is not signed in with a session cookie",
        ));
    };
    state.core.sign_out(token).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookie(&state, "", 0));
    Ok(response)
}

/// The password form.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    /// The email the agent signs in with.
    email: String,
    /// At least 10 characters.
    password: String,
}

/// `PUT /api/agents/{id}/password` (admin) `{"email", "password"}`: sets or
/// resets how the agent signs in to the web UI. Only an argon2id hash is
/// kept.
#[utoipa::path(operation_id = "agents_password", put, path = "/api/agents/{id}/password", tag = "agents", security(("bearer" = [])), params(("id" = String, Path, description = "The agent id")), request_body = PasswordBody, responses((status = 204, description = "Set"), WriteErrors))]
pub async fn set_password(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<PasswordBody>,
) -> Result<StatusCode, ApiError> {
    state
        .core
        .set_password(&id, &body.email, &body.password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
