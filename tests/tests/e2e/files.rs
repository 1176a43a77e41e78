//! Files both ways: a customer's photo opened by agents (fetched from the
//! provider once, through the channel), and files agents send — by link on
//! WhatsApp and MMS, as attachments in email, as a download only the
//! visitor's own session can make in web chat; voice refuses them.

use serde_json::{Value, json};
use switchboard_tests::channels::{fixture, post_twilio, post_whatsapp, requests, take_task};
use switchboard_tests::presets::{EMAIL, SMS, VOICE, WEBCHAT, WHATSAPP, fast_outbox};
use switchboard_tests::{MockServer, TestHost};

/// Where the tests say the host is reachable: links to sent files start
/// with it.
const PUBLIC: &str = "https://cc.example.com";
/// The file every test sends.
const PDF: &[u8] = b"%PDF-1.4 invoice 4821";

#[tokio::test]
async fn a_photo_sent_on_whatsapp_is_fetched_once_and_shown_to_those_at_work_on_it() {
    let mock = MockServer::start().await;
    let host = TestHost::with_phone_channels(&mock).await;
    let (status, _) =
        switchboard_tests::channels::post_whatsapp(&host, &fixture("whatsapp/image.json")).await;
    assert_eq!(status, 200);
    let (ann, task) = take_task(&host, "ann", json!({})).await;
    let (_, view) = host
        .call(
            "GET",
            &format!(
                "/api/conversations/{}",
                task["conversation_id"].as_str().unwrap()
            ),
            Some(&ann),
            None,
        )
        .await;
    let message = view["messages"][0]["id"].as_str().unwrap().to_string();
    let before = mock.requests().len();
    // Graph answers the media id with a download URL, then the file.
    mock.respond_with(
        200,
        &json!({"url": format!("{}/media/1003383421387256/download", mock.url()),
                "mime_type": "image/jpeg", "id": "1003383421387256"})
        .to_string(),
    );
    mock.respond_with(200, "JPEG-BYTES-OF-THE-BOX");

    let (status, kind, bytes) = host.open_attachment(&ann, &message).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
    assert_eq!(kind.as_deref(), Some("image/jpeg"));
    assert_eq!(bytes, b"JPEG-BYTES-OF-THE-BOX");
    let fetched: Vec<_> = mock.requests().into_iter().skip(before).collect();
    assert_eq!(fetched.len(), 2, "{fetched:?}");
    assert!(
        fetched[0].uri.ends_with("/1003383421387256"),
        "{}",
        fetched[0].uri
    );
    assert_eq!(fetched[1].uri, "/media/1003383421387256/download");
    for request in &fetched {
        assert_eq!(
            request.header("authorization"),
            Some("Bearer wa-access-token"),
            "{}",
            request.uri
        );
    }

    // A supervisor opens the same copy: the provider is not asked again.
    let sue = host
        .agent("sue", json!({"name": "Sue", "role": "supervisor"}))
        .await;
    let (status, _, again) = host.open_attachment(&sue, &message).await;
    assert_eq!(
        (status, again.as_slice()),
        (200, b"JPEG-BYTES-OF-THE-BOX".as_slice())
    );
    assert_eq!(mock.requests().len(), before + 2);
    // Another agent may not.
    let bob = host.agent("bob", json!({"name": "Bob"})).await;
    let (status, _, _) = host.open_attachment(&bob, &message).await;
    assert_eq!(status, 403);
    // No such attachment.
    let response = host
        .client
        .get(host.url(&format!("/api/messages/{message}/attachments/7")))
        .bearer_auth(&ann)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
    host.stop().await;
}

#[tokio::test]
async fn a_photo_sent_by_mms_is_fetched_with_the_account_s_credentials_from_twilio_only() {
    let mock = MockServer::start().await;
    let host = TestHost::with_phone_channels(&mock).await;
    // The MMS's media lives on the (mock) Twilio API.
    let media = format!(
        "{}/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
        mock.url()
    );
    let form =
        switchboard_tests::channels::form_with(&fixture("sms/mms.form"), "MediaUrl0", &media);
    let (status, _) = post_twilio(&host, "sms", &form).await;
    assert_eq!(status, 200);
    let (ann, task) = take_task(&host, "ann", json!({})).await;
    let view = host
        .conversation(task["conversation_id"].as_str().unwrap())
        .await;
    let message = view["messages"][0]["id"].as_str().unwrap().to_string();
    let before = mock.requests().len();
    mock.respond_with(200, "PNG-BYTES-OF-THE-LABEL");
    let (status, _, bytes) = host.open_attachment(&ann, &message).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
    assert_eq!(bytes, b"PNG-BYTES-OF-THE-LABEL");
    let fetched = &mock.requests()[before];
    assert_eq!(
        fetched.uri,
        "/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"
    );
    assert!(
        fetched
            .header("authorization")
            .is_some_and(|a| a.starts_with("Basic ")),
        "{fetched:?}"
    );

    // A webhook naming media elsewhere never gets the credentials sent
    // there: the agent is told the file cannot be opened.
    let elsewhere = switchboard_tests::channels::form_with(
        &switchboard_tests::channels::form_with(&form, "MediaUrl0", "https://evil.example/x"),
        "MessageSid",
        "MM2",
    );
    let (status, _) = post_twilio(&host, "sms", &elsewhere).await;
    assert_eq!(status, 200);
    let timeline = host
        .timeline(&host.customer_id("phone:+16505551234").await)
        .await;
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

/// Uploads [`PDF`] to `conversation` as `token`: status and body.
async fn upload(host: &TestHost, token: &str, conversation: &str) -> (u16, Value) {
    switchboard_tests::channels::upload(
        host,
        token,
        conversation,
        "invoice.pdf",
        "application/pdf",
        PDF,
    )
    .await
}

/// Uploads [`PDF`] and replies with it; returns the queued message.
async fn send_pdf(host: &TestHost, token: &str, conversation: &str) -> Value {
    let (status, uploaded) = upload(host, token, conversation).await;
    assert_eq!(status, 201, "{uploaded}");
    assert_eq!(uploaded["size"], PDF.len());
    assert_eq!(uploaded["content_type"], "application/pdf");
    let (status, message) = host
        .call(
            "POST",
            &format!("/api/conversations/{conversation}/messages"),
            Some(token),
            Some(json!({"text": "Your invoice", "attachments": [uploaded["id"]]})),
        )
        .await;
    assert_eq!(status, 202, "{message}");
    message
}

/// The file behind a link the host made, fetched as the provider would.
async fn follow(host: &TestHost, link: &str) -> (u16, Vec<u8>) {
    let path = link
        .strip_prefix(PUBLIC)
        .unwrap_or_else(|| panic!("not a public link: {link}"));
    let response = host.client.get(host.url(path)).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.bytes().await.unwrap().to_vec())
}

/// Waits for the agent's next offered task and accepts it.
async fn accept_next(host: &TestHost, id: &str, token: &str) -> Value {
    let tasks = host
        .wait_tasks(id, token, |t| t.iter().any(|t| t["state"] == "reserved"))
        .await;
    let task = tasks.iter().find(|t| t["state"] == "reserved").unwrap();
    host.accept_task(token, task["id"].as_str().unwrap()).await
}

#[tokio::test]
async fn an_agent_sends_a_pdf_on_whatsapp_mms_and_email_and_voice_refuses_it() {
    let mock = MockServer::start().await;
    let host = TestHost::with_channels(&mock, &[WHATSAPP, SMS, EMAIL, VOICE], |c| {
        fast_outbox(c);
        c.http.public_url = Some(PUBLIC.into());
    })
    .await;

    // WhatsApp: a document message by link, the text as its caption.
    let (status, _) = post_whatsapp(&host, &fixture("whatsapp/text.json")).await;
    assert_eq!(status, 200);
    let (ann, task) = take_task(&host, "ann", json!({})).await;
    let before = mock.requests().len();
    send_pdf(&host, &ann, task["conversation_id"].as_str().unwrap()).await;
    let sent = requests(&mock, before + 1).await;
    let body: Value = serde_json::from_slice(&sent[before].body).unwrap();
    assert_eq!(body["type"], "document", "{body}");
    assert_eq!(body["document"]["filename"], "invoice.pdf");
    assert_eq!(body["document"]["caption"], "Your invoice");
    let link = body["document"]["link"].as_str().unwrap();
    assert_eq!(follow(&host, link).await, (200, PDF.to_vec()));
    // A link with another signature leads nowhere.
    assert_eq!(follow(&host, &link.replace("sig=", "sig=00")).await.0, 404);

    // MMS: Twilio fetches the `MediaUrl`.
    let (status, _) = post_twilio(&host, "sms", &fixture("sms/inbound.form")).await;
    assert_eq!(status, 200);
    let task = accept_next(&host, "ann", &ann).await;
    let before = mock.requests().len();
    send_pdf(&host, &ann, task["conversation_id"].as_str().unwrap()).await;
    let sent = requests(&mock, before + 1).await;
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&sent[before].body).unwrap();
    let media: Vec<&str> = form
        .iter()
        .filter(|(k, _)| k == "MediaUrl")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(media.len(), 1, "{form:?}");
    assert_eq!(follow(&host, media[0]).await, (200, PDF.to_vec()));

    // Email: a Mailgun multipart form with the file itself.
    let inbound = switchboard_tests::channels::mailgun_signed(
        switchboard_tests::channels::secrets::MAILGUN_SIGNING_KEY,
        &fixture("email/inbound.form"),
    );
    let (status, text) = host
        .post_webhook(
            "/webhooks/email",
            "application/x-www-form-urlencoded",
            &[],
            inbound,
        )
        .await;
    assert_eq!(status, 200, "{text}");
    let task = accept_next(&host, "ann", &ann).await;
    let before = mock.requests().len();
    send_pdf(&host, &ann, task["conversation_id"].as_str().unwrap()).await;
    let sent = requests(&mock, before + 1).await;
    let mail = &sent[before];
    assert!(
        mail.header("content-type")
            .is_some_and(|t| t.starts_with("multipart/form-data; boundary=")),
        "{mail:?}"
    );
    let text = String::from_utf8_lossy(&mail.body);
    assert!(
        text.contains("name=\"attachment\"; filename=\"invoice.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4 invoice 4821\r\n"),
        "{text}"
    );
    assert!(text.contains("Your invoice"), "{text}");

    // Voice carries no files: refused before anything is stored.
    let (status, _) = post_twilio(&host, "voice", &fixture("voice/incoming.form")).await;
    assert_eq!(status, 200);
    let (vic, call) = take_task(&host, "vic", json!({"voice_endpoint": "client:vic"})).await;
    let (status, body) = upload(&host, &vic, call["conversation_id"].as_str().unwrap()).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "unsupported");
    host.stop().await;
}

#[tokio::test]
async fn a_web_chat_visitor_downloads_a_file_with_her_secret_and_nobody_else_can() {
    let mock = MockServer::start().await;
    let host = TestHost::with_channels(&mock, &[WEBCHAT], fast_outbox).await;
    let (status, text) = host
        .post_webhook(
            "/webhooks/webchat",
            "application/json",
            &[],
            fixture("webchat/message.json"),
        )
        .await;
    assert_eq!(status, 200, "{text}");
    let started: Value = serde_json::from_str(&text).unwrap();
    let (session, secret) = (
        started["session_id"].as_str().unwrap().to_string(),
        started["secret"].as_str().unwrap().to_string(),
    );
    let (ann, task) = take_task(&host, "ann", json!({})).await;
    let sent = send_pdf(&host, &ann, task["conversation_id"].as_str().unwrap()).await;
    let id = sent["id"].as_str().unwrap();

    // The visitor's reply log lists the file, without the host's link.
    let read = |secret: Option<String>| {
        let mut request = host.client.get(host.url(&format!(
            "/webhooks/webchat/files?session_id={session}&reply={id}&n=0"
        )));
        if let Some(secret) = secret {
            request = request.header("x-webchat-secret", secret);
        }
        request.send()
    };
    let log = switchboard_tests::poll(std::time::Duration::from_secs(10), async || {
        let response = host
            .client
            .get(host.url(&format!("/webhooks/webchat/messages?session_id={session}")))
            .header("x-webchat-secret", &secret)
            .send()
            .await
            .unwrap();
        let body: Value = response.json().await.unwrap();
        let outbox = host.admin_json("/api/outbox").await;
        (body["messages"].as_array().is_some_and(|m| !m.is_empty()))
            .then_some(body.clone())
            .ok_or(format!(
                "the reply never reached the visitor's log: {body}; outbox {outbox}"
            ))
    })
    .await;
    let file = &log["messages"][0]["files"][0];
    assert_eq!(file["name"], "invoice.pdf", "{log}");
    assert!(file.get("link").is_none(), "{log}");

    let response = read(Some(secret.clone())).await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/pdf"
    );
    assert_eq!(response.bytes().await.unwrap().as_ref(), PDF);
    // Without the secret, or with another session's, nothing.
    assert_eq!(read(None).await.unwrap().status().as_u16(), 401);
    let (status, other) = host
        .post_webhook(
            "/webhooks/webchat",
            "application/json",
            &[],
            json!({"session_id": "wc-someone-else", "text": "hi"})
                .to_string()
                .into_bytes(),
        )
        .await;
    assert_eq!(status, 200, "{other}");
    let other: Value = serde_json::from_str(&other).unwrap();
    let stolen = read(Some(other["secret"].as_str().unwrap().to_string()))
        .await
        .unwrap();
    assert_eq!(stolen.status().as_u16(), 401);
    host.stop().await;
}
