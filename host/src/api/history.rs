//! `GET /api/history`: the event history — every change reports count,
//! in the order it happened — read page by page (supervisors and the
//! admin).

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;

use crate::core::HistoryEvent;

use super::auth::Principal;
use super::openapi::{ErrorBody, ReadErrors};
use super::{ApiError, AppState};

/// `GET /api/history` paging.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// The page after this event (the last `seq` of the previous page;
    /// 0 or absent: from the oldest kept).
    #[param(minimum = 0, maximum = 9_007_199_254_740_991_i64)]
    after: Option<i64>,
    /// At most this many (default and most 1000).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
}

/// `GET /api/history` (supervisor, admin): events in order, after `after`.
#[utoipa::path(operation_id = "history_read", get, path = "/api/history", tag = "work", security(("bearer" = [])), params(HistoryQuery), responses((status = 200, description = "Events in the order they happened", body = Vec<HistoryEvent>), (status = 400, description = "A paging parameter out of range", body = ErrorBody), ReadErrors))]
pub async fn read(
    who: Principal,
    State(state): State<AppState>,
    Query(q): Query<HistoryQuery>,
) -> Result<Json<Vec<HistoryEvent>>, ApiError> {
    who.require_supervisor()?;
    let after = match q.after {
        None => 0,
        Some(n @ 0..=9_007_199_254_740_991) => n as u64,
        Some(_) => return Err(ApiError::bad_request("`after` must be 0 to 2^53-1")),
    };
    let limit = match q.limit {
        None => 1000,
        Some(n @ 1..=1000) => n as usize,
        Some(_) => return Err(ApiError::bad_request("`limit` must be 1-1000")),
    };
    Ok(Json(state.core.event_history(after, limit)?))
}
