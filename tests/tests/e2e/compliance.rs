//! Compliance and the data lifecycle: what is masked before it is stored,
//! opt-outs, subject export and the audit trail.

use std::time::Duration;

use serde_json::{Value, json};
use switchboard_tests::channels::{reply, sms_from, sms_sent, take_task, upload, whatsapp_text};
use switchboard_tests::presets::SMS;
use switchboard_tests::{ADMIN_TOKEN, MockServer, TestHost, eventually};

/// A test card number (Visa's), typed with spaces.
const CARD: &str = "4111 1111 1111 1111";
/// 16 digits failing the Luhn check: an order number, kept.
const ORDER: &str = "4111111111111112";

/// Every body the mock received, as text.
fn bodies(mock: &MockServer) -> String {
    mock.requests()
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn a_card_number_is_masked_before_it_is_stored_shown_or_forwarded() {
    let provider = MockServer::start().await;
    let crm = MockServer::start().await;
    let host = TestHost::with_bot_and_crm(&provider, &crm, |_| {}).await;
    // The CRM has no contact for her yet, then creates one.
    crm.respond_with(200, r#"{"contacts":[]}"#);
    crm.respond_with(200, r#"{"id":"c1"}"#);
    let said = format!("echo my card is {CARD} for order {ORDER}");
    let masked = format!("echo my card is [CARD] for order {ORDER}");
    whatsapp_text(&host, "16505551234", "wamid.CARD1", &said).await;

    // The bot was shown the masked text (it echoes what it got), and the
    // customer receives that echo.
    assert!(
        eventually(Duration::from_secs(20), || bodies(&provider)
            .contains(&format!("you said: {masked}")))
        .await,
        "the bot's echo never went out: {}",
        bodies(&provider)
    );
    let customer = host.customer_id("phone:+16505551234").await;
    let timeline = host.timeline(&customer).await;
    let stored = timeline
        .iter()
        .find(|m| m["direction"] == "inbound")
        .unwrap();
    assert_eq!(stored["text"], masked.as_str());
    assert_eq!(stored["redacted"], json!(["card"]));
    // The CRM is told about it, masked.
    assert!(
        eventually(Duration::from_secs(20), || bodies(&crm).contains("[CARD]")).await,
        "the CRM never got the message: {}",
        bodies(&crm)
    );

    // An agent who types a card number into a reply: the stored and the
    // delivered copy are masked, and she is told so.
    whatsapp_text(&host, "16505551234", "wamid.CARD2", "handoff").await;
    let (ann, task) = take_task(&host, "ann", json!({"skills": {"billing": 3}})).await;
    let sent: Value = reply(
        &host,
        &ann,
        task["conversation_id"].as_str().unwrap(),
        "Charged 5500-0000-0000-0004 as asked",
    )
    .await;
    assert_eq!(sent["text"], "Charged [CARD] as asked", "{sent}");
    assert_eq!(sent["redacted"], json!(["card"]));
    assert!(
        eventually(Duration::from_secs(20), || bodies(&provider)
            .contains("Charged [CARD] as asked"))
        .await
    );

    // Nothing anywhere holds the number: not the provider's outbound, the
    // CRM, the API.
    let everything = format!(
        "{}\n{}\n{}",
        bodies(&provider),
        bodies(&crm),
        host.timeline(&customer)
            .await
            .iter()
            .map(Value::to_string)
            .collect::<String>()
    );
    for number in [CARD, "4111111111111111", "5500-0000-0000-0004"] {
        assert!(!everything.contains(number), "{number} leaked");
    }
    assert!(everything.contains(ORDER), "the order number was kept");
    let metrics = host.metrics_text().await;
    assert!(
        metric(&metrics, "switchboard_redactions_total") >= 2.0,
        "{metrics}"
    );
    host.stop().await;
}

/// An SMS from Sheena saying `body`, with Twilio's id `sid`.
async fn sms(host: &TestHost, sid: &str, body: &str) {
    sms_from(host, None, sid, body).await;
}

/// Where the compliance tests say the host is reachable (links to files
/// agents send, which MMS needs absolute).
const PUBLIC: &str = "https://cc.example.com";

/// The text of the file Ann sends in [`served`].
const ANNS_FILE: &str = "receipt rk52vm";

/// Sheena texts `said` (two SMS); Ann takes the task, answers `answer`
/// with a file ([`ANNS_FILE`]) and completes it. Returns Ann's token, the
/// task and its conversation.
async fn served(host: &TestHost, said: [&str; 2], answer: &str) -> (String, Value, String) {
    for (n, text) in said.iter().enumerate() {
        sms(host, &format!("SMserved{n}"), text).await;
    }
    let (ann, task) = take_task(host, "ann", json!({})).await;
    let conversation = task["conversation_id"].as_str().unwrap().to_string();
    let file = ANNS_FILE.as_bytes();
    let (status, uploaded) =
        upload(host, &ann, &conversation, "receipt.txt", "text/plain", file).await;
    assert_eq!(status, 201, "{uploaded}");
    let (status, sent) = host
        .call(
            "POST",
            &format!("/api/conversations/{conversation}/messages"),
            Some(&ann),
            Some(json!({"text": answer, "attachments": [uploaded["id"]]})),
        )
        .await;
    assert_eq!(status, 202, "{sent}");
    host.complete_task(&ann, task["id"].as_str().unwrap(), None)
        .await;
    (ann, task, conversation)
}

/// The link Ann's file was sent by, as the provider got it: it works until
/// the file is erased.
async fn file_link_status(host: &TestHost, conversation: &str) -> u16 {
    let view = host.conversation(conversation).await;
    let link = view["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|m| m["attachments"][0]["url"].as_str().map(String::from));
    let Some(link) = link else {
        return 404;
    };
    let path = link.strip_prefix(PUBLIC).unwrap_or(&link);
    let response = host.client.get(host.url(path)).send().await.unwrap();
    response.status().as_u16()
}

/// The texts the mock Twilio was asked to send.
fn sent_texts(mock: &MockServer) -> Vec<String> {
    sms_sent(mock).into_iter().map(|(_, body)| body).collect()
}

#[tokio::test]
async fn stop_on_sms_is_confirmed_once_and_refuses_replies_until_start() {
    let mock = MockServer::start().await;
    let host = TestHost::with_phone_channels(&mock).await;
    sms(&host, "SMopt1", "Where is order 4821?").await;
    let (ann, task) = take_task(&host, "ann", json!({})).await;
    let conversation = task["conversation_id"].as_str().unwrap().to_string();

    sms(&host, "SMopt2", "Stop").await;
    let unsubscribed =
        |texts: &[String]| texts.iter().filter(|t| t.contains("unsubscribed")).count();
    assert!(
        eventually(Duration::from_secs(20), || unsubscribed(&sent_texts(&mock))
            == 1)
        .await,
        "{:?}",
        sent_texts(&mock)
    );
    // A second STOP changes nothing and is not confirmed again.
    sms(&host, "SMopt3", "STOP").await;
    let customer = host.lookup("phone:+16505551234").await[0].clone();
    assert_eq!(
        customer["consent"]["sms"]["status"], "opted_out",
        "{customer}"
    );
    assert_eq!(customer["consent"]["sms"]["source"], "keyword STOP");
    // Audited once, as the customer's own act.
    let audit = host.admin_json("/api/audit?action=consent.").await;
    assert_eq!(audit.as_array().unwrap().len(), 1, "{audit}");
    assert_eq!(audit[0]["action"], "consent.opt_out");
    assert_eq!(audit[0]["role"], "customer");
    assert_eq!(audit[0]["targets"][1], "sms");
    // The keywords are no work for anyone.
    assert!(host.queue().await.is_empty());

    let (status, body) = host
        .call(
            "POST",
            &format!("/api/conversations/{conversation}/messages"),
            Some(&ann),
            Some(json!({"text": "Your order ships today"})),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("opted out")),
        "{body}"
    );
    assert_eq!(unsubscribed(&sent_texts(&mock)), 1);
    assert!(!sent_texts(&mock).iter().any(|t| t.contains("ships today")));

    // START: confirmed, and replies go out again.
    sms(&host, "SMopt4", "start").await;
    assert!(
        eventually(Duration::from_secs(20), || sent_texts(&mock)
            .iter()
            .any(|t| t.contains("resubscribed")))
        .await
    );
    reply(&host, &ann, &conversation, "Your order ships today").await;
    assert!(
        eventually(Duration::from_secs(20), || sent_texts(&mock)
            .iter()
            .any(|t| t.contains("ships today")))
        .await
    );
    assert_eq!(unsubscribed(&sent_texts(&mock)), 1);

    // Her subject access export holds all of it: the profile with its
    // consent, every message, the task with its agent.
    let id = host.customer_id("phone:+16505551234").await;
    let export = host
        .admin_json(&format!("/api/customers/{id}/export"))
        .await;
    assert_eq!(export["customer"]["id"], id.as_str());
    assert_eq!(export["customer"]["consent"]["sms"]["status"], "opted_in");
    let texts: Vec<&str> = export["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["messages"].as_array().unwrap())
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    for text in [
        "Where is order 4821?",
        "Stop",
        "start",
        "Your order ships today",
    ] {
        assert!(texts.contains(&text), "{text} missing from {texts:?}");
    }
    assert_eq!(export["tasks"][0]["agent_id"], "ann", "{export}");
    // Only an admin exports.
    let (status, _) = host
        .call(
            "GET",
            &format!("/api/customers/{id}/export"),
            Some(&ann),
            None,
        )
        .await;
    assert_eq!(status, 403);
    host.stop().await;
}

#[tokio::test]
async fn privileged_actions_leave_one_audit_entry_each_and_agents_cannot_read_it() {
    let mock = MockServer::start().await;
    let host = TestHost::with_phone_channels(&mock).await;
    sms(&host, "SMaud1", "Hello there").await;
    let customer = host.customer_id("phone:+16505551234").await;
    // The admin creates a supervisor and an agent, and rotates a token.
    let sue = host
        .agent("sue", json!({"name": "Sue", "role": "supervisor"}))
        .await;
    let ana = host.agent("ana", json!({"name": "Ana"})).await;
    let (status, _) = host
        .call("POST", "/api/agents/ana/token", Some(ADMIN_TOKEN), None)
        .await;
    assert_eq!(status, 200);
    // The supervisor forces Bob's status and reads the customer's data.
    let bob = host.agent("bob", json!({"name": "Bob"})).await;
    host.set_status("bob", &bob, "available").await;
    let (status, body) = host
        .call(
            "POST",
            "/api/agents/bob/status",
            Some(&sue),
            Some(json!({"status": "away"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = host
        .call(
            "GET",
            &format!("/api/customers/{customer}"),
            Some(&sue),
            None,
        )
        .await;
    assert_eq!(status, 200);
    // The admin disables a plugin.
    let (status, _) = host
        .call(
            "POST",
            "/api/plugins/voice/disable",
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(status, 200);

    let audit = host.admin_json("/api/audit").await;
    let entries = audit.as_array().unwrap();
    let find = |action: &str, actor: &str, target: &str| -> Vec<&Value> {
        entries
            .iter()
            .filter(|e| {
                e["action"] == action
                    && e["actor"] == actor
                    && e["targets"]
                        .as_array()
                        .is_some_and(|t| t.contains(&json!(target)))
            })
            .collect()
    };
    for (action, actor, target) in [
        ("PUT /api/agents/{id}", "admin", "sue"),
        ("PUT /api/agents/{id}", "admin", "ana"),
        ("POST /api/agents/{id}/token", "admin", "ana"),
        ("POST /api/agents/{id}/status", "sue", "bob"),
        ("GET /api/customers/{id}", "sue", customer.as_str()),
        ("POST /api/plugins/{name}/disable", "admin", "voice"),
    ] {
        let found = find(action, actor, target);
        assert_eq!(found.len(), 1, "{action} by {actor} on {target}: {audit}");
        assert_eq!(found[0]["address"], "127.0.0.1", "{}", found[0]);
        assert!(found[0]["role"].is_string());
        assert!(found[0]["at"].as_u64().is_some());
    }
    // Changes say what was before and after; reads do not.
    let forced = find("POST /api/agents/{id}/status", "sue", "bob")[0];
    assert_eq!(forced["before"], json!({"status": "available"}), "{forced}");
    assert_eq!(forced["after"], json!({"status": "away"}), "{forced}");
    let created = find("PUT /api/agents/{id}", "admin", "sue")[0];
    assert_eq!(created["before"], Value::Null, "{created}");
    assert_eq!(created["after"]["name"], "Sue", "{created}");
    let disabled = find("POST /api/plugins/{name}/disable", "admin", "voice")[0];
    assert_eq!(
        disabled["before"],
        json!({"status": "active"}),
        "{disabled}"
    );
    assert_eq!(
        disabled["after"],
        json!({"status": "disabled"}),
        "{disabled}"
    );
    let read = find("GET /api/customers/{id}", "sue", customer.as_str())[0];
    assert!(
        read.get("before").is_none() && read.get("after").is_none(),
        "{read}"
    );
    // Bob setting his own status is his work, not a privileged action.
    assert!(find("POST /api/agents/{id}/status", "bob", "bob").is_empty());
    assert_eq!(
        entries
            .iter()
            .filter(|e| e["action"] == "host.start")
            .count(),
        1
    );

    // Filters, paging and CSV.
    let by_sue = host.admin_json("/api/audit?actor=sue").await;
    assert_eq!(by_sue.as_array().unwrap().len(), 2, "{by_sue}");
    let about = host
        .admin_json(&format!("/api/audit?target={customer}"))
        .await;
    assert_eq!(about.as_array().unwrap().len(), 1, "{about}");
    let first = host.admin_json("/api/audit?limit=1").await;
    let after = first[0]["id"].as_str().unwrap();
    let rest = host.admin_json(&format!("/api/audit?after={after}")).await;
    assert_eq!(rest.as_array().unwrap().len(), entries.len() - 1);
    let csv = host
        .client
        .get(host.url("/api/audit?actor=sue"))
        .bearer_auth(ADMIN_TOKEN)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = csv.text().await.unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(csv.starts_with("id,at,action,actor,role,targets,address,status,reason,before,after"));

    // Agents and supervisors cannot read it (Ana's old token was rotated
    // away: refused outright).
    let (status, _) = host.call("GET", "/api/audit", Some(&ana), None).await;
    assert_eq!(status, 401);
    for token in [&bob, &sue] {
        let (status, _) = host.call("GET", "/api/audit", Some(token), None).await;
        assert_eq!(status, 403);
    }
    host.stop().await;
}

#[tokio::test]
async fn retention_erases_old_text_and_keeps_counts() {
    let mock = MockServer::start().await;
    let host = TestHost::with_channels(&mock, &[SMS], |config| {
        config
            .retention
            .kinds
            .insert(switchboard::kind::Kind::Messaging, 1);
        config.retention.allow_as_of = true;
        config.retention.max_per_pass = 2;
        config.http.public_url = Some(PUBLIC.into());
    })
    .await;
    // Twilio refuses the reply: a failed delivery, kept dead-lettered.
    mock.respond_with(
        400,
        r#"{"code": 21211, "message": "Invalid 'To' Phone Number"}"#,
    );
    let (_, _, conversation) = served(
        &host,
        ["My address is 12 Elm Street", "And my phone is 555-0100"],
        "Noted, thank you",
    )
    .await;
    assert_eq!(file_link_status(&host, &conversation).await, 200);
    host.admin_json_until("/api/outbox", "the reply dead-lettered", |o| {
        o["dead_letters"].as_array().is_some_and(|d| d.len() == 1)
    })
    .await;
    let stats = host.admin_json("/api/stats").await;

    // Today nothing is due.
    let (status, pass) = host
        .call(
            "POST",
            "/api/retention/run",
            Some(ADMIN_TOKEN),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200, "{pass}");
    assert_eq!(pass["last_pass_erased"], 0, "{pass}");

    // Two days on (the clock moved forward by the test hook): the passes
    // go round the history two messages at a time, erasing every text.
    let later = switchboard_tests::now_ms() + 2 * 86_400_000;
    for _ in 0..3 {
        let (status, pass) = host
            .call(
                "POST",
                "/api/retention/run",
                Some(ADMIN_TOKEN),
                Some(json!({"as_of": later})),
            )
            .await;
        assert_eq!(status, 200, "{pass}");
    }
    let view = host.conversation(&conversation).await;
    let messages = view["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 3, "the stubs stay: {view}");
    for m in messages {
        assert_eq!(m["text"], "", "{m}");
        assert!(m["erased_at"].as_u64().is_some(), "{m}");
        assert!(m["metadata"].is_null() || m["metadata"] == json!({}), "{m}");
    }
    assert_eq!(messages[2]["direction"], "outbound");
    // The file Ann sent went with her message: no link to it, and no copy
    // of it on disk.
    assert_eq!(messages[2]["attachments"][0]["url"], Value::Null, "{view}");
    let found = holding(host.dir.path(), ANNS_FILE);
    assert!(found.is_empty(), "Ann's file is still in {found:?}");
    let status = host.admin_json("/api/retention").await;
    assert_eq!(status["erased"], 3, "{status}");
    // The record of the failed delivery went too.
    assert_eq!(status["records_removed"], 1, "{status}");
    let outbox = host.admin_json("/api/outbox").await;
    assert_eq!(outbox["dead_letters"], json!([]), "{outbox}");
    // Counts and statistics are what they were.
    assert_eq!(host.admin_json("/api/stats").await, stats);
    // Every pass is audited (the sweep's own first pass at start too).
    let passes = host.admin_json("/api/audit?action=retention.pass").await;
    let passes = passes.as_array().unwrap();
    assert!(passes.len() >= 4, "{passes:?}");
    assert!(
        passes
            .iter()
            .any(|p| p["reason"].as_str().unwrap().contains("erased 2")),
        "{passes:?}"
    );
    host.stop().await;
}

#[tokio::test]
async fn audit_entries_have_a_retention_of_their_own() {
    let host = TestHost::start(|config| {
        config.retention.audit_days = Some(30);
        config.retention.allow_as_of = true;
    })
    .await;
    let run = async |as_of: u64| {
        let (status, pass) = host
            .call(
                "POST",
                "/api/retention/run",
                Some(ADMIN_TOKEN),
                Some(json!({ "as_of": as_of })),
            )
            .await;
        assert_eq!(status, 200, "{pass}");
        pass
    };
    // Within the 30 days, nothing goes.
    let now = switchboard_tests::now_ms();
    let pass = run(now + 29 * 86_400_000).await;
    assert_eq!(pass["audit_removed"], 0, "{pass}");
    let started = host.admin_json("/api/audit?action=host.start").await;
    assert_eq!(started.as_array().unwrap().len(), 1, "{started}");
    // Past them, the old entries go — and the pass that removed them says
    // so in an entry of its own.
    let pass = run(now + 31 * 86_400_000).await;
    assert!(pass["audit_removed"].as_u64().unwrap() >= 2, "{pass}");
    let started = host.admin_json("/api/audit?action=host.start").await;
    assert_eq!(started, json!([]));
    let passes = host.admin_json("/api/audit?action=retention.pass").await;
    let passes = passes.as_array().unwrap();
    assert!(
        passes.iter().any(|p| {
            let reason = p["reason"].as_str().unwrap();
            reason.contains("audit entries") && !reason.contains(" 0 audit entries")
        }),
        "{passes:?}"
    );
    host.stop().await;
}

/// Every file under `dir`, recursively.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The files under `dir` holding `needle`.
fn holding(dir: &std::path::Path, needle: &str) -> Vec<std::path::PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|f| {
            std::fs::read(f)
                .is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
        })
        .collect()
}

#[tokio::test]
async fn erasure_leaves_no_byte_of_her_messages_on_disk_and_her_id_answers_410() {
    let mock = MockServer::start().await;
    let host = TestHost::with_channels(&mock, &[SMS], |config| {
        config.http.public_url = Some(PUBLIC.into());
    })
    .await;
    let (ann, task, conversation) = served(
        &host,
        ["order zq7xk4 never came", "my door code is pw93jd"],
        "Sorry about ht61qs, refunding",
    )
    .await;
    let id = host.customer_id("phone:+16505551234").await;
    assert_eq!(file_link_status(&host, &conversation).await, 200);

    // Only the admin erases.
    let (status, _) = host
        .call("DELETE", &format!("/api/customers/{id}"), Some(&ann), None)
        .await;
    assert_eq!(status, 403);
    let (status, erased) = host.erase_customer(&id).await;
    assert_eq!(status, 200, "{erased}");
    assert_eq!(erased["customers"], json!([id.as_str()]));
    assert_eq!(erased["messages"], 3, "{erased}");
    for path in [
        format!("/api/customers/{id}"),
        format!("/api/customers/{id}/export"),
    ] {
        let (status, body) = host.call("GET", &path, Some(ADMIN_TOKEN), None).await;
        assert_eq!(status, 410, "{path}: {body}");
    }
    let (status, _) = host.erase_customer(&id).await;
    assert_eq!(status, 410);
    // Her task still counts, without her.
    let (_, task) = host
        .call(
            "GET",
            &format!("/api/tasks/{}", task["id"].as_str().unwrap()),
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(task["customer_id"], "erased", "{task}");

    // After a restart the database has been rewritten: no file under the
    // data directory holds a byte of what she or the agent wrote.
    let host = host.restart().await;
    for needle in ["zq7xk4", "pw93jd", "ht61qs", "+16505551234", ANNS_FILE] {
        let found = holding(host.dir.path(), needle);
        assert!(found.is_empty(), "{needle} is still in {found:?}");
    }
    let audit = host.admin_json("/api/audit?action=customer.erase").await;
    assert_eq!(audit[0]["targets"], json!([id.as_str()]), "{audit}");
    let (status, _) = host
        .call(
            "GET",
            &format!("/api/customers/{id}"),
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(status, 410);

    // She writes again: a fresh profile, with nothing of the old one.
    sms(&host, "SMerase3", "hello again").await;
    let again = host.customer_id("phone:+16505551234").await;
    assert_ne!(again, id);
    assert_eq!(host.timeline(&again).await.len(), 1);
    host.stop().await;
}

#[tokio::test]
async fn erasing_a_web_chat_visitor_leaves_nothing_in_the_channel_s_own_store() {
    let host = TestHost::with_webchat("https://shop.example.com").await;
    let said = "my locker code is lk38tq";
    let (status, body) = host
        .post_webhook(
            "/webhooks/webchat",
            "application/json",
            &[],
            serde_json::to_vec(&json!({"session_id": "wc-erase", "text": said})).unwrap(),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (ann, task) = take_task(&host, "ann", json!({})).await;
    let conversation = task["conversation_id"].as_str().unwrap().to_string();
    let answer = "Locker ph27vx is yours";
    reply(&host, &ann, &conversation, answer).await;
    // The web chat keeps the reply for the visitor's widget to read.
    host.admin_json_until(
        &format!("/api/conversations/{conversation}"),
        "the reply delivered to the web chat",
        |c| {
            c["messages"].as_array().is_some_and(|m| {
                m.iter()
                    .any(|m| m["direction"] == "outbound" && m["status"] != "queued")
            })
        },
    )
    .await;
    host.complete_task(&ann, task["id"].as_str().unwrap(), None)
        .await;

    let id = host.customer_id("handle:webchat:wc-erase").await;
    let (status, erased) = host.erase_customer(&id).await;
    assert_eq!(status, 200, "{erased}");
    let host = host.restart().await;
    for needle in ["lk38tq", "ph27vx"] {
        let found = holding(host.dir.path(), needle);
        assert!(found.is_empty(), "{needle} is still in {found:?}");
    }
    host.stop().await;
}
