//! What waits for plugins, for the admin: `/api/outbox` (replies and call
//! actions waiting for their channel) and `/api/crm` (customer events
//! waiting for CRM plugins), each with its dead letters;
//! `POST /api/crm/redrive` retries the CRM's.

use axum::Json;
use axum::extract::State;

use crate::core::{CrmEntry, OutboxEntry};

use super::auth::Admin;
use super::openapi::{ReadErrors, WriteErrors};
use super::{ApiError, AppState};

/// A queue as the admin sees it.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct QueueView<T> {
    /// Waiting, next first.
    pending: Vec<T>,
    /// Given up on; kept for the admin.
    dead_letters: Vec<T>,
}

/// What `POST /api/crm/redrive` answers.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Redriven {
    /// Dead letters put back into the queue.
    redriven: usize,
}

/// `GET /api/outbox` (admin): messages waiting for delivery and the
/// dead-lettered ones.
#[utoipa::path(operation_id = "queues_outbox", get, path = "/api/outbox", tag = "admin", security(("bearer" = [])), responses((status = 200, description = "Replies and call actions waiting, and dead letters", body = QueueView<Object>), ReadErrors))]
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
#[utoipa::path(operation_id = "queues_crm", get, path = "/api/crm", tag = "admin", security(("bearer" = [])), responses((status = 200, description = "CRM events waiting, and dead letters", body = QueueView<Object>), ReadErrors))]
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
#[utoipa::path(operation_id = "queues_crm_redrive", post, path = "/api/crm/redrive", tag = "admin", security(("bearer" = [])), responses((status = 200, description = "How many dead letters went back into the queue", body = Redriven), WriteErrors))]
pub async fn crm_redrive(
    _: Admin,
    State(state): State<AppState>,
) -> Result<Json<Redriven>, ApiError> {
    let redriven = state.core.redrive_crm().await?;
    Ok(Json(Redriven { redriven }))
}
