//! The web UI in a real browser: headless Chromium (Debian's `chromium`)
//! driven by Playwright (`tests/browser/run.mjs`) against a host on loopback
//! whose channels talk to a mock provider.
//!
//! This side starts the host, seeds what the scenarios need with real signed
//! webhooks (Sheena's earlier SMS, email and web chat, which merges her
//! phone and email profiles, all handled by another agent), creates the
//! agent, a colleague to transfer to, the supervisor, canned responses and
//! two plugin bundles, runs the script, and then checks what the browser
//! did from the provider's and the store's side.
//! Screenshots go to `target/browser-artifacts/`.
//!
//! Needs `/usr/bin/chromium` and `npm ci --prefix tests/browser`; `.ci/run`
//! installs both and runs
//! `cargo test --test e2e browser:: -- --ignored --nocapture`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchboard_tests::channels::{
    fixture, mailgun_signed, post_twilio, secrets, vouched_webchat_fixture,
};
use switchboard_tests::presets::{EMAIL, SMS, VOICE, VOUCHING_WEBCHAT, WHATSAPP};
use switchboard_tests::{
    ADMIN_TOKEN, MockServer, TestHost, eventually, first_party_manifest, install, wasm,
};

const PUBLIC: &str = secrets::PUBLIC_BASE_URL;
const WA_SECRET: &str = secrets::WA_APP_SECRET;
const WA_TOKEN: &str = secrets::WA_ACCESS_TOKEN;
/// The business number Sheena writes to on WhatsApp (`whatsapp/text.json`).
const WA_PHONE_NUMBER_ID: &str = "106540352242922";
/// The provider id the mock gives the agent's WhatsApp reply.
const WA_REPLY_ID: &str = "wamid.BROWSERREPLY0001";
const MAILGUN_KEY: &str = secrets::MAILGUN_SIGNING_KEY;

const AGENT: &str = "ana";
const AGENT_NAME: &str = "Ana Lima";
/// Who Ana transfers a conversation to.
const COLLEAGUE: &str = "bob";
const SUPERVISOR: &str = "sue";
const SEEDER: &str = "sam";
const GOOD_PLUGIN: &str = "uploaded-router";
const BROKEN_PLUGIN: &str = "broken-router";

/// How long the whole browser run may take.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(600);

/// Short enough for the offer scenario to watch one lapse, long enough for
/// the others to accept theirs on a slow machine.
const RESERVATION_TIMEOUT_MS: u64 = 10_000;

/// Sheena's photo as the (mock) Graph API serves it: an SVG, since the mock
/// answers text.
const PHOTO_SVG: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" width="120" height="80"><rect width="120" height="80" fill="#c8a46e"/><path d="M10 70 L60 20 L110 70" stroke="#5a3d1e" stroke-width="6" fill="none"/></svg>"##;

async fn post_ok(
    host: &TestHost,
    path: &str,
    content_type: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
) {
    let (status, text) = host.post_webhook(path, content_type, headers, body).await;
    assert_eq!(status, 200, "POST {path}: {text}");
}

/// Sheena's SMS, email and web chat (whose pre-chat form links her phone
/// and email, merging the two profiles), each handled and completed by
/// another agent who then signs off. Returns her customer id.
async fn seed_history(host: &TestHost) -> String {
    let (status, text) = post_twilio(host, "sms", &fixture("sms/inbound.form")).await;
    assert_eq!(status, 200, "POST /webhooks/sms: {text}");
    post_ok(
        host,
        "/webhooks/email",
        "application/x-www-form-urlencoded",
        &[],
        mailgun_signed(MAILGUN_KEY, &fixture("email/inbound.form")),
    )
    .await;
    // Signed in on the shop, which vouches for her.
    post_ok(
        host,
        "/webhooks/webchat",
        "application/json",
        &[],
        vouched_webchat_fixture(),
    )
    .await;

    let sam = host
        .agent(
            SEEDER,
            json!({"name": "Sam Seed", "capacity": {"voice": 0, "chat": 2, "messaging": 3, "email": 5}}),
        )
        .await;
    host.set_status(SEEDER, &sam, "available").await;
    let tasks = host
        .wait_tasks(SEEDER, &sam, |t| {
            t.iter().filter(|t| t["state"] == "reserved").count() == 3
        })
        .await;
    for task in &tasks {
        let id = task["id"].as_str().unwrap();
        host.accept_task(&sam, id).await;
        host.complete_task(&sam, id, Some(json!({"disposition": "seeded"})))
            .await;
    }
    host.set_status(SEEDER, &sam, "offline").await;
    assert!(host.queue().await.is_empty(), "nothing left waiting");

    let by_phone = host.customer_id("phone:+16505551234").await;
    let by_email = host.customer_id("email:sheena.nelson@example.com").await;
    assert_eq!(by_phone, by_email, "the web chat merged her profiles");
    by_phone
}

/// The text of the first timeline entry on `channel`.
fn timeline_text(timeline: &[Value], channel: &str) -> String {
    timeline
        .iter()
        .find(|e| e["channel"] == channel)
        .and_then(|e| e["text"].as_str())
        .unwrap_or_else(|| panic!("no {channel} entry in {timeline:#?}"))
        .to_string()
}

/// Two bundles for the admin's upload: a working router (`least-busy`
/// renamed) and one whose manifest is fine but whose wasm is garbage.
fn bundles(dir: &Path) -> (PathBuf, PathBuf) {
    let good = dir.join("good");
    std::fs::create_dir_all(&good).unwrap();
    let manifest = first_party_manifest("least-busy").replace(
        "name = \"least-busy\"",
        &format!("name = \"{GOOD_PLUGIN}\""),
    );
    assert!(manifest.contains(GOOD_PLUGIN), "{manifest}");
    std::fs::write(good.join("plugin.toml"), manifest).unwrap();
    std::fs::copy(wasm("least-busy"), good.join("plugin.wasm")).unwrap();

    let broken = dir.join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(
        broken.join("plugin.toml"),
        format!(
            "name = \"{BROKEN_PLUGIN}\"\nversion = \"1.0.0\"\nkind = \"router\"\napi = \"0.4\"\n\
             description = \"not a component\"\n\n[capabilities]\nkv = false\ncustomers = \"none\"\n"
        ),
    )
    .unwrap();
    std::fs::write(
        broken.join("plugin.wasm"),
        b"\0asm this is not a WebAssembly component at all",
    )
    .unwrap();
    (good, broken)
}

/// Runs `node tests/browser/run.mjs` with `vars`, inheriting its output;
/// panics if it fails or outlives [`SCRIPT_TIMEOUT`].
async fn run_script(browser_dir: &Path, vars: Vec<(&'static str, String)>) {
    let mut child = Command::new("node")
        .arg(browser_dir.join("run.mjs"))
        .current_dir(browser_dir)
        .envs(vars)
        .stdin(Stdio::null())
        .spawn()
        .expect("node runs (Node.js 20 or later on PATH)");
    let status = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + SCRIPT_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return Ok(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    })
    .await
    .unwrap();
    match status {
        Ok(status) => assert!(
            status.success(),
            "the browser scenarios failed ({status}); see the log above and the screenshots"
        ),
        Err(()) => panic!("the browser script ran longer than {SCRIPT_TIMEOUT:?} and was killed"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium and tests/browser/node_modules; run by .ci/run"]
async fn web_ui_in_headless_chromium() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let browser_dir = root.join("browser");
    assert!(
        browser_dir.join("node_modules/playwright-core").is_dir(),
        "run `npm ci --prefix tests/browser` first"
    );
    let chromium = std::env::var("CHROMIUM_PATH").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "{chromium} is missing: apt-get install -y --no-install-recommends chromium"
    );
    let artifacts = root.join("../target/browser-artifacts");
    let _ = std::fs::remove_dir_all(&artifacts);
    std::fs::create_dir_all(&artifacts).unwrap();
    let artifacts = artifacts.canonicalize().unwrap();

    let mock = MockServer::start().await;
    let host = TestHost::with_channels(
        &mock,
        &[WHATSAPP, SMS, VOICE, EMAIL, VOUCHING_WEBCHAT],
        |config| {
            config.routing.reservation_timeout_ms = RESERVATION_TIMEOUT_MS;
            config.floor.labels = vec!["refund".into(), "damaged".into(), "vip".into()];
            // WhatsApp fetches the files agents send by link.
            config.http.public_url = Some(PUBLIC.into());
            // A calendar open round the clock, for the dashboard to show.
            let mut always = switchboard::config::CalendarConfig {
                time_zone: "Europe/Berlin".into(),
                ..Default::default()
            };
            for day in ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] {
                always.weekly.insert(day.into(), vec!["00:00-24:00".into()]);
            }
            config.hours.calendars.insert("support".into(), always);
            config
                .hours
                .kinds
                .insert(switchboard::kind::Kind::Email, "support".into());
            // Conversations agents start by SMS go from this number.
            config
                .plugins
                .entry("sms".into())
                .or_default()
                .config
                .insert("from_number".into(), "+14155550100".into());
            // A template the desktop offers for WhatsApp.
            switchboard_tests::presets::whatsapp_order_template(config);
            // The web chat asks a CSAT survey the widget shows as a rating.
            config.surveys.insert(
                "webchat".into(),
                switchboard::config::SurveyConfig {
                    kind: switchboard::conversations::SurveyKind::Csat,
                    question: None,
                    thanks: "Thank you for your feedback!".into(),
                    expire_after_ms: 3_600_000,
                },
            );
        },
    )
    .await;
    // Installed as a fresh install seeds it: nobody configured it.
    install(
        &host.plugins_dir(),
        "rest-crm",
        &first_party_manifest("rest-crm"),
        &wasm("rest-crm"),
    );
    let sheena = seed_history(&host).await;
    // What a CRM would have told us: a tier, and a date as unix ms (the
    // profile panel shows it as a date).
    host.set_attributes(
        &sheena,
        json!({"tier": "gold", "last_order_at": "1764547200000"}),
    )
    .await;
    let timeline = host.timeline(&sheena).await;
    let sms_text = timeline_text(&timeline, "sms");
    let email_text = timeline_text(&timeline, "email");

    // The agent takes messaging, chat and email but no calls, and neither
    // does the supervisor (who may take tasks too), so a call stays queued.
    let agent_token = host
        .agent(
            AGENT,
            json!({"name": AGENT_NAME, "languages": ["en"],
                   "capacity": {"voice": 0, "chat": 2, "messaging": 3, "email": 5}}),
        )
        .await;
    let colleague_token = host
        .agent(
            COLLEAGUE,
            json!({"name": "Bob Reyes", "skills": {"billing": 3}, "capacity": {"voice": 0}}),
        )
        .await;
    let supervisor_token = host
        .agent(
            SUPERVISOR,
            json!({"name": "Sue Park", "role": "supervisor", "capacity": {"voice": 0}}),
        )
        .await;
    for canned in [
        json!({"shortcut": "refund", "title": "Refund on its way",
               "text": "Hi {{customer.first_name}}, this is {{agent.name}}: your refund for order 4821 is on its way."}),
        json!({"shortcut": "receipt", "title": "Receipt by email",
               "text": "I have sent the receipt to {{customer.email}}."}),
    ] {
        let (status, body) = host
            .call(
                "POST",
                "/api/canned-responses",
                Some(ADMIN_TOKEN),
                Some(canned),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let bundle_dir = tempfile::tempdir().unwrap();
    let (good, broken) = bundles(bundle_dir.path());

    // The mock answers in order: the agent's WhatsApp reply and her reply
    // with a (masked) card number, then the two requests that download
    // Sheena's photo (the media id's URL, the file) in the floor scenario.
    // Anything later gets `{"ok":true}`.
    mock.respond_with(200, &json!({"messages": [{"id": WA_REPLY_ID}]}).to_string());
    mock.respond_with(
        200,
        &json!({"messages": [{"id": "wamid.MASKED"}]}).to_string(),
    );
    mock.respond_with(
        200,
        &json!({"url": format!("{}/media/1003383421387256/download", mock.url()),
                "mime_type": "image/svg+xml", "id": "1003383421387256"})
        .to_string(),
    );
    mock.respond_with(200, PHOTO_SVG);

    let path = |p: &Path| p.display().to_string();
    run_script(
        &browser_dir,
        vec![
            ("BASE_URL", host.url("")),
            ("MOCK_URL", mock.url()),
            ("ADMIN_TOKEN", ADMIN_TOKEN.into()),
            ("AGENT_ID", AGENT.into()),
            ("AGENT_NAME", AGENT_NAME.into()),
            ("AGENT_TOKEN", agent_token.clone()),
            ("SUPERVISOR_ID", SUPERVISOR.into()),
            ("SUPERVISOR_TOKEN", supervisor_token),
            ("COLLEAGUE_ID", COLLEAGUE.into()),
            ("COLLEAGUE_TOKEN", colleague_token),
            ("RESERVATION_TIMEOUT_MS", RESERVATION_TIMEOUT_MS.to_string()),
            ("WA_APP_SECRET", WA_SECRET.into()),
            ("WA_REPLY_ID", WA_REPLY_ID.into()),
            ("TWILIO_AUTH_TOKEN", secrets::TWILIO_AUTH_TOKEN.into()),
            ("PUBLIC_BASE_URL", PUBLIC.into()),
            ("HISTORY_SMS_TEXT", sms_text),
            ("HISTORY_EMAIL_TEXT", email_text),
            ("GOOD_BUNDLE_DIR", path(&good)),
            ("GOOD_PLUGIN_NAME", GOOD_PLUGIN.into()),
            ("BROKEN_BUNDLE_DIR", path(&broken)),
            ("BROKEN_PLUGIN_NAME", BROKEN_PLUGIN.into()),
            ("ARTIFACTS_DIR", path(&artifacts)),
            ("CHROMIUM_PATH", chromium),
        ],
    )
    .await;

    let result: Value = serde_json::from_slice(
        &std::fs::read(artifacts.join("browser-result.json")).expect("the script wrote its result"),
    )
    .unwrap();
    let task_id = result["task_id"].as_str().expect("task_id").to_string();
    let reply_text = result["reply_text"]
        .as_str()
        .expect("reply_text")
        .to_string();

    // The provider got the reply typed in the browser: the Cloud API's
    // messages endpoint of the number she wrote to, the bearer token, the text.
    let sent_path = format!("/{WA_PHONE_NUMBER_ID}/messages");
    assert!(
        eventually(Duration::from_secs(10), || mock
            .requests()
            .iter()
            .any(|r| r.uri == sent_path))
        .await,
        "the mock provider never got the reply; it got {:?}",
        mock.requests()
    );
    let sent = mock
        .requests()
        .into_iter()
        .find(|r| r.uri == sent_path)
        .unwrap();
    assert_eq!(sent.method, "POST");
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Bearer {WA_TOKEN}").as_str())
    );
    let body: Value = serde_json::from_slice(&sent.body).unwrap();
    assert_eq!(body["to"], "16505551234", "{body}");
    assert_eq!(body["text"]["body"], reply_text.as_str(), "{body}");
    let sent_bodies: Vec<Value> = mock
        .requests()
        .iter()
        .filter(|r| r.uri == sent_path)
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(
        sent_bodies
            .iter()
            .filter(|b| b["text"]["body"] == reply_text.as_str())
            .count(),
        1,
        "sent once"
    );

    // The floor scenario's reply went as a document by link, the edited
    // canned response as its caption.
    let document = sent_bodies
        .iter()
        .find(|b| b["type"] == "document")
        .unwrap_or_else(|| panic!("no document was sent; the provider got {sent_bodies:#?}"));
    assert_eq!(
        document["document"]["filename"], result["floor_file_name"],
        "{document}"
    );
    assert_eq!(
        document["document"]["caption"], result["floor_reply_text"],
        "{document}"
    );
    assert!(
        document["document"]["link"]
            .as_str()
            .is_some_and(|l| l.starts_with(&format!("{PUBLIC}/files/"))),
        "{document}"
    );

    // The store agrees with what the browser showed.
    let (status, task) = host
        .call(
            "GET",
            &format!("/api/tasks/{task_id}"),
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(status, 200, "{task}");
    assert_eq!(task["state"], "completed", "{task}");
    assert_eq!(task["agent_id"], AGENT, "{task}");
    assert_eq!(task["channel"], "whatsapp", "{task}");
    assert_eq!(task["customer_id"], sheena.as_str(), "{task}");
    assert_eq!(task["disposition"], result["disposition"], "{task}");
    let conversation = host
        .conversation(result["conversation_id"].as_str().unwrap())
        .await;
    let messages = conversation["messages"].as_array().unwrap();
    let texts: Vec<&str> = messages
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        [
            result["inbound_text"].as_str().unwrap(),
            reply_text.as_str(),
            "Card [CARD] noted, thanks",
            result["meanwhile_text"].as_str().unwrap(),
        ],
        "{conversation}"
    );
    assert_eq!(messages[1]["status"], "delivered", "{conversation}");

    // Ana transferred the floor scenario's task to Bob with a note; he
    // completed it. Her label and notes stay with the conversation.
    let floor_task_id = result["floor_task_id"].as_str().expect("floor_task_id");
    let (status, floor_task) = host
        .call(
            "GET",
            &format!("/api/tasks/{floor_task_id}"),
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(status, 200, "{floor_task}");
    assert_eq!(floor_task["state"], "completed", "{floor_task}");
    assert_eq!(floor_task["agent_id"], COLLEAGUE, "{floor_task}");
    assert_eq!(floor_task["disposition"], "refunded", "{floor_task}");
    let hop = floor_task["history"]
        .as_array()
        .and_then(|h| h.iter().find(|e| e["action"] == "transferred"))
        .unwrap_or_else(|| panic!("no transfer in the history: {floor_task}"));
    assert_eq!(hop["by"], AGENT, "{hop}");
    assert_eq!(hop["from_agent"], AGENT, "{hop}");
    assert_eq!(hop["to_agent"], COLLEAGUE, "{hop}");
    assert_eq!(hop["note"], result["floor_transfer_note"], "{hop}");
    let floor_conversation = host
        .conversation(result["floor_conversation_id"].as_str().unwrap())
        .await;
    assert_eq!(
        floor_conversation["labels"],
        json!(["refund"]),
        "{floor_conversation}"
    );
    let notes = floor_conversation["notes"].as_array().unwrap();
    assert!(
        notes
            .iter()
            .any(|n| n["text"] == result["floor_note"] && n["author"] == AGENT),
        "{floor_conversation}"
    );
    assert!(
        notes.iter().any(
            |n| n["text"] == result["floor_transfer_note"] && n["transfer_of"] == floor_task_id
        ),
        "{floor_conversation}"
    );

    let stats = host.admin_json("/api/stats").await;
    let voice = &stats["channels"]["voice"];
    assert_eq!(voice["waiting"], 0, "{stats}");
    assert_eq!(voice["abandoned"], 1, "{stats}");
    // Her SMS, the agent scenario's WhatsApp and the floor scenario's.
    assert_eq!(stats["channels"]["messaging"]["handled"], 3, "{stats}");

    assert_eq!(host.plugin(GOOD_PLUGIN).await["status"], "active");
    let broken = host.plugin(BROKEN_PLUGIN).await;
    assert!(broken.is_null() || broken["status"] != "active", "{broken}");
    assert!(
        result["broken_upload_error"]
            .as_str()
            .is_some_and(|e| !e.is_empty()),
        "{result}"
    );

    for screen in [
        "agent-desktop",
        "agent-offer",
        "agent-conversation",
        "agent-reply",
        "agent-wrapup",
        "dashboard",
        "dashboard-call-waiting",
        "dashboard-call-abandoned",
        "admin",
        "admin-uploaded",
        "admin-upload-refused",
        "signin-wrong-token",
        "agent-no-admin",
        "signin",
        "floor-canned",
        "floor-conversation",
        "floor-transfer-refused",
        "floor-transferred",
        "offer-notified",
        "offer-missed",
    ] {
        let shot = artifacts.join(format!("{screen}.png"));
        assert!(
            std::fs::metadata(&shot).is_ok_and(|m| m.len() > 0),
            "screenshot {} was not written",
            shot.display()
        );
    }
}
