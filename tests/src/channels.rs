//! Helpers for the tests that go through channels: the providers' fixtures
//! and the [`secrets`] the presets configure, signatures computed the way
//! each provider computes them (independently of the SDK's checks), signed
//! webhook posts, and the admin's views of customers, conversations and the
//! queue.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};

use crate::{MockServer, Recorded, TestHost, eventually, first_party_manifest, poll};

/// A provider fixture from `tests/fixtures/<path>`, as bytes.
pub fn fixture(path: &str) -> Vec<u8> {
    let full = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("reading {}: {e}", full.display()))
}

/// A fixture as text, trailing newline removed.
pub fn fixture_text(path: &str) -> String {
    String::from_utf8(fixture(path))
        .unwrap()
        .trim_end()
        .to_string()
}

/// A first-party plugin's manifest whose `outbound_http` declaration names
/// the mock provider instead of the real one.
pub fn manifest_for_mock(name: &str, mock: &MockServer) -> String {
    granting(&first_party_manifest(name), mock)
}

/// `manifest` with its `outbound_http` declaration naming the mock provider
/// instead of the real one (an admin's grants can only narrow a
/// declaration, so tests rewrite it).
pub fn granting(manifest: &str, mock: &MockServer) -> String {
    manifest
        .lines()
        .map(|line| {
            if line.starts_with("outbound_http") {
                format!("outbound_http = [\"{}\"]", mock.host_port())
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// What the [`presets`](crate::presets) configure their plugins with.
pub mod secrets {
    /// The URL the providers call (Twilio signs it).
    pub const PUBLIC_BASE_URL: &str = "https://cc.example.com";
    /// WhatsApp app secret (`X-Hub-Signature-256`).
    pub const WA_APP_SECRET: &str = "wa-app-secret";
    /// WhatsApp bearer token for replies.
    pub const WA_ACCESS_TOKEN: &str = "wa-access-token";
    /// WhatsApp subscription handshake token.
    pub const WA_VERIFY_TOKEN: &str = "switchboard-verify";
    /// Twilio account (SMS and voice).
    pub const TWILIO_SID: &str = "AC3f8a2c1d9e7b6a5f4c3d2e1f0a9b8c7d";
    /// Twilio auth token (`X-Twilio-Signature`, basic auth).
    pub const TWILIO_AUTH_TOKEN: &str = "twilio-auth-token";
    /// Mailgun webhook signing key.
    pub const MAILGUN_SIGNING_KEY: &str = "mailgun-signing-key";
    /// Mailgun sending domain.
    pub const MAILGUN_DOMAIN: &str = "mg.shop.example.com";
    /// The Mailgun signing key of the email channel alone
    /// ([`TestHost::with_email`](crate::TestHost::with_email)).
    pub const EMAIL_SIGNING_KEY: &str = "sign-1";
    /// `faq-bot`'s bearer token for the order API.
    pub const ORDERS_TOKEN: &str = "orders-token";
    /// `rest-crm`'s bearer token for the CRM.
    pub const CRM_TOKEN: &str = "crm-secret-token";
    /// The website's identity secret (web chat identity verification).
    pub const SITE_IDENTITY_SECRET: &str = "site-identity-secret";
}

/// `webchat/message.json` as the shop's page posts it for Sheena signed in:
/// vouched for with the `identifier_hash` of her email, so her email and
/// phone are verified (without it they are only claims).
pub fn vouched_webchat_fixture() -> Vec<u8> {
    let mut body: serde_json::Value =
        serde_json::from_slice(&fixture("webchat/message.json")).unwrap();
    let email = body["visitor"]["email"].as_str().unwrap().to_string();
    body["visitor"]["identifier_hash"] = identifier_hash(&email).into();
    serde_json::to_vec(&body).unwrap()
}

/// Hex HMAC-SHA256 of `identifier` under the site's identity secret: what a
/// website's backend passes as the web chat visitor's `identifier_hash`.
pub fn identifier_hash(identifier: &str) -> String {
    let mut mac =
        Hmac::<sha2::Sha256>::new_from_slice(secrets::SITE_IDENTITY_SECRET.as_bytes()).unwrap();
    mac.update(identifier.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// `sha256=` + hex HMAC-SHA256 of the body with the app secret: Meta's
/// `X-Hub-Signature-256`.
pub fn meta_signature(app_secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(app_secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Twilio's `X-Twilio-Signature` for a form POST to `url`: base64
/// HMAC-SHA1 of the URL followed by every parameter name and value, sorted
/// by name.
pub fn twilio_signature(auth_token: &str, url: &str, form_body: &[u8]) -> String {
    let mut params: Vec<(String, String)> = serde_urlencoded::from_bytes(form_body).unwrap();
    params.sort_by(|a, b| a.0.cmp(&b.0));
    let mut payload = url.to_string();
    for (k, v) in params {
        payload.push_str(&k);
        payload.push_str(&v);
    }
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(auth_token.as_bytes()).unwrap();
    mac.update(payload.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// A Mailgun form body as Mailgun would post it now: `timestamp` set to the
/// current unix second, `token` to a fresh one (the plugin accepts each
/// token once, within 5 minutes of its timestamp) and `signature` to hex
/// HMAC-SHA256 of `timestamp` + `token` with the signing key.
pub fn mailgun_signed(signing_key: &str, form_body: &[u8]) -> Vec<u8> {
    static TOKENS: AtomicU64 = AtomicU64::new(0);
    let now = crate::now_ms() / 1000;
    let token = format!(
        "{:016x}{:034x}",
        TOKENS.fetch_add(1, Ordering::Relaxed),
        rand_u128()
    );
    mailgun_signed_at(signing_key, form_body, &now.to_string(), &token)
}

/// [`mailgun_signed`] with a given `timestamp` and `token`.
pub fn mailgun_signed_at(
    signing_key: &str,
    form_body: &[u8],
    timestamp: &str,
    token: &str,
) -> Vec<u8> {
    let mut params: Vec<(String, String)> = serde_urlencoded::from_bytes(form_body).unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(signing_key.as_bytes()).unwrap();
    mac.update(format!("{timestamp}{token}").as_bytes());
    let signature = hex::encode(mac.finalize().into_bytes());
    for (k, v) in params.iter_mut() {
        match k.as_str() {
            "signature" => *v = signature.clone(),
            "timestamp" => *v = timestamp.to_string(),
            "token" => *v = token.to_string(),
            _ => {}
        }
    }
    serde_urlencoded::to_string(&params).unwrap().into_bytes()
}

/// Random bits, so tokens differ between test processes too.
fn rand_u128() -> u128 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0);
    (u128::from(h.finish()) << 64) | u128::from(h.finish().rotate_left(17))
}

/// Posts a signed WhatsApp text message from `wa_id` (provider message id
/// `id`) to the business number `106540352242922`, asserting 200.
pub async fn whatsapp_text(host: &TestHost, wa_id: &str, id: &str, text: &str) {
    let payload = json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
            "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": wa_id}],
            "messages": [{"from": wa_id, "id": id, "timestamp": "1749416383", "type": "text",
                          "text": {"body": text}}],
        }}]}],
    });
    let (status, answer) = post_whatsapp(host, &serde_json::to_vec(&payload).unwrap()).await;
    assert_eq!(status, 200, "{answer}");
}

/// POSTs a WhatsApp webhook body signed with the presets' app secret;
/// returns status and body text.
pub async fn post_whatsapp(host: &TestHost, body: &[u8]) -> (u16, String) {
    host.post_webhook(
        "/webhooks/whatsapp",
        "application/json",
        &[(
            "x-hub-signature-256",
            meta_signature(secrets::WA_APP_SECRET, body),
        )],
        body.to_vec(),
    )
    .await
}

/// POSTs a form to `/webhooks/<path>` signed as Twilio signs it for the
/// presets' account and public URL; returns status and body text.
pub async fn post_twilio(host: &TestHost, path: &str, body: &[u8]) -> (u16, String) {
    let path = format!("/webhooks/{path}");
    let url = format!("{}{path}", secrets::PUBLIC_BASE_URL);
    let signature = twilio_signature(secrets::TWILIO_AUTH_TOKEN, &url, body);
    host.post_webhook(
        &path,
        "application/x-www-form-urlencoded",
        &[("x-twilio-signature", signature)],
        body.to_vec(),
    )
    .await
}

/// Replaces (or adds) one field of a form body.
pub fn form_with(form_body: &[u8], name: &str, value: &str) -> Vec<u8> {
    let mut params: Vec<(String, String)> = serde_urlencoded::from_bytes(form_body).unwrap();
    match params.iter_mut().find(|(k, _)| k == name) {
        Some((_, v)) => *v = value.to_string(),
        None => params.push((name.to_string(), value.to_string())),
    }
    serde_urlencoded::to_string(&params).unwrap().into_bytes()
}

impl TestHost {
    /// `GET /api/messages/{message}/attachments/0` as `token`: status,
    /// content type, bytes.
    pub async fn open_attachment(
        &self,
        token: &str,
        message: &str,
    ) -> (u16, Option<String>, Vec<u8>) {
        let response = self
            .client
            .get(self.url(&format!("/api/messages/{message}/attachments/0")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let kind = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        (status, kind, response.bytes().await.unwrap().to_vec())
    }

    /// The Prometheus text of `GET /metrics`.
    pub async fn metrics_text(&self) -> String {
        self.client
            .get(self.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// POSTs a raw webhook body with extra headers; returns status and body
    /// text.
    pub async fn post_webhook(
        &self,
        path: &str,
        content_type: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> (u16, String) {
        let mut request = self
            .client
            .post(self.url(path))
            .header("content-type", content_type)
            .body(body);
        for (k, v) in headers {
            request = request.header(*k, v.as_str());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }
}

/// Percent-encodes a query value.
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b':' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl TestHost {
    /// `GET path` as admin, asserting 200; returns the JSON body.
    pub async fn admin_json(&self, path: &str) -> Value {
        let (status, body) = self.admin_get(path).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// Polls `GET path` as the admin (20 s at most) until `check` holds;
    /// returns that answer. `what` names the awaited state in the failure.
    pub async fn admin_json_until(
        &self,
        path: &str,
        what: &str,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        poll(Duration::from_secs(20), async || {
            let body = self.admin_json(path).await;
            if check(&body) {
                Ok(body)
            } else {
                Err(format!("GET {path} never showed {what}: {body}"))
            }
        })
        .await
    }

    /// The customers holding `identity` (`kind:value`).
    pub async fn lookup(&self, identity: &str) -> Vec<Value> {
        self.admin_json(&format!("/api/customers?identity={}", urlencode(identity)))
            .await
            .as_array()
            .unwrap()
            .clone()
    }

    /// Sets customer attributes (`{"tier": "vip"}`) as the admin, asserting
    /// 200; returns the customer.
    pub async fn set_attributes(&self, customer: &str, attributes: Value) -> Value {
        let (status, body) = self
            .call(
                "PATCH",
                &format!("/api/customers/{customer}/attributes"),
                Some(crate::ADMIN_TOKEN),
                Some(attributes),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// A customer's timeline.
    pub async fn timeline(&self, customer: &str) -> Vec<Value> {
        self.admin_json(&format!("/api/customers/{customer}/timeline"))
            .await
            .as_array()
            .unwrap()
            .clone()
    }

    /// The waiting tasks.
    pub async fn queue(&self) -> Vec<Value> {
        self.admin_json("/api/queue")
            .await
            .as_array()
            .unwrap()
            .clone()
    }

    /// A conversation with its messages.
    pub async fn conversation(&self, id: &str) -> Value {
        self.admin_json(&format!("/api/conversations/{id}")).await
    }

    /// The texts of a conversation's messages, oldest first.
    pub async fn message_texts(&self, id: &str) -> Vec<String> {
        self.conversation(id).await["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["text"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// The id of the one customer holding `identity` (`kind:value`),
    /// asserting there is exactly one.
    pub async fn customer_id(&self, identity: &str) -> String {
        let customers = self.lookup(identity).await;
        assert_eq!(customers.len(), 1, "{identity}: {customers:?}");
        customers[0]["id"].as_str().unwrap().to_string()
    }

    /// Accepts task `task` as the agent holding `token`, asserting 200;
    /// returns the accepted task.
    pub async fn accept_task(&self, token: &str, task: &str) -> Value {
        self.task_action(token, task, "accept", None).await
    }

    /// Completes task `task` as the agent holding `token` (with an optional
    /// `{"disposition": …}` body), asserting 200; returns the completed task.
    pub async fn complete_task(&self, token: &str, task: &str, body: Option<Value>) -> Value {
        self.task_action(token, task, "complete", body).await
    }

    /// `POST /api/tasks/{task}/{action}` as the agent holding `token`,
    /// asserting 200; returns the task.
    async fn task_action(
        &self,
        token: &str,
        task: &str,
        action: &str,
        body: Option<Value>,
    ) -> Value {
        let (status, answer) = self
            .call(
                "POST",
                &format!("/api/tasks/{task}/{action}"),
                Some(token),
                body,
            )
            .await;
        assert_eq!(status, 200, "{action} {task}: {answer}");
        answer
    }
}

/// The `text` of each timeline entry or conversation message.
pub fn texts(entries: &[Value]) -> Vec<&str> {
    entries
        .iter()
        .map(|e| e["text"].as_str().unwrap())
        .collect()
}

/// Creates agent `id` (its name `id` and room for every channel kind, with
/// the fields of `extra` replacing those), makes it available and accepts
/// the first task it is offered; returns its token and the accepted task.
pub async fn take_task(host: &TestHost, id: &str, extra: Value) -> (String, Value) {
    let mut body =
        json!({"name": id, "capacity": {"voice": 1, "chat": 2, "messaging": 3, "email": 5}});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let token = host.agent(id, body).await;
    host.set_status(id, &token, "available").await;
    let tasks = host
        .wait_tasks(id, &token, |t| t.iter().any(|t| t["state"] == "reserved"))
        .await;
    let task = tasks.iter().find(|t| t["state"] == "reserved").unwrap();
    let accepted = host.accept_task(&token, task["id"].as_str().unwrap()).await;
    (token, accepted)
}

/// Posts an agent's reply `text` to `conversation`, asserting 202 (queued
/// for the channel); returns the stored message.
pub async fn reply(host: &TestHost, token: &str, conversation: &str, text: &str) -> Value {
    let (status, body) = host
        .call(
            "POST",
            &format!("/api/conversations/{conversation}/messages"),
            Some(token),
            Some(json!({ "text": text })),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    body
}

/// Uploads `data` (of `content_type`, named `filename`) for `token` to send
/// in `conversation`: the status and the upload (its `id` goes in a reply's
/// `attachments`).
pub async fn upload(
    host: &TestHost,
    token: &str,
    conversation: &str,
    filename: &str,
    content_type: &str,
    data: &[u8],
) -> (u16, Value) {
    let response = host
        .client
        .post(host.url(&format!(
            "/api/conversations/{conversation}/attachments?filename={filename}"
        )))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(data.to_vec())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// An SMS from `from` (E.164; the fixture's Sheena when `None`) with
/// provider id `sid` and text `body`, posted signed to the `sms` channel.
pub async fn sms_from(host: &TestHost, from: Option<&str>, sid: &str, body: &str) {
    let mut form = form_with(
        &form_with(&fixture("sms/inbound.form"), "MessageSid", sid),
        "Body",
        body,
    );
    if let Some(from) = from {
        form = form_with(&form, "From", from);
    }
    let (status, text) = post_twilio(host, "sms", &form).await;
    assert_eq!(status, 200, "{text}");
}

/// The fixture caller rings the voice channel and hangs up while waiting
/// (both webhooks answered 200): an abandoned call.
pub async fn caller_gives_up(host: &TestHost) {
    let ring = fixture("voice/incoming.form");
    assert_eq!(post_twilio(host, "voice", &ring).await.0, 200);
    let hangup = fixture("voice/status-completed.form");
    assert_eq!(post_twilio(host, "voice/status", &hangup).await.0, 200);
}

/// What the mock Twilio was asked to send by SMS: `(To, Body)` pairs.
pub fn sms_sent(mock: &MockServer) -> Vec<(String, String)> {
    mock.requests()
        .iter()
        .filter(|r| r.uri.ends_with("/Messages.json"))
        .filter_map(|r| {
            let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&r.body).ok()?;
            let get = |k: &str| {
                form.iter()
                    .find(|(key, _)| key == k)
                    .map(|(_, v)| v.clone())
            };
            Some((get("To").unwrap_or_default(), get("Body")?))
        })
        .collect()
}

/// Waits (10 s at most) until the mock has received `n` requests; returns
/// all it has received.
pub async fn requests(mock: &MockServer, n: usize) -> Vec<Recorded> {
    assert!(
        eventually(Duration::from_secs(10), || mock.requests().len() >= n).await,
        "the mock provider got {:?}",
        mock.requests()
    );
    mock.requests()
}

/// Waits (10 s at most) until message `id` of `conversation` has `status`;
/// returns the message.
pub async fn wait_status(host: &TestHost, conversation: &str, id: &str, status: &str) -> Value {
    poll(Duration::from_secs(10), async || {
        let c = host.conversation(conversation).await;
        let m = c["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == id)
            .cloned()
            .unwrap();
        if m["status"] == status {
            Ok(m)
        } else {
            Err(format!("message {id} never became {status}: {m}"))
        }
    })
    .await
}
