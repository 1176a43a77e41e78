//! `/api/feeds` (admin): the event feed's outbound webhooks — add one (its
//! secret is shown once), list them with how delivery is going, read and
//! redrive their dead letters, delete one.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::core::{CreatedFeed, FeedInput, FeedView, HistoryEvent};

use super::audit_trail::changed;
use super::auth::Admin;
use super::body::JsonBody;
use super::openapi::{ReadErrors, WriteErrors};
use super::{ApiError, AppState};

/// `POST /api/feeds` (admin): starts delivering the history's events to a
/// URL, from the next event unless `after` says otherwise. The answer has
/// the signing secret, shown this once.
#[utoipa::path(operation_id = "feeds_create", post, path = "/api/feeds", tag = "admin", security(("bearer" = [])), request_body = FeedInput, responses((status = 201, description = "The feed and its secret", body = CreatedFeed), WriteErrors))]
pub async fn create(
    _: Admin,
    State(state): State<AppState>,
    JsonBody(input): JsonBody<FeedInput>,
) -> Result<Response, ApiError> {
    let created = state.core.create_feed(input).await?;
    let after = created.feed.clone();
    Ok(changed(
        (StatusCode::CREATED, Json(created)),
        &None::<FeedView>,
        &after,
    ))
}

/// `GET /api/feeds` (admin).
#[utoipa::path(operation_id = "feeds_list", get, path = "/api/feeds", tag = "admin", security(("bearer" = [])), responses((status = 200, description = "Every feed and how its delivery is going", body = Vec<FeedView>), ReadErrors))]
pub async fn list(
    _: Admin,
    State(state): State<AppState>,
) -> Result<Json<Vec<FeedView>>, ApiError> {
    Ok(Json(state.core.feeds()?))
}

/// `GET /api/feeds/{id}` (admin).
#[utoipa::path(operation_id = "feeds_show", get, path = "/api/feeds/{id}", tag = "admin", security(("bearer" = [])), params(("id" = String, Path, description = "The feed")), responses((status = 200, description = "The feed", body = FeedView), ReadErrors))]
pub async fn show(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<FeedView>, ApiError> {
    Ok(Json(state.core.feed(&id)?))
}

/// `DELETE /api/feeds/{id}` (admin): stops it and drops its dead letters.
#[utoipa::path(operation_id = "feeds_delete", delete, path = "/api/feeds/{id}", tag = "admin", security(("bearer" = [])), params(("id" = String, Path, description = "The feed")), responses((status = 200, description = "The feed as it was", body = FeedView), WriteErrors))]
pub async fn delete(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let before = state.core.delete_feed(&id).await?;
    Ok(changed(Json(before.clone()), &before, &None::<FeedView>))
}

/// `GET /api/feeds/{id}/dead-letters` (admin): the events it gave up on.
#[utoipa::path(operation_id = "feeds_dead_letters", get, path = "/api/feeds/{id}/dead-letters", tag = "admin", security(("bearer" = [])), params(("id" = String, Path, description = "The feed")), responses((status = 200, description = "Events given up on, oldest first", body = Vec<HistoryEvent>), ReadErrors))]
pub async fn dead_letters(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<HistoryEvent>>, ApiError> {
    Ok(Json(state.core.feed_dead_letters(&id)?))
}

/// `POST /api/feeds/{id}/redrive`'s answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Redriven {
    /// Dead letters sent again (before newer events).
    pub redriven: usize,
}

/// `POST /api/feeds/{id}/redrive` (admin): sends its dead letters again,
/// in order, before newer events.
#[utoipa::path(operation_id = "feeds_redrive", post, path = "/api/feeds/{id}/redrive", tag = "admin", security(("bearer" = [])), params(("id" = String, Path, description = "The feed")), responses((status = 200, description = "How many were sent again", body = Redriven), WriteErrors))]
pub async fn redrive(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let redriven = state.core.redrive_feed(&id).await?;
    Ok(Json(Redriven { redriven }).into_response())
}
