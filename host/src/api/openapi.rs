//! `GET /api/openapi.json`: the API described as OpenAPI 3.1, generated from
//! the handlers' `#[utoipa::path]` annotations and the types they take and
//! answer with — so the document cannot drift from the code without a
//! compile error or a failing test.

use std::sync::OnceLock;

use axum::Json;
use axum::response::IntoResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use super::{
    agents, automations, canned, conversations, customers, feeds, floor, history, hours, media,
    metrics, plugins, queues, reports, retention, session, tasks, ui, webhooks,
};

/// Every error: `{"error": {"code": "...", "message": "..."}}`.
#[derive(ToSchema)]
#[allow(dead_code)] // describes ApiError's JSON; never built
pub struct ErrorBody {
    error: ErrorDetail,
}

/// What went wrong.
#[derive(ToSchema)]
#[allow(dead_code)] // describes ApiError's JSON; never built
pub struct ErrorDetail {
    /// Stable and machine-readable: `bad_request`, `invalid_token`,
    /// `unauthorized`, `forbidden`, `not_found`, `conflict`,
    /// `payload_too_large`, `unsupported_media_type`, `request_timeout`,
    /// `too_many_requests`, …
    code: String,
    /// For people.
    message: String,
}

/// The errors of a read.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // describes responses; never built
pub enum ReadErrors {
    /// No bearer token, or not a valid one.
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// The token's role may not do this.
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// No such record — or, for an agent, not one of its own.
    #[response(status = 404)]
    NotFound(ErrorBody),
    /// Too many failed sign-ins from this address; see `Retry-After`.
    #[response(status = 429)]
    TooMany(ErrorBody),
}

/// The errors of a change.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // describes responses; never built
pub enum WriteErrors {
    /// Malformed: not JSON, or not the shape described.
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// No bearer token, or not a valid one.
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// The token's role may not do this.
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// No such record — or, for an agent, not one of its own.
    #[response(status = 404)]
    NotFound(ErrorBody),
    /// The body did not arrive in time (`http.body_timeout_ms`).
    #[response(status = 408)]
    Timeout(ErrorBody),
    /// The record is not in a state that allows this.
    #[response(status = 409)]
    Conflict(ErrorBody),
    /// The body is over the limit.
    #[response(status = 413)]
    TooLarge(ErrorBody),
    /// Not `Content-Type: application/json`.
    #[response(status = 415)]
    NotJson(ErrorBody),
    /// Well-formed but not acceptable (e.g. a value out of range).
    #[response(status = 422)]
    Unprocessable(ErrorBody),
    /// Too many failed sign-ins from this address; see `Retry-After`.
    #[response(status = 429)]
    TooMany(ErrorBody),
}

/// The bearer token scheme every `/api` endpoint uses.
struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The admin token, or an agent's or supervisor's token \
                         (`PUT /api/agents/{id}` gives it).",
                    ))
                    .build(),
            ),
        );
    }
}

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Switchboard",
        description = "The HTTP API of a Switchboard contact-center host: agents and their \
                       work, the queue, conversations, customers, plugins, and provider \
                       webhooks. Errors are always `{\"error\": {\"code\", \"message\"}}`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    modifiers(&BearerToken),
    paths(
        healthz,
        openapi_json,
        ui::index,
        ui::asset,
        agents::me,
        agents::put,
        agents::list,
        agents::show,
        agents::status,
        agents::tasks,
        agents::rotate_token,
        agents::deactivate,
        tasks::task,
        tasks::accept,
        tasks::reject,
        tasks::complete,
        tasks::transfer,
        floor::queue,
        floor::stats,
        floor::history,
        conversations::show,
        conversations::reply,
        conversations::list,
        conversations::start,
        conversations::channels,
        conversations::add_note,
        conversations::notes,
        conversations::labels,
        media::attachment,
        session::sign_in,
        session::sign_out,
        session::set_password,
        media::upload,
        media::linked,
        canned::list,
        canned::create,
        canned::update,
        canned::delete,
        customers::lookup,
        customers::show,
        customers::export,
        customers::erase,
        customers::timeline,
        customers::set_attributes,
        customers::merge,
        customers::audit,
        customers::suggestions,
        queues::outbox,
        queues::crm,
        queues::crm_redrive,
        retention::status,
        retention::run,
        history::read,
        feeds::create,
        feeds::list,
        feeds::show,
        feeds::delete,
        feeds::dead_letters,
        feeds::redrive,
        reports::read,
        automations::queue,
        automations::run,
        hours::status,
        hours::set_override,
        hours::lift_override,
        plugins::list,
        plugins::show,
        plugins::upload,
        plugins::reload,
        plugins::enable,
        plugins::disable,
        plugins::runtime,
        super::events::stream,
        webhooks::handle,
        webhooks::handle_subpath,
        metrics::scrape,
    ),
    tags(
        (name = "agents", description = "Agents, their status and tokens"),
        (name = "work", description = "Tasks and the queue"),
        (name = "conversations", description = "Conversations and replies"),
        (name = "customers", description = "Customer profiles, timelines, merges"),
        (name = "admin", description = "Plugins and delivery queues"),
        (name = "providers", description = "Webhooks handed to channel plugins"),
        (name = "host", description = "Health, metrics, this document, the web UI"),
    ),
)]
pub struct ApiDoc;

/// The document, built once.
pub fn document() -> &'static utoipa::openapi::OpenApi {
    static DOCUMENT: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut doc = ApiDoc::openapi();
        doc.info.version = env!("CARGO_PKG_VERSION").to_string();
        // One handler serving several methods (the webhooks) would give
        // them one operation id; ids must be unique.
        for item in doc.paths.paths.values_mut() {
            let operations = [
                ("get", &mut item.get),
                ("put", &mut item.put),
                ("post", &mut item.post),
                ("delete", &mut item.delete),
                ("patch", &mut item.patch),
            ];
            let several = operations.iter().filter(|(_, o)| o.is_some()).count() > 1;
            for (method, operation) in operations {
                if let Some(operation) = operation
                    && several
                    && let Some(id) = &mut operation.operation_id
                    && id.starts_with("webhooks_")
                {
                    id.push('_');
                    id.push_str(method);
                }
            }
        }
        doc
    })
}

/// `GET /api/openapi.json`: this document.
#[utoipa::path(operation_id = "openapi_json", 
    get,
    path = "/api/openapi.json",
    tag = "host",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object)),
)]
pub async fn openapi_json() -> impl IntoResponse {
    Json(document())
}

/// `GET /healthz`: the host is up.
#[utoipa::path(operation_id = "healthz", 
    get,
    path = "/healthz",
    tag = "host",
    responses((status = 200, description = "Up", body = Health)),
)]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// What `/healthz` answers.
#[derive(serde::Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    #[schema(value_type = String, example = "ok")]
    status: &'static str,
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashSet};

    use serde_json::Value;

    use super::*;

    /// The document as JSON.
    fn json() -> Value {
        serde_json::to_value(document()).unwrap()
    }

    /// `(method, path)` of every route `app()` registers, read from its
    /// source: a route added without a `#[utoipa::path]` fails here.
    fn routes() -> BTreeSet<(String, String)> {
        let source = include_str!("mod.rs");
        let app = &source[source.find("pub fn app(").unwrap()..];
        let app = &app[..app.find(".fallback(").unwrap()];
        let mut routes = BTreeSet::new();
        for chunk in app.split(".route(").skip(1) {
            let path = chunk.split('"').nth(1).unwrap().replace("{*", "{");
            for method in ["get", "put", "post", "delete", "patch"] {
                if chunk.contains(&format!("{method}(")) || chunk.contains("any(") {
                    routes.insert((method.to_string(), path.clone()));
                }
            }
        }
        routes
    }

    #[test]
    fn every_route_is_described() {
        let doc = json();
        let mut described = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                if method != "parameters" {
                    described.insert((method.clone(), path.clone()));
                }
            }
        }
        let routes = routes();
        assert!(routes.len() > 40, "{routes:?}");
        let missing: Vec<_> = routes.difference(&described).collect();
        assert!(
            missing.is_empty(),
            "routes without a description: {missing:?}"
        );
        let extra: Vec<_> = described.difference(&routes).collect();
        assert!(extra.is_empty(), "described but not routed: {extra:?}");
    }

    #[test]
    fn the_document_is_openapi_3_1_with_unique_ids_and_resolvable_refs() {
        let doc = json();
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
        let mut ids = HashSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                // A path parameter must be in the path (a query struct left
                // at utoipa's default location lands here otherwise).
                for param in operation["parameters"].as_array().into_iter().flatten() {
                    if param["in"] == "path" {
                        let name = param["name"].as_str().unwrap_or_default();
                        assert!(
                            path.contains(&format!("{{{name}}}")),
                            "{method} {path}: path parameter `{name}` is not in the path"
                        );
                    }
                }
                let id = operation["operationId"].as_str().unwrap_or_default();
                assert!(!id.is_empty(), "{method}: no operationId");
                assert!(ids.insert(id.to_string()), "operationId {id} twice");
                assert!(
                    operation["responses"]
                        .as_object()
                        .is_some_and(|r| !r.is_empty()),
                    "{id}: no responses"
                );
            }
        }
        // Every `$ref` names a schema that is there.
        fn refs(value: &Value, out: &mut Vec<String>) {
            match value {
                Value::Object(map) => {
                    if let Some(Value::String(r)) = map.get("$ref") {
                        out.push(r.clone());
                    }
                    map.values().for_each(|v| refs(v, out));
                }
                Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
                _ => {}
            }
        }
        let mut all = Vec::new();
        refs(&doc, &mut all);
        assert!(!all.is_empty());
        for r in all {
            let name = r
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("unexpected $ref {r}"));
            assert!(
                doc["components"]["schemas"][name].is_object(),
                "{r} is missing"
            );
        }
        // Endpoints under /api say how to authenticate.
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
        assert!(doc["paths"]["/api/agents"]["get"]["security"].is_array());
    }

    #[test]
    fn errors_are_described_as_the_api_sends_them() {
        let doc = json();
        let schema = &doc["components"]["schemas"]["ErrorBody"];
        assert_eq!(schema["required"], serde_json::json!(["error"]));
        let detail = &doc["components"]["schemas"]["ErrorDetail"];
        assert_eq!(detail["required"], serde_json::json!(["code", "message"]));
        let sent = crate::api::ApiError::not_found("x").body();
        assert!(sent["error"]["code"].is_string() && sent["error"]["message"].is_string());
    }
}
