//! What waits for plugins, for the admin: `/api/outbox` (replies and call
//! actions waiting for their channel) and `/api/crm` (customer events
//! waiting for CRM plugins), each with its dead letters;
//! `POST /api/crm/redrive` retries the CRM's.

use axum::Json;
use axum::extract::State;

use crate::core::{CrmEntry, OutboxEntry};

use super::auth::Admin;
use super::{ApiError, AppState};

/// A queue as the admin sees it.
#[derive(serde::Serialize)]
pub struct QueueView<T> {
    pending: Vec<T>,
    dead_letters: Vec<T>,
}

/// `GET /api/outbox` (admin): messages waiting for delivery and the
/// dead-lettered ones.
pub async fn outbox(
    _: Admin,
    State(state): State<AppState>,
) -> Result<Json<QueueView<OutboxEntry>>, ApiError> {
    let (pending, dead_letters) = state.core.outbox()?;
    Ok(Json(QueueView {
        pending,
        dead_letters,
    }))
}

/// `GET /api/crm` (admin): customer events waiting for CRM plugins, and the
/// dead-lettered ones.
pub async fn crm(
    _: Admin,
    State(state): State<AppState>,
) -> Result<Json<QueueView<CrmEntry>>, ApiError> {
    let (pending, dead_letters) = state.core.crm_events()?;
    Ok(Json(QueueView {
        pending,
        dead_letters,
    }))
}

/// `POST /api/crm/redrive` (admin): every dead-lettered event back into the
/// queue with fresh tries.
pub async fn crm_redrive(
    _: Admin,
    State(state): State<AppState>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let n = state.core.redrive_crm().await?;
    Ok(Json(serde_json::json!({ "redriven": n })))
}
