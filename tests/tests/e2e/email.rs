//! The `email` channel (Mailgun) end to end: the real plugin in a host on
//! loopback, signed inbound-route posts built from the fixtures, and a mock
//! Mailgun API recording the replies.

use base64::Engine as _;
use serde_json::{Value, json};
use switchboard_tests::channels::secrets::EMAIL_SIGNING_KEY as SIGNING_KEY;
use switchboard_tests::channels::{
    fixture, form_with, mailgun_signed, mailgun_signed_at, reply, take_task, wait_status,
};
use switchboard_tests::{MockServer, TestHost};

const FORM: &str = "application/x-www-form-urlencoded";
const SHEENA: &str = "email:sheena.nelson@example.com";
/// `stripped-text` of `email/inbound.form`.
const INBOUND_TEXT: &str =
    "Hello,\r\n\r\nI wrote on WhatsApp earlier today. Order 4821 is still missing.";
/// `body-plain` of `email/inbound.form`.
const INBOUND_BODY: &str = "Hello,\r\n\r\nI wrote on WhatsApp earlier today. Order 4821 is still missing.\r\n\r\nSheena\r\n";
const INBOUND_ID: &str = "<CAB7d9f2a+x1@mail.example.com>";

/// A fixture signed with the test signing key.
fn signed(name: &str) -> Vec<u8> {
    mailgun_signed(SIGNING_KEY, &fixture(name))
}

/// POSTs a body of `content_type` to the email webhook; returns status and
/// body text.
async fn post_as(host: &TestHost, content_type: &str, body: Vec<u8>) -> (u16, String) {
    host.post_webhook("/webhooks/email", content_type, &[], body)
        .await
}

async fn post_form(host: &TestHost, body: Vec<u8>) -> (u16, String) {
    post_as(host, FORM, body).await
}

/// Asserts that no customer holds Sheena's address and no task waits.
async fn assert_nothing_stored(host: &TestHost) {
    assert!(host.lookup(SHEENA).await.is_empty());
    assert!(host.queue().await.is_empty());
}

/// Sheena's (single) customer's timeline.
async fn sheena_timeline(host: &TestHost) -> Vec<Value> {
    host.timeline(&host.customer_id(SHEENA).await).await
}

/// The one waiting task's conversation id.
async fn only_conversation(host: &TestHost) -> String {
    let q = host.queue().await;
    assert_eq!(q.len(), 1, "{q:?}");
    q[0]["conversation_id"].as_str().unwrap().to_string()
}

/// A form field of a recorded request body.
fn field(body: &[u8], name: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap();
    pairs.into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

#[tokio::test]
async fn inbound_mail_becomes_a_customer_message_and_a_task() {
    let mock = MockServer::start().await;
    let host = TestHost::with_email(&mock, |_| {}).await;

    let (status, body) = post_form(&host, signed("email/inbound.form")).await;
    assert_eq!(status, 200, "{body}");

    let customers = host.lookup(SHEENA).await;
    assert_eq!(customers.len(), 1, "{customers:?}");
    assert_eq!(customers[0]["display_name"], "Sheena Nelson");
    assert_eq!(
        customers[0]["identities"],
        json!([{"kind": "email", "value": "sheena.nelson@example.com"}])
    );

    let q = host.queue().await;
    assert_eq!(q.len(), 1, "{q:?}");
    assert_eq!(q[0]["channel"], "email");
    assert_eq!(q[0]["channel_kind"], "email");
    assert_eq!(q[0]["customer_id"], customers[0]["id"]);

    let conv = host
        .conversation(q[0]["conversation_id"].as_str().unwrap())
        .await;
    let messages = conv["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    assert_eq!(m["direction"], "inbound");
    assert_eq!(
        m["text"], INBOUND_TEXT,
        "the stripped text, without signature"
    );
    assert_eq!(m["provider_message_id"], INBOUND_ID);
    // The Date header (Mon, 09 Jun 2025 22:00:00 +0000), not the post's
    // timestamp (a day earlier).
    assert_eq!(m["sent_at"], 1_749_506_400_000u64);
    assert_eq!(m["attachments"], json!([]));
    let metadata = &m["metadata"];
    assert_eq!(metadata["subject"], "Order 4821 still missing");
    assert_eq!(metadata["body"], INBOUND_BODY, "the full body is kept");
    assert_eq!(metadata["message_id"], INBOUND_ID);
    assert_eq!(metadata["recipient"], "support@shop.example.com");
    host.stop().await;
}

#[tokio::test]
async fn bad_or_missing_signatures_are_refused_and_store_nothing() {
    let mock = MockServer::start().await;
    let host = TestHost::with_email(&mock, |_| {}).await;
    let good = signed("email/inbound.form");

    let other_key = mailgun_signed("not-the-key", &fixture("email/inbound.form"));
    let mut no_signature: Vec<(String, String)> = serde_urlencoded::from_bytes(&good).unwrap();
    no_signature.retain(|(k, _)| k != "signature");
    let no_signature = serde_urlencoded::to_string(&no_signature)
        .unwrap()
        .into_bytes();
    let cases: [(&str, Vec<u8>); 5] = [
        // Mailgun signs `timestamp` + `token`: changing either after
        // signing breaks the signature.
        (
            "timestamp changed after signing",
            form_with(&good, "timestamp", "1749420001"),
        ),
        (
            "token changed after signing",
            form_with(&good, "token", "0123456789abcdef"),
        ),
        ("signed with another key", other_key),
        ("no signature", no_signature),
        (
            "the fixture's zero signature",
            fixture("email/inbound.form"),
        ),
    ];
    for (what, body) in cases {
        let (status, text) = post_form(&host, body).await;
        assert!(
            status == 401 || status == 403,
            "{what}: answered {status} {text}"
        );
    }
    assert_nothing_stored(&host).await;

    // Other methods and unparsable bodies store nothing either.
    let (status, _) = host.call("GET", "/webhooks/email", None, None).await;
    assert_eq!(status, 405);
    let (status, _) = post_as(&host, "application/json", b"{}".to_vec()).await;
    assert_eq!(status, 400);
    let (status, _) = post_as(
        &host,
        "multipart/form-data; boundary=nope",
        b"not multipart at all".to_vec(),
    )
    .await;
    assert_eq!(status, 400);
    assert_nothing_stored(&host).await;

    // The genuine post still goes through.
    assert_eq!(post_form(&host, good).await.0, 200);
    assert_eq!(host.lookup(SHEENA).await.len(), 1);
    host.stop().await;
}

#[tokio::test]
async fn captured_posts_cannot_be_replayed() {
    let mock = MockServer::start().await;
    let host = TestHost::with_email(&mock, |_| {}).await;
    let now = switchboard_tests::now_ms() / 1000;
    let inbound = fixture("email/inbound.form");

    // Correctly signed, but an hour old: a post captured earlier.
    let hour_old = mailgun_signed_at(SIGNING_KEY, &inbound, &(now - 3600).to_string(), "t-old");
    let (status, text) = post_form(&host, hour_old).await;
    assert_eq!(status, 401, "{text}");
    assert!(text.contains("timestamp"), "{text}");
    assert_nothing_stored(&host).await;

    // A fresh post is accepted once; its token replayed with other
    // (unsigned) fields is refused and stores nothing.
    let first = mailgun_signed_at(SIGNING_KEY, &inbound, &now.to_string(), "t-once");
    assert_eq!(post_form(&host, first.clone()).await.0, 200);
    let forged = form_with(
        &form_with(
            &first,
            "stripped-text",
            "Please send the refund to IBAN XX00",
        ),
        "Message-Id",
        "<forged@mail.example.com>",
    );
    let (status, text) = post_form(&host, forged).await;
    assert_eq!(status, 401, "{text}");
    assert!(text.contains("already used"), "{text}");
    let (status, _) = post_form(&host, first).await;
    assert_eq!(status, 401, "the same post replayed verbatim");
    let conversation = host.conversation(&only_conversation(&host).await).await;
    assert_eq!(conversation["messages"].as_array().unwrap().len(), 1);
    host.stop().await;
}

#[tokio::test]
async fn without_a_signing_key_mail_is_refused() {
    let mock = MockServer::start().await;
    let host = TestHost::with_channels(
        &mock,
        &[(
            "email",
            &[("domain", "mg.example.com"), ("api_key", "key-1")],
        )],
        |_| {},
    )
    .await;
    let (status, text) = post_form(&host, signed("email/inbound.form")).await;
    assert_eq!(status, 401, "{text}");
    assert_nothing_stored(&host).await;
    host.stop().await;
}

#[tokio::test]
async fn a_reply_lands_in_the_same_conversation_through_references() {
    let mock = MockServer::start().await;
    let host = TestHost::with_email(&mock, |_| {}).await;
    assert_eq!(post_form(&host, signed("email/inbound.form")).await.0, 200);
    let conversation_id = only_conversation(&host).await;

    assert_eq!(post_form(&host, signed("email/reply.form")).await.0, 200);
    assert_eq!(
        only_conversation(&host).await,
        conversation_id,
        "no second task or conversation"
    );
    let conv = host.conversation(&conversation_id).await;
    let messages = conv["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2, "{conv}");
    assert_eq!(messages[1]["text"], "Thanks, that works.");
    assert_eq!(
        messages[1]["metadata"]["references"],
        "<CAB7d9f2a+x1@mail.example.com> <reply-1@shop.example.com>"
    );
    assert_eq!(
        messages[1]["metadata"]["in_reply_to"],
        "<reply-1@shop.example.com>"
    );
    assert_eq!(sheena_timeline(&host).await.len(), 2);
    host.stop().await;
}

#[tokio::test]
async fn a_redelivered_mail_is_stored_once() {
    let mock = MockServer::start().await;
    let host = TestHost::with_email(&mock, |_| {}).await;
    assert_eq!(post_form(&host, signed("email/inbound.form")).await.0, 200);
    // Mailgun retries the same mail (a new post, signed anew).
    assert_eq!(post_form(&host, signed("email/inbound.form")).await.0, 200);
    let conversation_id = only_conversation(&host).await;
    let conv = host.conversation(&conversation_id).await;
    assert_eq!(conv["messages"].as_array().unwrap().len(), 1, "{conv}");
    assert_eq!(sheena_timeline(&host).await.len(), 1);
    host.stop().await;
}

#[tokio::test]
async fn agent_replies_go_out_through_mailgun_in_the_thread() {
    let mock = MockServer::start().await;
    let host = TestHost::with_email(&mock, |c| {
        c.outbox.base_backoff_ms = 50;
        c.outbox.max_backoff_ms = 100;
    })
    .await;
    assert_eq!(post_form(&host, signed("email/inbound.form")).await.0, 200);
    let (ann, task) = take_task(&host, "ann", json!({"name": "Ann"})).await;
    let conversation_id = task["conversation_id"].as_str().unwrap();

    // The first reply: accepted by Mailgun.
    mock.respond_with(
        200,
        r#"{"id":"<reply-1@shop.example.com>","message":"Queued. Thank you."}"#,
    );
    let sent = reply(&host, &ann, conversation_id, "We have reshipped it.").await;
    let sent = wait_status(&host, conversation_id, sent["id"].as_str().unwrap(), "sent").await;
    assert_eq!(sent["provider_message_id"], "<reply-1@shop.example.com>");
    let requests = mock.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.uri, "/v3/mg.example.com/messages");
    let basic = base64::engine::general_purpose::STANDARD.encode("api:key-1");
    assert_eq!(
        request.header("authorization"),
        Some(format!("Basic {basic}").as_str())
    );
    assert!(
        request
            .header("content-type")
            .is_some_and(|c| c.starts_with(FORM)),
        "{:?}",
        request.header("content-type")
    );
    let body = &request.body;
    assert_eq!(
        field(body, "from").as_deref(),
        Some("Support <support@shop.example.com>")
    );
    assert_eq!(
        field(body, "to").as_deref(),
        Some("sheena.nelson@example.com")
    );
    assert_eq!(
        field(body, "subject").as_deref(),
        Some("Re: Order 4821 still missing")
    );
    assert_eq!(
        field(body, "text").as_deref(),
        Some("We have reshipped it.")
    );
    assert_eq!(field(body, "h:In-Reply-To").as_deref(), Some(INBOUND_ID));
    assert_eq!(field(body, "h:References").as_deref(), Some(INBOUND_ID));

    // Her answer carries only `In-Reply-To: <reply-1@…>` (no References):
    // the plugin knows which thread it sent that mail in.
    let only_in_reply_to = form_with(
        &fixture("email/reply.form"),
        "message-headers",
        &json!([
            ["Message-Id", "<CAB7d9f2a+x2@mail.example.com>"],
            ["In-Reply-To", "<reply-1@shop.example.com>"],
            ["From", "Sheena Nelson <sheena.nelson@example.com>"],
            ["Subject", "Re: Order 4821 still missing"]
        ])
        .to_string(),
    );
    let (status, text) = post_form(&host, mailgun_signed(SIGNING_KEY, &only_in_reply_to)).await;
    assert_eq!(status, 200, "{text}");
    let conv = host.conversation(conversation_id).await;
    let messages = conv["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 3, "{conv}");
    assert_eq!(messages[2]["text"], "Thanks, that works.");
    assert!(host.queue().await.is_empty(), "no new task");
    assert_eq!(host.tasks_of("ann", &ann).await.len(), 1);

    // A 503 is retried; the reply answers her latest mail, without a
    // second `Re:`.
    mock.respond_with(503, r#"{"message":"try later"}"#);
    mock.respond_with(200, r#"{"id":"<reply-2@shop.example.com>"}"#);
    let sent = reply(&host, &ann, conversation_id, "Glad to hear it!").await;
    let sent = wait_status(&host, conversation_id, sent["id"].as_str().unwrap(), "sent").await;
    assert_eq!(sent["provider_message_id"], "<reply-2@shop.example.com>");
    let requests = mock.requests();
    assert_eq!(requests.len(), 3, "one retry after the 503");
    let body = &requests[2].body;
    assert_eq!(body, &requests[1].body, "the retry sends the same mail");
    assert_eq!(
        field(body, "subject").as_deref(),
        Some("Re: Order 4821 still missing")
    );
    assert_eq!(
        field(body, "h:In-Reply-To").as_deref(),
        Some("<CAB7d9f2a+x2@mail.example.com>")
    );
    assert_eq!(field(body, "text").as_deref(), Some("Glad to hear it!"));

    // A 400 is permanent: one request, message failed.
    mock.respond_with(
        400,
        r#"{"message":"'to' parameter is not a valid address"}"#,
    );
    let failed = reply(&host, &ann, conversation_id, "One more thing").await;
    let failed = wait_status(
        &host,
        conversation_id,
        failed["id"].as_str().unwrap(),
        "failed",
    )
    .await;
    assert!(
        failed["error"].as_str().is_some_and(|e| e.contains("400")),
        "{failed}"
    );
    // Dead-lettered with nothing pending: nothing is left to retry it.
    host.admin_json_until("/api/outbox", "the reply dead-lettered", |o| {
        o["dead_letters"].as_array().unwrap().len() == 1 && o["pending"] == json!([])
    })
    .await;
    assert_eq!(mock.requests().len(), 4, "no retry after a 400");
    host.stop().await;
}

/// A `multipart/form-data` body holding `fields` and one file.
fn multipart(boundary: &str, fields: &[(String, String)], file: (&str, &str, &[u8])) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    let (filename, content_type, bytes) = file;
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"attachment-1\"; filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    body
}

#[tokio::test]
async fn multipart_mail_keeps_its_attachment() {
    let mock = MockServer::start().await;
    let host = TestHost::with_email(&mock, |_| {}).await;
    let boundary = "----MailgunBoundary7d9f2a";
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let pdf: &[u8] = b"%PDF-1.4\n\x00\x01\x02\xff binary receipt\n%%EOF";
    let fields = |body: Vec<u8>| -> Vec<(String, String)> {
        let mut fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap();
        for (k, v) in fields.iter_mut() {
            if k == "attachment-count" {
                *v = "1".into();
            }
        }
        fields
    };

    // Wrongly signed: refused, as for form posts.
    let forged = multipart(
        boundary,
        &fields(mailgun_signed("forged", &fixture("email/inbound.form"))),
        ("receipt.pdf", "application/pdf", pdf),
    );
    let (status, _) = post_as(&host, &content_type, forged).await;
    assert!(status == 401 || status == 403, "{status}");
    assert!(host.queue().await.is_empty());

    let body = multipart(
        boundary,
        &fields(signed("email/inbound.form")),
        ("receipt.pdf", "application/pdf", pdf),
    );
    let (status, text) = post_as(&host, &content_type, body).await;
    assert_eq!(status, 200, "{text}");
    let conv = host.conversation(&only_conversation(&host).await).await;
    let m = &conv["messages"][0];
    assert_eq!(m["text"], INBOUND_TEXT);
    assert_eq!(m["metadata"]["subject"], "Order 4821 still missing");
    assert_eq!(m["metadata"]["body"], INBOUND_BODY);
    let mut attachment = m["attachments"][0].clone();
    // Mailgun keeps no copy of a forwarded mail's files: the host kept it.
    let kept = attachment["url"].take();
    assert!(
        kept.as_str()
            .is_some_and(|u| u.starts_with("switchboard-kept:")),
        "{kept}"
    );
    assert_eq!(
        attachment,
        json!({
            "content_type": "application/pdf",
            "filename": "receipt.pdf",
            "size": pdf.len(),
            "url": null,
        })
    );
    assert_eq!(
        host.lookup(SHEENA).await[0]["display_name"],
        "Sheena Nelson"
    );

    // The agent at work on it opens the file: the kept bytes, and nobody
    // at Mailgun is asked.
    let message = m["id"].as_str().unwrap().to_string();
    let (ann, _) = take_task(&host, "ann", json!({})).await;
    let before = mock.requests().len();
    let (status, kind, bytes) = host.open_attachment(&ann, &message).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
    assert_eq!(kind.as_deref(), Some("application/pdf"));
    assert_eq!(bytes, pdf);
    assert_eq!(mock.requests().len(), before);
    let bob = host.agent("bob", json!({"name": "Bob"})).await;
    let (status, _, _) = host.open_attachment(&bob, &message).await;
    assert_eq!(status, 403);
    host.stop().await;
}

/// A stored message's file (`store(notify=…)` routes) stays at Mailgun: it
/// is fetched with the API key, from Mailgun (here the mock API) only.
#[tokio::test]
async fn a_stored_mail_s_file_is_fetched_with_the_api_key_from_mailgun_only() {
    let mock = MockServer::start().await;
    let host = TestHost::with_email(&mock, |_| {}).await;
    let stored = |url: &str, id: &str| {
        let files =
            json!([{"url": url, "content-type": "image/png", "name": "label.png", "size": 22}]);
        let form = form_with(
            &fixture("email/inbound.form"),
            "attachments",
            &files.to_string(),
        );
        let headers = json!([
            ["Message-Id", id],
            ["From", "Sheena Nelson <sheena.nelson@example.com>"]
        ]);
        let form = form_with(&form, "message-headers", &headers.to_string());
        mailgun_signed(SIGNING_KEY, &form_with(&form, "Message-Id", id))
    };
    let path = "/v3/domains/mg.example.com/messages/AgEFk1/attachments/0";
    let (status, text) =
        post_form(&host, stored(&format!("{}{path}", mock.url()), INBOUND_ID)).await;
    assert_eq!(status, 200, "{text}");
    let conv = host.conversation(&only_conversation(&host).await).await;
    let message = conv["messages"][0]["id"].as_str().unwrap().to_string();
    let (ann, _) = take_task(&host, "ann", json!({})).await;
    let before = mock.requests().len();
    mock.respond_with(200, "PNG-BYTES-OF-THE-LABEL");
    let (status, _, bytes) = host.open_attachment(&ann, &message).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
    assert_eq!(bytes, b"PNG-BYTES-OF-THE-LABEL");
    let fetched = &mock.requests()[before];
    assert_eq!(fetched.uri, path);
    let basic = base64::engine::general_purpose::STANDARD.encode("api:key-1");
    assert_eq!(
        fetched.header("authorization"),
        Some(format!("Basic {basic}").as_str())
    );

    // A post naming a file elsewhere never gets the key sent there.
    let (status, text) = post_form(
        &host,
        stored("https://evil.example/x", "<other@mail.example.com>"),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    let timeline = host.timeline(&host.customer_id(SHEENA).await).await;
    let evil = timeline
        .iter()
        .find(|m| m["attachments"][0]["url"] == "https://evil.example/x")
        .unwrap();
    let before = mock.requests().len();
    let (status, _, _) = host
        .open_attachment(&ann, evil["id"].as_str().unwrap())
        .await;
    assert_eq!(status, 422);
    assert_eq!(mock.requests().len(), before);
    host.stop().await;
}
