//! A channel plugin that misbehaves on request, for the runtime's failure
//! isolation and hot-reload tests. The webhook subpath picks the behaviour:
//!
//! | path | behaviour |
//! |---|---|
//! | `/version` | answers `v1` (or `v2` when built with the `v2` feature) |
//! | `/echo` | answers with the request body |
//! | `/trap` | panics (a wasm trap) |
//! | `/loop` | spins forever |
//! | `/spin?ms=N` | busy-waits N ms, then answers its version |
//! | `/oom` | allocates until memory runs out |
//! | `/http?url=U` | fetches U with outbound HTTP |
//! | `/kv` | writes and reads its key-value store |
//! | `/customer?email=E` | looks a customer up |
//! | `/config?key=K` | answers the config value |
//! | `/garbage` | answers with an invalid HTTP status |
//! | `/reject` | returns a `bad-request` plugin error |
//! | `/event` | answers with one inbound message event |
//! | `/events?n=N` | answers with N inbound message events |
//! | `/identities?n=N` | answers with one message attesting N identities |
//! | `/big?kb=N` | answers with an N KiB body |
//! | `/kv-fill?n=N` | writes N keys of 100 bytes, ignoring errors; answers how many took |
//! | `/log-flood?n=N` | logs N lines of 10 KiB |
//! | `/sleep?ms=N` | sleeps N ms (blocked in the host's clock, not spinning) |
//! | `/recurse` | recurses until the stack runs out |

use switchboard_sdk::{
    Channel, ChannelEvent, ChannelInfo, ChannelKind, ChannelRules, Delivery, DeliveryError,
    HttpRequest, HttpResponse, Identity, InboundMessage, OutboundAction, PluginError,
    WebhookOutcome, config, customers, http, kv, log,
};

const VERSION: &str = if cfg!(feature = "v2") { "v2" } else { "v1" };

struct Misbehave;

fn text(body: impl Into<String>) -> Result<WebhookOutcome, PluginError> {
    Ok(WebhookOutcome::respond(
        HttpResponse::text(200, body),
        Vec::new(),
    ))
}

impl Channel for Misbehave {
    fn describe() -> ChannelInfo {
        ChannelInfo {
            kind: ChannelKind::Chat,
            display_name: format!("Misbehave {VERSION}"),
            supports_attachments: false,
            rules: ChannelRules {
                free_text_window_ms: None,
                supports_templates: false,
                can_start: false,
            },
        }
    }

    fn handle_webhook(request: HttpRequest) -> Result<WebhookOutcome, PluginError> {
        match request.subpath() {
            "/version" => text(VERSION),
            "/echo" => text(request.text()?),
            "/trap" => panic!("asked to trap"),
            "/loop" => {
                let mut n = 0u64;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "/spin" => {
                let ms: u64 = request
                    .query_param("ms")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(10);
                let until = switchboard_sdk::now_ms() + ms;
                while switchboard_sdk::now_ms() < until {
                    std::hint::spin_loop();
                }
                text(VERSION)
            }
            "/oom" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "/http" => {
                let url = request
                    .query_param("url")
                    .ok_or_else(|| PluginError::bad_request("missing url"))?;
                match http::get(&url) {
                    Ok(response) => text(format!("{} {}", response.status, response.text())),
                    Err(e) => {
                        log::warn(format!("outbound request failed: {e}"));
                        Ok(WebhookOutcome::respond(
                            HttpResponse::text(502, e.message),
                            Vec::new(),
                        ))
                    }
                }
            }
            "/kv" => {
                let count = kv::get_json::<u64>("count")
                    .map_err(|e| PluginError::forbidden(e.to_string()))?
                    .unwrap_or(0)
                    + 1;
                kv::set_json("count", &count).map_err(|e| PluginError::forbidden(e.to_string()))?;
                text(count.to_string())
            }
            "/customer" => {
                let email = request.query_param("email").unwrap_or_default();
                match customers::by_identity(&Identity::email(email)) {
                    Ok(Some(c)) => text(c.id),
                    Ok(None) => text("none"),
                    Err(e) => Err(PluginError::forbidden(e.to_string())),
                }
            }
            "/config" => {
                let key = request.query_param("key").unwrap_or_default();
                text(config::get(&key).unwrap_or_else(|| "<unset>".into()))
            }
            "/garbage" => Ok(WebhookOutcome::respond(
                HttpResponse::empty(9999),
                Vec::new(),
            )),
            "/reject" => Err(PluginError::bad_request("rejected on request")),
            "/event" => Ok(WebhookOutcome::ok(vec![ChannelEvent::Message(
                InboundMessage {
                    provider_message_id: "m-1".into(),
                    thread_key: "t-1".into(),
                    identities: vec![Identity::email("someone@example.com").verified()],
                    display_name: Some("Someone".into()),
                    text: "hello".into(),
                    attachments: Vec::new(),
                    sent_at: None,
                    metadata: Vec::new(),
                },
            )])),
            "/events" => {
                let n = number(&request, "n");
                Ok(WebhookOutcome::ok(
                    (0..n)
                        .map(|i| {
                            message(
                                &format!("m-{i}"),
                                vec![Identity::email(format!("e{i}@example.com")).verified()],
                            )
                        })
                        .collect(),
                ))
            }
            "/identities" => {
                let n = number(&request, "n");
                let identities = (0..n)
                    .map(|i| Identity::email(format!("e{i}@example.com")).verified())
                    .collect();
                Ok(WebhookOutcome::ok(vec![message("m-many", identities)]))
            }
            "/big" => text("x".repeat(number(&request, "kb") as usize * 1024)),
            "/kv-fill" => {
                let n = number(&request, "n");
                let took = (0..n)
                    .filter(|i| kv::set(&format!("k{i}"), &[7u8; 100]).is_ok())
                    .count();
                text(took.to_string())
            }
            "/log-flood" => {
                let line = "y".repeat(10 * 1024);
                for _ in 0..number(&request, "n") {
                    log::info(&line);
                }
                text("logged")
            }
            "/sleep" => {
                std::thread::sleep(std::time::Duration::from_millis(number(&request, "ms")));
                text(VERSION)
            }
            "/recurse" => text(recurse(1).to_string()),
            other => Err(PluginError::not_found(format!("no behaviour at {other}"))),
        }
    }

    fn deliver(action: OutboundAction) -> Result<Delivery, DeliveryError> {
        match action {
            OutboundAction::Message(m) => Ok(Delivery {
                provider_message_id: Some(format!("{VERSION}-{}", m.message_id)),
            }),
            _ => Err(DeliveryError::permanent("calls are not supported")),
        }
    }
}

/// A whole-number query parameter (0 when absent).
fn number(request: &HttpRequest, name: &str) -> u64 {
    request
        .query_param(name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// One inbound message event.
fn message(id: &str, identities: Vec<switchboard_sdk::AttestedIdentity>) -> ChannelEvent {
    ChannelEvent::Message(InboundMessage {
        provider_message_id: id.into(),
        thread_key: "t-1".into(),
        identities,
        display_name: None,
        text: "hello".into(),
        attachments: Vec::new(),
        sent_at: None,
        metadata: Vec::new(),
    })
}

/// Runs out of stack long before it could return (its frames live on the
/// engine's stack, not in linear memory: no buffers, only locals).
fn recurse(depth: u64) -> u64 {
    if std::hint::black_box(depth) == u64::MAX {
        return 0;
    }
    recurse(depth + 1).wrapping_add(std::hint::black_box(depth))
}

switchboard_sdk::register_channel!(Misbehave);
