//! Bearer-token authentication.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};

use super::{ApiError, AppState};

/// A request made with the admin token.
pub struct Admin;

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

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)?;
        if token_matches(token, &state.admin_token_digest) {
            Ok(Admin)
        } else {
            Err(ApiError::new(
                axum::http::StatusCode::UNAUTHORIZED,
                "invalid_token",
                "the bearer token is not valid",
            ))
        }
    }
}
