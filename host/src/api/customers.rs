//! `/api/customers/...`, plus the admin's audit log and merge suggestions.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};

use crate::core::{
    AuditEntry, AuditFilter, Consent, Customer, Erasure, Identity, MergeSuggestion, Message,
    SubjectExport,
};

use super::auth::{Admin, Principal};
use super::body::JsonBody;
use super::download::{json_or_csv, unix_ms, wants_csv};
use super::openapi::{ErrorBody, ReadErrors, WriteErrors};
use super::{ApiError, AppState};

/// A customer as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CustomerView {
    /// `cus_…`.
    id: String,
    /// The name providers gave.
    display_name: Option<String>,
    /// Identities proven by a provider or vouched for by a website.
    identities: Vec<Identity>,
    /// What the customer claimed to be without proof: "claims to be …,
    /// unverified".
    claims: Vec<Identity>,
    /// Attributes set by supervisors and CRM plugins (e.g. `tier`).
    attributes: BTreeMap<String, String>,
    /// Unix ms.
    created_at: u64,
    /// Unix ms.
    updated_at: u64,
    /// The agent who last handled the customer.
    last_agent: Option<String>,
    /// Consent per channel: `opted_out` after a STOP (nothing is sent
    /// there), `opted_in` after a START or the widget's consent.
    consent: BTreeMap<String, Consent>,
}

impl From<Customer> for CustomerView {
    fn from(c: Customer) -> Self {
        CustomerView {
            id: c.id,
            display_name: c.display_name,
            identities: c.identities,
            claims: c.claims,
            attributes: c.attributes,
            created_at: c.created_at,
            updated_at: c.updated_at,
            last_agent: c.last_agent,
            consent: c.consent,
        }
    }
}

/// `?identity=KIND:VALUE`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Lookup {
    /// `KIND:VALUE`: `email:a@b.c`, `phone:+16505551234`, `handle:webchat:abc`.
    #[param(pattern = "^(email|phone|handle):.+$")]
    identity: Option<String>,
    /// Or a search box's text (2 characters or more): part of a name, an
    /// email or a phone number.
    q: Option<String>,
}

/// `GET /api/customers?identity=email:a@b.c` or `?q=sheena` (supervisor;
/// an agent sees only customers of its own tasks — others are left out of
/// the answer; a search finds those of tasks it ever held).
#[utoipa::path(operation_id = "customers_lookup", get, path = "/api/customers", tag = "customers", security(("bearer" = [])), params(Lookup), responses((status = 200, description = "The customers holding that identity, or matching the search (an agent sees only its own)", body = Vec<CustomerView>), (status = 400, description = "Neither or both of `identity` and `q`, a malformed identity, or a search under 2 characters", body = ErrorBody), ReadErrors))]
pub async fn lookup(
    who: Principal,
    State(state): State<AppState>,
    Query(q): Query<Lookup>,
) -> Result<Json<Vec<CustomerView>>, ApiError> {
    let found = match (q.identity, q.q) {
        (Some(raw), None) => state
            .core
            .find_customers(&raw)?
            .into_iter()
            .filter(|c| can_see(&who, &state, &c.id))
            .collect(),
        // The search already keeps an agent to customers it served.
        (None, Some(text)) => state.core.search_customers(&text, who.agent_only())?,
        _ => {
            return Err(ApiError::bad_request(
                "give one of `identity=KIND:VALUE` and `q=<text>`",
            ));
        }
    };
    Ok(Json(found.into_iter().map(CustomerView::from).collect()))
}

fn can_see(who: &Principal, state: &AppState, customer: &str) -> bool {
    match who {
        Principal::Agent(agent) => state.core.agent_has_customer(agent, customer),
        _ => true,
    }
}

fn load(who: &Principal, state: &AppState, id: &str) -> Result<Customer, ApiError> {
    let Some(customer) = state.core.customer(id)? else {
        if state.core.customer_erased_at(id)?.is_some() && who.sees_all() {
            return Err(ApiError::new(
                axum::http::StatusCode::GONE,
                "gone",
                format!("customer {id} was erased"),
            ));
        }
        return Err(ApiError::not_found(format!("no customer {id}")));
    };
    // Someone else's customer looks like one that does not exist.
    if !can_see(who, state, &customer.id) {
        return Err(ApiError::not_found(format!("no customer {id}")));
    }
    Ok(customer)
}

/// `GET /api/customers/{id}`. The id of a merged profile answers with its
/// survivor.
#[utoipa::path(operation_id = "customers_show", get, path = "/api/customers/{id}", tag = "customers", security(("bearer" = [])), params(("id" = String, Path, description = "The customer id (a merged profile’s id answers with its survivor)")), responses((status = 200, description = "The customer", body = CustomerView), ReadErrors))]
pub async fn show(
    who: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<CustomerView>, ApiError> {
    Ok(Json(load(&who, &state, &id)?.into()))
}

/// `GET /api/customers/{id}/timeline`: every message across channels, in
/// time order.
#[utoipa::path(operation_id = "customers_timeline", get, path = "/api/customers/{id}/timeline", tag = "customers", security(("bearer" = [])), params(("id" = String, Path, description = "The customer id")), responses((status = 200, description = "Every message across channels, in time order", body = Vec<Message>), ReadErrors))]
pub async fn timeline(
    who: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<Message>>, ApiError> {
    let customer = load(&who, &state, &id)?;
    Ok(Json(state.core.timeline(&customer.id)?))
}

/// `GET /api/customers/{id}/export` (admin): everything held about the
/// customer, for a subject access request.
#[utoipa::path(operation_id = "customers_export", get, path = "/api/customers/{id}/export", tag = "customers", security(("bearer" = [])), params(("id" = String, Path, description = "The customer id")), responses((status = 200, description = "The profile, every conversation with its messages and notes, tasks, consent and audit entries", body = SubjectExport), ReadErrors))]
pub async fn export(
    _admin: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<SubjectExport>, ApiError> {
    Ok(Json(state.core.export_customer(&id)?))
}

/// `DELETE /api/customers/{id}` (admin): erases the customer — profile,
/// identities, conversations, messages, notes, files, queue entries and
/// merge records; her tasks keep only their counts; her id answers 410.
#[utoipa::path(operation_id = "customers_erase", delete, path = "/api/customers/{id}", tag = "customers", security(("bearer" = [])), params(("id" = String, Path, description = "The customer id")), responses((status = 200, description = "What was erased", body = Erasure), (status = 410, description = "Erased already", body = ErrorBody), WriteErrors))]
pub async fn erase(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    parts: axum::http::request::Parts,
) -> Result<Json<Erasure>, ApiError> {
    let address = super::client::client_ip(
        &parts.extensions,
        &parts.headers,
        &state.http.trusted_proxies,
    )
    .map(|ip| ip.to_string());
    Ok(Json(
        state.core.erase_customer(&id, "admin", address).await?,
    ))
}

/// `PATCH /api/customers/{id}/attributes` (admin, supervisor):
/// `{"tier": "vip"}` sets attributes, `{"tier": ""}` removes one.
#[utoipa::path(operation_id = "customers_set_attributes", patch, path = "/api/customers/{id}/attributes", tag = "customers", security(("bearer" = [])), params(("id" = String, Path, description = "The customer id")), request_body(content = BTreeMap<String, String>, description = "Attributes to set; an empty value removes one"), responses((status = 200, description = "The customer", body = CustomerView), WriteErrors))]
pub async fn set_attributes(
    who: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<BTreeMap<String, String>>,
) -> Result<Json<CustomerView>, ApiError> {
    who.require_supervisor()?;
    Ok(Json(state.core.set_attributes(&id, &body).await?.into()))
}

/// The merge body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeBody {
    /// The customer merged into this one.
    other: String,
}

/// `POST /api/customers/{id}/merge` (admin, supervisor): `other` is merged
/// into `id` — after a person checked that a claim or a suggestion is
/// right. The audit log names who merged.
#[utoipa::path(operation_id = "customers_merge", post, path = "/api/customers/{id}/merge", tag = "customers", security(("bearer" = [])), params(("id" = String, Path, description = "The surviving customer id")), request_body = MergeBody, responses((status = 200, description = "The merged customer", body = CustomerView), WriteErrors))]
pub async fn merge(
    who: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<MergeBody>,
) -> Result<Json<CustomerView>, ApiError> {
    who.require_supervisor()?;
    let actor = match who.agent_id() {
        Some(id) => format!("supervisor:{id}"),
        None => "admin".to_string(),
    };
    Ok(Json(
        state.core.merge(&id, &body.other, &actor).await?.into(),
    ))
}

/// `GET /api/audit` filters.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only entries by this actor (`admin`, `system`, an agent id).
    actor: Option<String>,
    /// Only entries naming this id (a customer, agent, task, plugin...).
    target: Option<String>,
    /// Only this action, or actions starting with it (e.g. `PUT /api/agents`).
    action: Option<String>,
    /// From this time on (unix ms).
    #[param(minimum = 0, maximum = 9_007_199_254_740_991_i64)]
    from: Option<i64>,
    /// Before this time (unix ms).
    #[param(minimum = 0, maximum = 9_007_199_254_740_991_i64)]
    to: Option<i64>,
    /// The page after this entry id (the last id of the previous page).
    after: Option<String>,
    /// At most this many (default and most 1000).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
    /// `csv` for a CSV file (as `Accept: text/csv` does).
    format: Option<String>,
}

/// `GET /api/audit` (admin): the audit trail, oldest first, filtered and
/// paged; as CSV with `Accept: text/csv` or `?format=csv`.
#[utoipa::path(operation_id = "customers_audit", get, path = "/api/audit", tag = "customers", security(("bearer" = [])), params(AuditQuery), responses((status = 200, description = "Audit entries, oldest first (JSON, or CSV with `Accept: text/csv`)", content((Vec<AuditEntry> = "application/json"), (String = "text/csv"))), (status = 400, description = "A filter out of range or malformed", body = ErrorBody), ReadErrors))]
pub async fn audit(
    _: Admin,
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Query(q): Query<AuditQuery>,
) -> Result<axum::response::Response, ApiError> {
    let limit = match q.limit {
        None => 1000,
        Some(n @ 1..=1000) => n as usize,
        Some(_) => return Err(ApiError::bad_request("`limit` must be 1-1000")),
    };
    let filter = AuditFilter {
        actor: q.actor,
        target: q.target,
        action: q.action,
        from: unix_ms(q.from, "from")?,
        to: unix_ms(q.to, "to")?,
        after: q.after,
        limit,
    };
    let entries = state.core.audit_log(&filter)?;
    let as_csv = wants_csv(q.format.as_deref(), &headers);
    json_or_csv(entries, as_csv, "audit.csv", audit_csv)
}

/// The entries as CSV, a header row first.
fn audit_csv(entries: &[AuditEntry]) -> Result<Vec<u8>, csv::Error> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record([
        "id", "at", "action", "actor", "role", "targets", "address", "status", "reason", "before",
        "after",
    ])?;
    let json =
        |v: &Option<serde_json::Value>| v.as_ref().map(|v| v.to_string()).unwrap_or_default();
    for e in entries {
        let reason = if e.reason.is_empty() && !e.merged.is_empty() {
            format!("merged {} into {}", e.merged, e.survivor)
        } else {
            e.reason.clone()
        };
        out.write_record([
            e.id.as_str(),
            &e.at.to_string(),
            &e.action,
            &e.actor,
            e.role.as_deref().unwrap_or(""),
            &e.targets.join(" "),
            e.address.as_deref().unwrap_or(""),
            &e.status.map(|s| s.to_string()).unwrap_or_default(),
            &reason,
            &json(&e.before),
            &json(&e.after),
        ])?;
    }
    out.into_inner().map_err(|e| e.into_error().into())
}

/// `GET /api/merge-suggestions` (admin, supervisor): pairs of profiles that
/// may be one person (policy `suggest`, a claim of someone else's identity,
/// an event that would have merged more than two).
#[utoipa::path(operation_id = "customers_suggestions", get, path = "/api/merge-suggestions", tag = "customers", security(("bearer" = [])), responses((status = 200, description = "Profiles that may be one person", body = Vec<MergeSuggestion>), ReadErrors))]
pub async fn suggestions(
    who: Principal,
    State(state): State<AppState>,
) -> Result<Json<Vec<MergeSuggestion>>, ApiError> {
    who.require_supervisor()?;
    Ok(Json(state.core.merge_suggestions()?))
}
